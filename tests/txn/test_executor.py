"""Applying a plan: all or nothing, in dependency order, never more than max_parallel."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from txn_fakes import TYPE, MemoryProvider, build_dag, op

from dpn_action.providers.base import MANAGED_BY_KEY, MANAGED_BY_VALUE, TXN_TAG_KEY, Operation
from dpn_action.txn import (
    KeyState,
    PlanError,
    Progress,
    TxnStatus,
    UnfinishedTransactionError,
    apply,
    continue_rollback,
    status,
)
from dpn_action.txn.log import TxnLog
from dpn_action.txn.wal import list_wal_files, read_wal

OURS = {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: "20200101T000000000000Z-00000000"}


def events(cloud: MemoryProvider, kind: str) -> list[str]:
    return [name for k, name, _ in cloud.history() if k == kind]


def wal_types(wal_dir: Path) -> list[str]:
    (path,) = list_wal_files(wal_dir)[-1:]
    return [r["type"] for r in read_wal(path).records]


def test_dag_is_committed_with_every_resource_after_its_dependencies(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    ops = build_dag(24)
    result = apply(ops, {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.COMMITTED
    assert sorted(result.created) == sorted(o.key for o in ops)
    assert cloud.names() == {o.name for o in ops}
    created = events(cloud, "create")
    for o in ops:
        for dep in o.depends_on:
            assert created.index(dep.split("/")[1]) < created.index(o.name)
    assert set(result.resources) == {o.key for o in ops}
    for state in cloud.resources():
        assert state.managed_by_dpn and state.transaction_id == result.txn_id


def test_no_more_than_max_parallel_creates_run_at_once_and_the_bound_is_used(
    tmp_path: Path,
) -> None:
    cloud = MemoryProvider()
    # Every create waits until four are running together: a lower bound would break the
    # barrier (it times out), a higher one shows in max_in_flight.
    barrier = threading.Barrier(4, timeout=20)
    cloud.before_create = lambda _op: barrier.wait() and None
    ops = [op(f"independent-{i:02d}") for i in range(20)]
    result = apply(ops, {"fake": cloud}, wal_dir=tmp_path, max_parallel=4)
    assert result.status is TxnStatus.COMMITTED
    assert cloud.max_in_flight == 4


def test_every_create_has_a_durable_intent_before_the_cloud_is_called(tmp_path: Path) -> None:
    cloud = MemoryProvider()

    def intent_is_on_disk(operation: Operation) -> None:
        records = read_wal(list_wal_files(tmp_path)[0]).records
        intents = [r["key"] for r in records if r["type"] == "intent"]
        assert operation.key in intents

    cloud.before_create = intent_is_on_disk
    result = apply(build_dag(8), {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.COMMITTED
    types = wal_types(tmp_path)
    assert types[:2] == ["begin", "preflight"]
    assert types[-1] == "end"
    assert types.count("intent") == types.count("done") == 8


def test_first_failure_rolls_back_everything_in_reverse_dependency_order(
    tmp_path: Path,
) -> None:
    # a <- b <- c, a <- d; e needs c and d and fails.
    cloud = MemoryProvider(fail_create={"e": "quota exceeded"})
    ops = [op("a"), op("b", "a"), op("c", "b"), op("d", "a"), op("e", "c", "d")]
    result = apply(ops, {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLED_BACK
    assert "e" in (result.error or "") and "quota exceeded" in (result.error or "")
    assert sorted(result.created) == ["a", "b", "c", "d"]
    assert sorted(result.rolled_back) == ["a", "b", "c", "d"]
    assert cloud.names() == set()
    deleted = events(cloud, "delete")
    assert deleted.index("c") < deleted.index("b") < deleted.index("a")
    assert deleted.index("d") < deleted.index("a")
    assert result.left == []
    # the faces get each resource's outcome and error, not only one string
    assert result.errors == {"e": "FakeCloudError: quota exceeded"}
    assert result.outcomes == dict.fromkeys("abcd", "rolled-back")
    assert result.kept_created == []
    data = result.to_dict()
    assert data["errors"] == {"e": "FakeCloudError: quota exceeded"}
    assert data["status"] == "ROLLED_BACK" and data["ok"] is False


def test_after_a_failure_nothing_new_starts_but_running_calls_finish(tmp_path: Path) -> None:
    # "slow" and "bad" run together; "slow" returns only once the executor has seen "bad"
    # fail (its progress event). The operations waiting for "slow" must then never start.
    cloud = MemoryProvider(fail_create={"bad": "denied"})
    failure_seen = threading.Event()

    def gate(operation: Operation) -> None:
        if operation.name == "slow":
            assert failure_seen.wait(20)

    def on_progress(event: Progress) -> None:
        if event.key == "bad" and event.event == "failed":
            failure_seen.set()

    cloud.before_create = gate
    ops = [op("slow"), op("bad"), op("after-1", "slow"), op("after-2", "slow")]
    result = apply(ops, {"fake": cloud}, wal_dir=tmp_path, max_parallel=2, on_progress=on_progress)
    assert result.status is TxnStatus.ROLLED_BACK
    assert set(events(cloud, "create-start")) == {"slow", "bad"}
    assert events(cloud, "create") == ["slow"]  # the in-flight call finished...
    assert events(cloud, "delete") == ["slow"]  # ...and was compensated
    assert cloud.names() == set()


def test_failed_delete_during_rollback_ends_rollback_failed_with_exact_list(
    tmp_path: Path,
) -> None:
    cloud = MemoryProvider(fail_create={"d": "boom"}, fail_delete={"b": "access denied"})
    ops = [op("a"), op("b", "a"), op("c"), op("d", "b", "c")]
    result = apply(ops, {"fake": cloud}, wal_dir=tmp_path, max_parallel=1)
    assert result.status is TxnStatus.ROLLBACK_FAILED
    left = {item.key: item for item in result.left}
    assert set(left) == {"a", "b"}  # c was deleted; a stays because b depends on it
    assert "access denied" in left["b"].reason
    assert left["b"].state is KeyState.DELETE_FAILED
    assert "b" in left["a"].reason
    assert left["a"].resource_id is not None
    assert cloud.names() == {"a", "b"}
    assert result.errors == {
        "b": "FakeCloudError: access denied",
        "d": "FakeCloudError: boom",
    }
    assert result.outcomes == {"c": "rolled-back", "a": "left", "b": "left"}
    assert [(r.txn_id, r.status) for r in status(tmp_path)] == [
        (result.txn_id, TxnStatus.ROLLBACK_FAILED)
    ]

    cloud.fail_delete.clear()
    finished = continue_rollback(result.txn_id or "", {"fake": cloud}, wal_dir=tmp_path)
    assert finished.status is TxnStatus.ROLLED_BACK
    assert finished.left == []
    assert cloud.names() == set()
    assert status(tmp_path)[0].status is TxnStatus.ROLLED_BACK


def test_rollback_failed_transaction_blocks_new_applies_until_settled(tmp_path: Path) -> None:
    cloud = MemoryProvider(fail_create={"b": "boom"}, fail_delete={"a": "denied"})
    failed = apply([op("a"), op("b", "a")], {"fake": cloud}, wal_dir=tmp_path)
    assert failed.status is TxnStatus.ROLLBACK_FAILED
    cloud.fail_create.clear()
    with pytest.raises(UnfinishedTransactionError, match="continue-rollback") as info:
        apply([op("x")], {"fake": cloud}, wal_dir=tmp_path)
    assert info.value.txn_ids == [failed.txn_id]
    assert "x" not in cloud.names()

    settled = continue_rollback(
        failed.txn_id or "", {"fake": cloud}, wal_dir=tmp_path, retain=["a"]
    )
    assert settled.status is TxnStatus.ROLLED_BACK
    assert settled.retained == ["a"]
    assert cloud.names() == {"a"}
    assert apply([op("x")], {"fake": cloud}, wal_dir=tmp_path).status is TxnStatus.COMMITTED


def test_conflict_in_preflight_creates_nothing(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    cloud.seed("b", tags={"owner": "someone else"})
    result = apply([op("a"), op("b", "a"), op("c")], {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.CONFLICT
    assert [c.key for c in result.conflicts] == ["b"]
    assert result.conflicts[0].found.resource_id == "pre-b"
    assert events(cloud, "create-start") == []
    assert cloud.names() == {"b"}
    assert "intent" not in wal_types(tmp_path)


def test_existing_resource_that_is_ours_is_adopted_not_created(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    cloud.seed("a", tags=OURS)
    result = apply([op("a"), op("b", "a")], {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.COMMITTED
    assert result.adopted == ["a"]
    assert result.created == ["b"]
    assert events(cloud, "create-start") == ["b"]
    assert result.resources["a"].resource_id == "pre-a"


def test_everything_adopted_is_nothing_to_do(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    first = apply(build_dag(6), {"fake": cloud}, wal_dir=tmp_path)
    again = apply(build_dag(6), {"fake": cloud}, wal_dir=tmp_path)
    assert first.status is TxnStatus.COMMITTED
    assert again.status is TxnStatus.NOTHING_TO_DO
    assert sorted(again.adopted) == sorted(first.created)
    assert len(events(cloud, "create")) == 6


def test_adopted_resources_are_never_deleted_by_a_rollback(tmp_path: Path) -> None:
    cloud = MemoryProvider(fail_create={"c": "boom"})
    cloud.seed("a", tags=OURS)
    result = apply([op("a"), op("b", "a"), op("c", "b")], {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLED_BACK
    assert cloud.names() == {"a"}


def test_lost_response_is_resolved_as_created_by_its_tag_and_not_duplicated(
    tmp_path: Path,
) -> None:
    cloud = MemoryProvider(lose_response={"b"})
    result = apply([op("a"), op("b", "a"), op("c")], {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLED_BACK
    assert "response for b lost" in (result.error or "")
    assert "b" in result.created  # found by reading it back: it carries our txn tag
    assert events(cloud, "create").count("b") == 1
    assert events(cloud, "duplicate") == []
    assert cloud.names() == set()
    records = read_wal(list_wal_files(tmp_path)[0]).records
    assert any(r["type"] == "resolved" and r["key"] == "b" and r["exists"] for r in records)


def test_failed_preflight_read_stops_before_anything_is_created(tmp_path: Path) -> None:
    cloud = MemoryProvider(fail_read={"b"})
    result = apply([op("a"), op("b")], {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.FAILED
    assert "read of b denied" in (result.error or "")
    assert events(cloud, "create-start") == []


def test_dry_run_only_reads(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    cloud.seed("a", tags=OURS)
    plan = apply([op("a"), op("b", "a")], {"fake": cloud}, wal_dir=tmp_path, dry_run=True)
    assert plan.status is TxnStatus.PLANNED
    assert plan.to_create == ["b"] and plan.adopted == ["a"]
    assert events(cloud, "create-start") == []
    assert list(tmp_path.iterdir()) == [], "a dry run writes nothing, not even a lock"

    cloud.seed("b")
    clash = apply([op("a"), op("b", "a")], {"fake": cloud}, wal_dir=tmp_path, dry_run=True)
    assert clash.status is TxnStatus.CONFLICT and [c.key for c in clash.conflicts] == ["b"]


def test_progress_reports_each_phase_on_the_calling_thread(tmp_path: Path) -> None:
    seen: list[Progress] = []
    caller = threading.get_ident()

    def on_progress(event: Progress) -> None:
        assert threading.get_ident() == caller
        seen.append(event)

    apply(build_dag(5), {"fake": MemoryProvider()}, wal_dir=tmp_path, on_progress=on_progress)
    creates = [e for e in seen if e.phase == "create" and e.event != "start"]
    assert [e.completed for e in creates] == [1, 2, 3, 4, 5]
    assert {e.total for e in creates} == {5}
    assert {e.phase for e in seen} == {"preflight", "create"}


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([op("a", "b"), op("b", "a")], r"dependency cycle: (a -> b -> a|b -> a -> b)"),
        ([op("a", "ghost")], "depends on 'ghost', which is not in the plan"),
        ([op("a"), op("a")], "appears twice"),
        ([op("a", provider="aws")], "no provider 'aws'"),
    ],
)
def test_invalid_plan_is_refused_before_anything_happens(
    tmp_path: Path, ops: list[Operation], message: str
) -> None:
    with pytest.raises(PlanError, match=message):
        apply(ops, {"fake": MemoryProvider()}, wal_dir=tmp_path)
    assert list_wal_files(tmp_path) == []


def test_operation_fields_survive_the_wal(tmp_path: Path) -> None:
    full = Operation(
        key="aws_glue_table:sales/orders",
        type_key=TYPE,
        provider="fake",
        name="fact_orders",
        properties={"columns": [{"name": "id", "type": "bigint"}]},
        tags={"team": "x"},
        refs={"database_ref": "db"},
        scope={"database": "sales"},
    )
    result = apply([full], {"fake": MemoryProvider()}, wal_dir=tmp_path)
    log = TxnLog.from_read(read_wal(result.wal_path or Path()))
    assert log.ops[full.key] == full
