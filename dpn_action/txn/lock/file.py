"""One dpn process at a time per WAL directory.

The lock is an OS file lock (`filelock`) on `<wal dir>/.lock`: the OS releases it when the
holder dies, so a crashed run never leaves a stale lock. Next to it, `.lock.holder` says who
holds it (pid, host, start time, transaction), so a process that gives up waiting can name the
holder instead of saying only "locked".
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import filelock

from dpn_action.txn.errors import LockTimeoutError
from dpn_action.txn.wal import utc_now

LOCK_NAME = ".lock"
HOLDER_NAME = ".lock.holder"
DEFAULT_LOCK_TIMEOUT = 300.0


class WalLock:
    """Exclusive lock on a WAL directory; use as a context manager."""

    def __init__(
        self, wal_dir: Path, *, timeout: float = DEFAULT_LOCK_TIMEOUT, purpose: str = "apply"
    ) -> None:
        self.wal_dir = wal_dir
        self.timeout = timeout
        self.purpose = purpose
        self._lock = filelock.FileLock(str(wal_dir / LOCK_NAME))
        self._holder_path = wal_dir / HOLDER_NAME
        self._info: dict[str, Any] = {}

    def acquire(self) -> None:
        self.wal_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=self.timeout)
        except filelock.Timeout:
            raise LockTimeoutError(self._timeout_message()) from None
        self._info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": utc_now(),
            "purpose": self.purpose,
            "txn": None,
        }
        self._write_holder()

    def set_txn(self, txn_id: str | None) -> None:
        """Name the transaction the holder is working on, for anyone waiting."""
        self._info["txn"] = txn_id
        self._write_holder()

    def release(self) -> None:
        # The holder file goes first: once the lock is free a waiter writes its own.
        try:
            self._holder_path.unlink(missing_ok=True)
        finally:
            self._lock.release()

    def __enter__(self) -> WalLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def _write_holder(self) -> None:
        tmp = self._holder_path.with_name(f"{HOLDER_NAME}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self._info, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self._holder_path)  # readers see the old or the new file, never half

    def _timeout_message(self) -> str:
        where = self.wal_dir / LOCK_NAME
        holder = read_holder(self.wal_dir)
        if holder is None:
            who = "another dpn process (it has not written its details yet)"
        else:
            who = (
                f"dpn process {holder.get('pid')} on host {holder.get('host')}, "
                f"running {holder.get('purpose')} since {holder.get('started')}"
            )
            if holder.get("txn"):
                who += f", transaction {holder['txn']}"
        return (
            f"gave up after {self.timeout:g} s waiting for the WAL lock {where}: it is held by "
            f"{who}. Wait for it to finish; the lock frees itself if that process dies."
        )


def read_holder(wal_dir: Path) -> dict[str, Any] | None:
    """Who holds (or last held, if it died) the lock on `wal_dir`, if it said so."""
    try:
        data = json.loads((wal_dir / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
