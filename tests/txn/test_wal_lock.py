"""One process at a time per WAL directory, and a clear message naming who holds it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from txn_fakes import MemoryProvider, op

from dpn_action.txn import LockTimeoutError, TxnStatus, apply
from dpn_action.txn.lock import HOLDER_NAME, WalLock, read_holder


def test_second_holder_gives_up_naming_the_first(tmp_path: Path) -> None:
    with WalLock(tmp_path, purpose="apply") as first:
        first.set_txn("20250101T000000000000Z-cafebabe")
        holder = read_holder(tmp_path)
        assert holder is not None and holder["pid"] == os.getpid()
        with pytest.raises(LockTimeoutError) as info:
            WalLock(tmp_path, timeout=0.05).acquire()
    message = str(info.value)
    assert f"process {os.getpid()} on host {socket.gethostname()}" in message
    assert "transaction 20250101T000000000000Z-cafebabe" in message
    assert "running apply since" in message
    assert str(tmp_path / ".lock") in message


def test_releasing_removes_the_holder_note_and_frees_the_lock(tmp_path: Path) -> None:
    with WalLock(tmp_path):
        assert (tmp_path / HOLDER_NAME).exists()
    assert not (tmp_path / HOLDER_NAME).exists()
    with WalLock(tmp_path, timeout=0.05):
        pass


def test_apply_waits_for_the_lock_and_creates_nothing_when_it_gives_up(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    with WalLock(tmp_path, purpose="recover"), pytest.raises(LockTimeoutError, match="recover"):
        apply([op("a")], {"fake": cloud}, wal_dir=tmp_path, lock_timeout=0.05)
    assert cloud.names() == set()
    assert apply([op("a")], {"fake": cloud}, wal_dir=tmp_path).status is TxnStatus.COMMITTED
