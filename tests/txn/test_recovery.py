"""Recovery from logs a crash left behind, continue-rollback, and the status listing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from txn_fakes import MemoryProvider, op

from dpn_action.providers.base import MANAGED_BY_KEY, MANAGED_BY_VALUE, TXN_TAG_KEY, Operation
from dpn_action.txn import (
    KeyState,
    PlanError,
    TxnError,
    TxnStatus,
    WalCorruptError,
    apply,
    continue_rollback,
    recover,
    status,
)
from dpn_action.txn.log import TxnLog, op_to_json
from dpn_action.txn.wal import WalWriter, list_wal_files, new_txn_id, read_wal, wal_path

CHAIN = [op("a"), op("b", "a"), op("c", "b")]


def tags(txn: str) -> dict[str, str]:
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn}


def crashed_log(wal_dir: Path, ops: list[Operation], *records: tuple[str, dict[str, Any]]) -> str:
    """A WAL as a run killed after `records` would have left it."""
    txn = new_txn_id()
    begin = {"ops": [op_to_json(o) for o in ops], "max_parallel": 1, "pid": 1, "host": "ci"}
    with WalWriter.create(wal_dir, txn, begin) as writer:
        writer.append("preflight", {"absent": [o.key for o in ops], "adopted": {}, "conflicts": {}})
        for record_type, fields in records:
            writer.append(record_type, fields)
    return txn


def created(cloud: MemoryProvider, name: str, txn: str) -> dict[str, Any]:
    """Put `name` in the cloud as `txn` made it; return the record of it for a done entry."""
    cloud.seed(name, tags=tags(txn))
    (state,) = [s for s in cloud.resources() if s.name == name]
    return {
        "type_key": state.type_key,
        "name": name,
        "resource_id": state.resource_id,
        "tags": state.tags,
        "scope": {},
    }


def record_types(wal_dir: Path, txn: str) -> list[str]:
    return [r["type"] for r in read_wal(wal_path(wal_dir, txn)).records]


def test_intent_without_outcome_counts_as_created_when_the_cloud_has_it_with_our_tag(
    tmp_path: Path,
) -> None:
    cloud = MemoryProvider()
    txn = new_txn_id()
    # The log must carry the same id as the tag, so build it by hand around that id.
    begin = {"ops": [op_to_json(o) for o in CHAIN], "max_parallel": 1}
    with WalWriter.create(tmp_path, txn, begin) as writer:
        writer.append("intent", {"key": "a", "action": "create"})
    cloud.seed("a", tags=tags(txn))

    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)
    assert result.txn_id == txn
    assert result.status is TxnStatus.ROLLED_BACK
    assert result.created == ["a"] and result.rolled_back == ["a"]
    assert cloud.names() == set()
    assert record_types(tmp_path, txn)[1:] == [
        "intent",
        "recover",
        "resolved",
        "abort",
        "intent",
        "done",
        "end",
    ]


def test_intent_without_outcome_is_absent_when_the_cloud_does_not_have_it(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    txn = crashed_log(tmp_path, CHAIN, ("intent", {"key": "a", "action": "create"}))
    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLED_BACK
    assert result.created == []
    log = TxnLog.from_read(read_wal(wal_path(tmp_path, txn)))
    assert log.state("a") is KeyState.ABSENT


def test_in_doubt_resource_made_by_another_transaction_is_not_touched(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    crashed_log(tmp_path, CHAIN, ("intent", {"key": "a", "action": "create"}))
    cloud.seed("a", tags=tags("some-other-transaction"))
    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLED_BACK
    assert cloud.names() == {"a"}


def test_created_resources_are_deleted_children_first(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    txn = new_txn_id()
    records = []
    for name in ("a", "b"):
        records += [
            ("intent", {"key": name, "action": "create"}),
            ("done", {"key": name, "action": "create", "resource": created(cloud, name, txn)}),
        ]
    begin = {"ops": [op_to_json(o) for o in CHAIN]}
    with WalWriter.create(tmp_path, txn, begin) as writer:
        for record_type, fields in records:
            writer.append(record_type, fields)
    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLED_BACK
    deletes = [h[1] for h in cloud.history() if h[0] == "delete"]
    assert deletes == ["b", "a"]


def test_unreadable_in_doubt_resource_is_left_and_can_be_skipped(tmp_path: Path) -> None:
    cloud = MemoryProvider(fail_read={"a"})
    txn = crashed_log(tmp_path, CHAIN, ("intent", {"key": "a", "action": "create"}))
    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLBACK_FAILED
    (left,) = result.left
    assert left.key == "a" and left.state is KeyState.CREATING
    assert "in doubt" in left.reason

    # Recovery does not retry it on its own: a person decides.
    (again,) = recover({"fake": cloud}, wal_dir=tmp_path)
    assert again.status is TxnStatus.ROLLBACK_FAILED
    assert record_types(tmp_path, txn).count("recover") == 1

    done = continue_rollback(txn, {"fake": cloud}, wal_dir=tmp_path, skip=["a"])
    assert done.status is TxnStatus.ROLLED_BACK
    assert done.skipped == ["a"] and done.left == []


def test_retaining_a_resource_also_keeps_what_it_depends_on(tmp_path: Path) -> None:
    cloud = MemoryProvider(fail_create={"d": "boom"}, fail_delete={"c": "in use"})
    result = apply([*CHAIN, op("d", "c")], {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLBACK_FAILED
    assert [item.key for item in result.left] == ["a", "b", "c"]

    txn = result.txn_id or ""
    settled = continue_rollback(txn, {"fake": cloud}, wal_dir=tmp_path, retain=["c"])
    assert settled.status is TxnStatus.ROLLED_BACK
    assert settled.retained == ["a", "b", "c"]
    assert cloud.names() == {"a", "b", "c"}
    reasons = {
        r["key"]: r["reason"]
        for r in read_wal(wal_path(tmp_path, txn)).records
        if r["type"] == "retained"
    }
    assert reasons == {
        "c": "kept by the operator",
        "b": "required by retained c",
        "a": "required by retained b",
    }


def test_continue_rollback_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    cloud = MemoryProvider(fail_create={"b": "boom"}, fail_delete={"a": "denied"})
    failed = apply([op("a"), op("b", "a")], {"fake": cloud}, wal_dir=tmp_path)
    txn = failed.txn_id or ""
    with pytest.raises(TxnError, match="nothing left under zzz; left: a"):
        continue_rollback(txn, {"fake": cloud}, wal_dir=tmp_path, skip=["zzz"])
    with pytest.raises(TxnError, match="both skip and retain a"):
        continue_rollback(txn, {"fake": cloud}, wal_dir=tmp_path, skip=["a"], retain=["a"])
    with pytest.raises(TxnError, match="no transaction nope"):
        continue_rollback("nope", {"fake": cloud}, wal_dir=tmp_path)

    committed = apply([op("x")], {"fake": MemoryProvider()}, wal_dir=tmp_path / "other")
    with pytest.raises(TxnError, match="is COMMITTED, not ROLLBACK_FAILED"):
        continue_rollback(committed.txn_id or "", {"fake": cloud}, wal_dir=tmp_path / "other")


def test_a_still_failing_continue_rollback_stays_rollback_failed(tmp_path: Path) -> None:
    cloud = MemoryProvider(fail_create={"b": "boom"}, fail_delete={"a": "denied"})
    txn = apply([op("a"), op("b", "a")], {"fake": cloud}, wal_dir=tmp_path).txn_id or ""
    again = continue_rollback(txn, {"fake": cloud}, wal_dir=tmp_path)
    assert again.status is TxnStatus.ROLLBACK_FAILED
    assert [item.key for item in again.left] == ["a"]
    assert "denied" in again.left[0].reason


def test_apply_first_finishes_an_unfinished_earlier_transaction(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    earlier = crashed_log(tmp_path, CHAIN, ("intent", {"key": "a", "action": "create"}))
    result = apply([op("x")], {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.COMMITTED
    assert [(r.txn_id, r.status) for r in result.recovered] == [(earlier, TxnStatus.ROLLED_BACK)]


def test_finished_transactions_are_not_touched_by_recovery(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    done = apply(CHAIN, {"fake": cloud}, wal_dir=tmp_path)
    before = (done.wal_path or Path()).read_bytes()
    assert recover({"fake": cloud}, wal_dir=tmp_path) == []
    assert (done.wal_path or Path()).read_bytes() == before
    assert cloud.names() == {"a", "b", "c"}


def test_corruption_in_the_middle_stops_recovery_and_apply_with_a_clear_error(
    tmp_path: Path,
) -> None:
    cloud = MemoryProvider()
    txn = crashed_log(
        tmp_path,
        CHAIN,
        ("intent", {"key": "a", "action": "create"}),
        ("failed", {"key": "a", "action": "create", "error": "x"}),
    )
    path = wal_path(tmp_path, txn)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"a"', b'"b"')
    path.write_bytes(b"".join(lines))
    with pytest.raises(WalCorruptError, match=rf"{path.name}:3: WAL record is corrupt"):
        recover({"fake": cloud}, wal_dir=tmp_path)
    with pytest.raises(WalCorruptError):
        apply([op("x")], {"fake": cloud}, wal_dir=tmp_path)
    (listed,) = status(tmp_path)
    assert listed.status is TxnStatus.CORRUPT and listed.txn_id == txn
    assert cloud.names() == set()


def test_recovery_needs_the_providers_the_transaction_used(tmp_path: Path) -> None:
    crashed_log(tmp_path, [op("a", provider="databricks")])
    with pytest.raises(PlanError, match="needs providers databricks"):
        recover({"fake": MemoryProvider()}, wal_dir=tmp_path)


def test_status_lists_every_transaction_oldest_first_without_changing_anything(
    tmp_path: Path,
) -> None:
    cloud = MemoryProvider()
    committed = apply([op("a")], {"fake": cloud}, wal_dir=tmp_path)
    cloud.seed("theirs")
    conflict = apply([op("theirs")], {"fake": cloud}, wal_dir=tmp_path)
    crashed = crashed_log(tmp_path, [op("b")], ("intent", {"key": "b", "action": "create"}))
    path = wal_path(tmp_path, crashed)
    path.write_bytes(path.read_bytes()[:-3])  # its last record torn
    before = {p: p.read_bytes() for p in list_wal_files(tmp_path)}

    listing = status(tmp_path)
    assert [(r.txn_id, r.status) for r in listing] == [
        (committed.txn_id, TxnStatus.COMMITTED),
        (conflict.txn_id, TxnStatus.CONFLICT),
        (crashed, TxnStatus.UNFINISHED),
    ]
    assert listing[0].created == ["a"] and listing[0].started and listing[0].ended
    assert "torn" in (listing[2].error or "")
    assert {p: p.read_bytes() for p in list_wal_files(tmp_path)} == before
    assert status(tmp_path / "missing") == []
