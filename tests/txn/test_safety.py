"""What the transaction core never does: delete what is not provably its own, undo committed
work, lose a log to a full disk, keep secrets, or act on another account's log.

In-process against the in-memory fake cloud (`txn_fakes`), where "another team" can change
the cloud between a crash and its recovery. `tests/test_provision_e2e.py` and
`tests/test_safety_e2e.py` run the same stories with `dpn` as a process against moto and
the loopback Databricks server.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from txn_fakes import MemoryProvider, build_dag, op

from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Operation,
    ResourceState,
    not_ours,
)
from dpn_action.txn import (
    KeyState,
    PlanError,
    TxnStatus,
    apply,
    continue_rollback,
    destroy,
    recover,
    status,
)
from dpn_action.txn.crash import configure_disk_full
from dpn_action.txn.errors import WalWriteError
from dpn_action.txn.log import TxnLog, op_to_json, state_to_json
from dpn_action.txn.model import Cancel
from dpn_action.txn.wal import WalWriter, list_wal_files, new_txn_id, read_wal

CHAIN = [op("a"), op("b", "a"), op("c", "b")]


def marks(txn: str) -> dict[str, str]:
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn}


def crashed(
    wal_dir: Path,
    cloud: MemoryProvider,
    ops: list[Operation],
    made: list[str],
    **begin_extra: Any,
) -> tuple[str, Path]:
    """A run killed after creating `made` (each `done`), before its commit record."""
    txn = new_txn_id()
    begin = {"ops": [op_to_json(o) for o in ops], "max_parallel": 1, "pid": 1, "host": "ci"}
    begin.update(begin_extra)
    with WalWriter.create(wal_dir, txn, begin) as writer:
        writer.append("preflight", {"absent": [o.key for o in ops], "adopted": {}, "conflicts": {}})
        for name in made:
            planned = next(o for o in ops if o.name == name)
            cloud.seed(name, tags=marks(txn), parents=planned.depends_on, scope=planned.scope)
            (state,) = [s for s in cloud.resources() if s.name == name]
            writer.append("intent", {"key": name, "action": "create"})
            writer.append(
                "done", {"key": name, "action": "create", "resource": state_to_json(state)}
            )
        return txn, writer.path


def state_of(cloud: MemoryProvider, name: str) -> ResourceState:
    (found,) = [s for s in cloud.resources() if s.name == name]
    return found


# --------------------------------------------------------------------------- ownership


def test_not_ours_compares_marks_and_incarnation() -> None:
    recorded = ResourceState("t", "n", "id-1", marks("T1"), {}, "inc-1")
    assert not_ours(recorded, recorded) is None
    assert not_ours(recorded, ResourceState("t", "n", "id-2", {}, {}, "inc-2")) == (
        "it carries no dpn ownership marks"
    )
    assert "carries the mark of T2, not of T1" in str(
        not_ours(recorded, ResourceState("t", "n", "id-1", marks("T2"), {}, "inc-1"))
    )
    copied = ResourceState("t", "n", "id-1", marks("T1"), {}, "inc-9")
    assert "another resource under the same name (inc-9, recorded inc-1)" in str(
        not_ours(recorded, copied)
    )
    # recorded without marks (an interrupted create): only an unmarked one can be it
    bare = ResourceState("t", "n", "id-1", {}, {}, None)
    assert not_ours(bare, ResourceState("t", "n", "id-1", {"team": "x"}, {})) is None
    assert not_ours(bare, ResourceState("t", "n", "id-1", marks("T3"), {})) is not None


def test_recovery_keeps_a_resource_another_team_made_under_the_name(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    crashed(tmp_path, cloud, CHAIN, ["a", "b"])
    # Between the crash and the recovery another team deletes b and makes its own.
    cloud.remove("b")
    cloud.seed("b", tags={"team": "other"})
    theirs = state_of(cloud, "b")

    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)

    assert result.status is TxnStatus.ROLLED_BACK
    assert result.not_ours == {"b": "not ours: kept (it carries no dpn ownership marks)"}
    assert result.rolled_back == ["a"]
    assert cloud.resources() == [theirs]
    assert ["delete", "b", None] not in cloud.history()
    log = TxnLog.from_read(read_wal(result.wal_path or tmp_path))
    assert log.state("b") is KeyState.NOT_OURS


def test_a_copied_mark_on_another_incarnation_is_not_ours(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    txn, _ = crashed(tmp_path, cloud, CHAIN, ["a"])
    cloud.remove("a")
    cloud.seed("a", tags=marks(txn))  # a restore that copied the tags: a new resource

    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)

    assert list(result.not_ours) == ["a"]
    assert "another resource under the same name" in result.not_ours["a"]
    assert cloud.names() == {"a"}


def test_an_own_parent_of_a_foreign_resource_is_not_deleted(tmp_path: Path) -> None:
    """Our database `a` now holds another team's table `b`: deleting `a` would take `b`."""
    cloud = MemoryProvider()
    inside = {"database": "a"}
    table = Operation("b", "fake_thing", "fake", "b", depends_on=("a",), scope=inside)
    txn, _ = crashed(tmp_path, cloud, [op("a"), table, op("c")], ["a", "b"])
    cloud.remove("b", inside)
    cloud.seed("b", tags={"team": "other"}, parents=("a",), scope=inside)

    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)

    assert result.status is TxnStatus.ROLLBACK_FAILED
    (left,) = result.left
    assert left.key == "a"
    assert left.reason == (
        "not deleted: b in it is not dpn's any more (someone made their own under the name), "
        "and would go with it"
    )
    assert cloud.names() == {"a", "b"}

    settled = continue_rollback(txn, {"fake": cloud}, wal_dir=tmp_path, retain=["a"])
    assert settled.status is TxnStatus.ROLLED_BACK
    assert settled.retained == ["a"] and cloud.names() == {"a", "b"}


def test_a_delete_transaction_keeps_what_was_swapped_after_it_chose(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    assert apply([op("x"), op("y")], {"fake": cloud}, wal_dir=tmp_path).ok
    reads = {"x": 0}

    def swap(name: str) -> None:
        if name == "x":
            reads["x"] += 1
            if reads["x"] == 2:  # after the pre-flight chose x, before the delete
                cloud.remove("x")
                cloud.seed("x", tags={"team": "other"})

    cloud.before_read = swap
    result = destroy([op("x"), op("y")], {"fake": cloud}, wal_dir=tmp_path)

    assert result.status is TxnStatus.DELETED
    assert result.deleted == ["y"]
    assert list(result.not_ours) == ["x"]
    assert state_of(cloud, "x").tags == {"team": "other"}


def test_a_resource_already_gone_counts_as_deleted(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    crashed(tmp_path, cloud, CHAIN, ["a", "b"])
    cloud.remove("b")

    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)

    assert result.status is TxnStatus.ROLLED_BACK and result.not_ours == {}
    assert cloud.names() == set()


# --------------------------------------------------------------------------- committed work


@pytest.fixture
def committed(tmp_path: Path) -> Iterator[tuple[MemoryProvider, Path, bytes]]:
    cloud = MemoryProvider()
    result = apply(build_dag(8), {"fake": cloud}, wal_dir=tmp_path, max_parallel=3)
    assert result.status is TxnStatus.COMMITTED and result.wal_path is not None
    yield cloud, result.wal_path, result.wal_path.read_bytes()


def _damage(data: bytes, how: str, where: int) -> bytes:
    body = data.rstrip(b"\n")
    start = body.rfind(b"\n") + 1  # the last record's first byte
    last = body[start:]
    if how == "cut":
        return data[: start + where % max(1, len(last))]
    if how == "flip":
        at = start + where % len(last)
        bit = 1 << (where % 8)
        return data[:at] + bytes([data[at] ^ bit]) + data[at + 1 :]
    return data[:-1]  # the final newline lost


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(how=st.sampled_from(["cut", "flip", "newline"]), where=st.integers(0, 10_000))
def test_damage_to_the_last_record_of_a_committed_log_deletes_nothing(
    committed: tuple[MemoryProvider, Path, bytes], how: str, where: int
) -> None:
    cloud, path, intact = committed
    for extra in path.parent.glob("*.torn-*"):
        extra.unlink()
    path.write_bytes(_damage(intact, how, where))
    before = cloud.names()

    recover({"fake": cloud}, wal_dir=path.parent)
    apply(build_dag(8), {"fake": cloud}, wal_dir=path.parent)  # the next run, too

    assert cloud.names() == before
    assert "delete" not in {h[0] for h in cloud.history()}
    assert status(path.parent)[0].status is TxnStatus.COMMITTED


def test_cutting_50_bytes_off_a_committed_log_keeps_it_committed(
    committed: tuple[MemoryProvider, Path, bytes],
) -> None:
    cloud, path, intact = committed
    path.write_bytes(intact[:-50])

    (result,) = recover({"fake": cloud}, wal_dir=path.parent)

    assert result.status is TxnStatus.COMMITTED
    assert len(cloud.names()) == 8 and "delete" not in {h[0] for h in cloud.history()}


def test_an_unfinished_transaction_with_work_left_is_still_rolled_back(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    crashed(tmp_path, cloud, CHAIN, ["a", "b"])  # c never created
    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.ROLLED_BACK and cloud.names() == set()


# --------------------------------------------------------------------------- full disk


def _writes_of_one_apply(tmp_path: Path) -> int:
    import dpn_action.txn.crash as crash

    configure_disk_full("1000000")  # counts writes without failing any
    try:
        apply(build_dag(6), {"fake": MemoryProvider()}, wal_dir=tmp_path / "count")
        return crash._writes
    finally:
        configure_disk_full(None)


@pytest.fixture
def disk_full() -> Iterator[None]:
    yield
    configure_disk_full(None)


@pytest.mark.parametrize("lasting", [True, False], ids=["stays-full", "brief"])
def test_a_full_disk_at_any_write_leaves_a_log_that_parses_and_recovers(
    tmp_path: Path, disk_full: None, lasting: bool
) -> None:
    total = _writes_of_one_apply(tmp_path)
    assert total >= 15
    for n in range(1, total + 1):
        wal = tmp_path / f"wal-{n}"
        cloud = MemoryProvider()
        configure_disk_full(f"{n}-" if lasting else str(n))
        try:
            result = apply(build_dag(6), {"fake": cloud}, wal_dir=wal, max_parallel=2)
            assert result.status in (TxnStatus.ROLLED_BACK, TxnStatus.FAILED), (n, result)
        except WalWriteError as exc:
            assert "could not be written" in str(exc) or "cannot" in str(exc), exc
        configure_disk_full(None)  # space returns
        for path in list_wal_files(wal):
            read = read_wal(path)  # never WalCorruptError
            assert read.torn is None, (n, read.torn)
            seqs = [r["seq"] for r in read.records]
            assert seqs == list(range(len(seqs)))
        recover({"fake": cloud}, wal_dir=wal)
        assert cloud.names() in (set(), {o.name for o in build_dag(6)}), n
        assert all(r.status not in (TxnStatus.UNFINISHED, TxnStatus.CORRUPT) for r in status(wal))
        assert not list(wal.glob("*.tmp"))


def test_after_a_failed_write_the_writer_cuts_back_and_goes_on(
    tmp_path: Path, disk_full: None
) -> None:
    with WalWriter.create(tmp_path, new_txn_id(), {"ops": []}) as writer:
        configure_disk_full("1")
        with pytest.raises(WalWriteError, match="cut back to its last complete record"):
            writer.append("note", {"text": "x" * 100})
        configure_disk_full(None)
        writer.append("note", {"text": "after"})
    read = read_wal(writer.path)
    assert [r["seq"] for r in read.records] == [0, 1] and read.torn is None
    assert read.records[1]["text"] == "after"


# --------------------------------------------------------------------------- never started


def test_a_log_without_a_complete_begin_record_is_set_aside(tmp_path: Path) -> None:
    txn = new_txn_id()
    path = tmp_path / f"txn-{txn}.jsonl"
    path.write_bytes(b'{"seq":0,"txn":"' + txn.encode() + b'","type":"beg')

    (listed,) = status(tmp_path)
    assert listed.status is TxnStatus.NEVER_STARTED
    assert "nothing was sent to a cloud" in (listed.error or "")

    (result,) = recover({"fake": MemoryProvider()}, wal_dir=tmp_path)
    assert result.status is TxnStatus.NEVER_STARTED
    assert not path.exists() and path.with_name(path.name + ".torn-1").exists()
    assert status(tmp_path) == []


# --------------------------------------------------------------------------- another account


def test_a_log_from_another_account_is_refused(tmp_path: Path) -> None:
    here = {"account": "111111111111", "region": "us-east-1"}
    cloud = MemoryProvider()
    cloud.where = here
    _, path = crashed(tmp_path, cloud, CHAIN, ["a"], target={"fake": here})
    other = MemoryProvider()
    other.where = {"account": "222222222222", "region": "us-east-1"}
    other.seed("a", tags={"team": "other"})
    before = path.read_bytes()

    with pytest.raises(PlanError, match="was made in fake account 111111111111, but this run is"):
        recover({"fake": other}, wal_dir=tmp_path)
    with pytest.raises(PlanError, match="account 222222222222"):
        apply([op("z")], {"fake": other}, wal_dir=tmp_path)

    assert path.read_bytes() == before  # not even a recover record
    assert other.names() == {"a"} and "delete" not in {h[0] for h in other.history()}
    (result,) = recover({"fake": cloud}, wal_dir=tmp_path)  # the right account recovers it
    assert result.status is TxnStatus.ROLLED_BACK and cloud.names() == set()


def test_a_transaction_records_where_it_acted(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    cloud.where = {"account": "111111111111", "region": "eu-west-1"}
    result = apply(CHAIN, {"fake": cloud}, wal_dir=tmp_path, context={"environments": ["dev"]})
    log = TxnLog.from_read(read_wal(result.wal_path or tmp_path))
    assert log.target == {"fake": {"account": "111111111111", "region": "eu-west-1"}}
    assert log.context == {"environments": ["dev"]}


# --------------------------------------------------------------------------- secrets


def test_sensitive_values_reach_the_cloud_but_the_log_keeps_digests(tmp_path: Path) -> None:
    secret = "hunter2-" + "".join(random.choice("abcdef") for _ in range(12))
    seen: dict[str, Any] = {}
    cloud = MemoryProvider()
    cloud.before_create = lambda o: seen.update(o.properties)
    fn = Operation(
        key="fn",
        type_key="fake_thing",
        provider="fake",
        name="fn",
        properties={"env": {"PASSWORD": secret}, "memory": 128},
        sensitive=("env",),
    )

    result = apply([fn], {"fake": cloud}, wal_dir=tmp_path)

    assert result.ok and seen["env"] == {"PASSWORD": secret}
    text = (result.wal_path or tmp_path).read_text()
    assert secret not in text and '"env":"sha256:' in text and '"memory":128' in text


def test_recovery_never_creates_from_a_digest(tmp_path: Path) -> None:
    cloud = MemoryProvider()
    secret_op = Operation("s", "fake_thing", "fake", "s", {"env": {"K": "v"}}, sensitive=("env",))
    crashed(tmp_path, cloud, [op("a"), secret_op], ["a"])

    (result,) = recover({"fake": cloud}, wal_dir=tmp_path, forward=True)

    assert result.status is TxnStatus.ROLLED_BACK
    assert "keeps only digests of env of s" in (result.error or "")
    assert cloud.names() == set()


# --------------------------------------------------------------------------- cancel


def test_a_cancel_before_anything_is_created_ends_failed(tmp_path: Path) -> None:
    cancel = Cancel()
    cancel.set("interrupted by SIGINT")
    cloud = MemoryProvider()
    result = apply(CHAIN, {"fake": cloud}, wal_dir=tmp_path, cancel=cancel)
    assert result.status is TxnStatus.FAILED
    assert result.error == "interrupted by SIGINT: stopped before creating anything"
    assert cloud.names() == set()


def test_a_cancel_mid_way_finishes_running_calls_then_rolls_back(tmp_path: Path) -> None:
    cancel = Cancel()
    cloud = MemoryProvider()
    ops = build_dag(12)

    def interrupt(o: Operation) -> None:
        if o.name == "res-04":
            cancel.set("interrupted by SIGTERM")

    cloud.before_create = interrupt
    result = apply(ops, {"fake": cloud}, wal_dir=tmp_path, max_parallel=2, cancel=cancel)

    assert result.status is TxnStatus.ROLLED_BACK
    assert (result.error or "").startswith("interrupted by SIGTERM")
    assert "fake_thing:/res-04" in result.created  # the running call finished, then went back
    assert len(result.created) < len(ops) and cloud.names() == set()
