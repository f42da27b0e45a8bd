"""The lease lock and the WAL mirror of team mode, against moto over HTTP (team_env).

Races run in real processes; the stores are dpn's own (`dpn_action.team`) with boto3.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provision_env import FAKE_AWS
from team_env import BUCKET, TABLE, Moto, ignoring_s3, race

from dpn_action.team import TeamUrlError, lease_store, mirror_store, shared_from
from dpn_action.team.dynamodb import DynamoLeaseStore
from dpn_action.txn.errors import (
    ConditionFailed,
    FencedError,
    LeaseLostError,
    LockBackendError,
    LockTimeoutError,
)
from dpn_action.txn.lock import Guard, Lease, LeaseStore
from dpn_action.txn.mirror import Mirror, MirrorError, frame, unframe
from dpn_action.txn.wal import WalWriter, read_wal, wal_path

LOCKS = {"s3": f"s3://{BUCKET}/locks/race", "dynamodb": f"dynamodb://{TABLE}/race"}


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    m = Moto()
    yield m
    m.stop()


@pytest.fixture
def aws(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Moto:
    """This process (and the processes it starts) reaches moto, and only moto."""
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    return moto


def token() -> str:
    return f"{time.time_ns():x}"


# ----------------------------------------------------------------------------- races

RACERS, TRIALS = 6, 20


@pytest.mark.parametrize("backend", sorted(LOCKS))
def test_processes_racing_for_the_lease_leave_exactly_one_winner_each_trial(
    aws: Moto, backend: str
) -> None:
    """Even trials race for a lease nobody ever held (a conditional create), odd ones for a
    lease whose holder's time ran out (a conditional replace of what each read)."""
    url = f"{LOCKS[backend]}-{token()}"
    for trial in range(1, TRIALS, 2):
        store, _ = lease_store(f"{url}-{trial}")
        store.create({"owner": "gone", "counter": 41, "expires": time.time() - 5, "holder": {}})
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACERS)
    results = ctx.Queue()
    racers = [
        ctx.Process(target=race, args=(url, i, TRIALS, barrier, results)) for i in range(RACERS)
    ]
    for p in racers:
        p.start()
    reports = [results.get(timeout=300) for _ in range(RACERS * TRIALS)]
    for p in racers:
        p.join(timeout=60)
        assert p.exitcode == 0
    for trial in range(TRIALS):
        these = [r for r in reports if r[0] == trial]
        assert len(these) == RACERS
        winners = [r for r in these if r[2]]
        assert len(winners) == 1, (trial, these)
        _, index, _, counter, shown = winners[0]
        assert counter == (42 if trial % 2 else 1)  # one more than the last holder's
        assert shown == str(index)  # the store names the winner while it holds the lease


# ------------------------------------------------------------------- lost and found


class Partitioned:
    """A lease store behind a network that can be cut; remembers every version written
    through it (what the holder on this side of the cut last knew)."""

    def __init__(self, store: LeaseStore) -> None:
        self.store = store
        self.url = store.url
        self.cut = False
        self.versions: list[str] = []

    def _through(self) -> None:
        if self.cut:
            raise ConnectionError("network unreachable")

    def read(self) -> Any:
        self._through()
        return self.store.read()

    def create(self, record: Any) -> str:
        self._through()
        self.versions.append(self.store.create(record))
        return self.versions[-1]

    def replace(self, record: Any, version: str) -> str:
        self._through()
        self.versions.append(self.store.replace(record, version))
        return self.versions[-1]

    def self_test(self) -> None:
        self.store.self_test()


@pytest.mark.parametrize("backend", sorted(LOCKS))
def test_a_holder_cut_off_past_its_lease_loses_it_and_cannot_renew_or_release(
    aws: Moto, backend: str
) -> None:
    store, _ = lease_store(f"{LOCKS[backend]}-{token()}")
    cut_off = Partitioned(store)
    first = Lease(cut_off, seconds=1.5, timeout=5, holder={"host": "a", "pid": "1"})
    first.acquire()
    first.check()
    cut_off.cut = True  # renewals fail from now on

    waited: list[str] = []
    second = Lease(store, seconds=30, timeout=10, holder={"host": "b", "pid": "2"})
    second.say = waited.append
    second.acquire()  # waits, saying who holds it, until the first lease ran out

    assert second.counter == first.counter + 1
    assert waited and "dpn process 1 on host a" in waited[0] and "until" in waited[0]
    with pytest.raises(LeaseLostError, match="ran out"):
        first.check()  # it stops on its own: no record of it may announce a cloud call
    cut_off.cut = False  # the network is back
    stale = cut_off.versions[-1]
    for record in ({"owner": "", "counter": first.counter, "expires": 0}, {"renewed": True}):
        with pytest.raises(ConditionFailed):  # renewal or release on what it last wrote
            store.replace(record, stale)
    with pytest.raises(LeaseLostError):
        first.renew()
    assert first.release() is False
    found = store.read()
    assert found is not None and found[0]["holder"] == {"host": "b", "pid": "2"}
    assert second.release() is True


@pytest.mark.parametrize("backend", sorted(LOCKS))
def test_a_lease_is_renewed_while_held_and_a_waiter_gives_up_naming_the_holder(
    aws: Moto, backend: str
) -> None:
    url = f"{LOCKS[backend]}-{token()}"
    store, _ = lease_store(url)
    holder = {"host": "ci", "pid": "7", "run_url": "https://github.com/o/r/actions/runs/5"}
    held = Lease(store, seconds=1.2, timeout=5, holder=holder, purpose="apply")
    held.acquire()
    held.set_txn("20250101T000000000000Z-0badc0de")
    time.sleep(2.5)  # twice the lease: only renewals keep it
    held.check()
    with pytest.raises(LockTimeoutError) as refused:
        Lease(store, seconds=5, timeout=0.5).acquire()
    message = str(refused.value)
    assert url in message and "https://github.com/o/r/actions/runs/5" in message
    assert "transaction 20250101T000000000000Z-0badc0de" in message and "until" in message
    assert held.release() is True
    free = Lease(store, seconds=5, timeout=1)
    free.acquire()  # released: free at once, no waiting for the expiry
    assert free.counter == held.counter + 1
    free.release()


# ------------------------------------------------------------------ the self-test


def test_an_s3_store_that_ignores_conditional_writes_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stand-in answers If-None-Match and If-Match with success, as S3-compatible
    stores without conditional writes do; both the lock and the mirror refuse it."""
    with ignoring_s3() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        for name, value in FAKE_AWS.items():
            monkeypatch.setenv(name, value)
        store, _ = lease_store("s3://some-bucket/dev.lock")
        with pytest.raises(LockBackendError, match="does not enforce conditional writes"):
            store.self_test()
        with pytest.raises(LockBackendError, match="does not enforce conditional writes"):
            Lease(store, seconds=10, timeout=1).acquire()
        with pytest.raises(LockBackendError, match="does not enforce conditional writes"):
            mirror_store("s3://some-bucket/wal").self_test()


def test_a_dynamodb_table_that_drops_conditions_is_refused(aws: Moto) -> None:
    """A client that drops the condition before sending stands for a DynamoDB-compatible
    store that ignores conditions (on a table of its own: a table passes once a process)."""
    table = f"dropped-{token()}"
    aws.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    store = DynamoLeaseStore(table, "lock")

    def drop(params: dict[str, Any], **_: Any) -> None:
        params.pop("ConditionExpression", None)
        params.pop("ExpressionAttributeNames", None)

    store.ddb.meta.events.register("provide-client-params.dynamodb.PutItem", drop)
    try:
        with pytest.raises(LockBackendError, match="does not enforce conditional writes"):
            store.self_test()
    finally:
        store.ddb.meta.events.unregister("provide-client-params.dynamodb.PutItem", drop)
    DynamoLeaseStore(table, "lock").self_test()  # the same table, conditions kept: fine


def test_a_missing_bucket_or_table_is_a_clear_error(aws: Moto) -> None:
    with pytest.raises(LockBackendError, match=r"s3://no-such-bucket-x/k: could not write"):
        lease_store("s3://no-such-bucket-x/k")[0].self_test()
    with pytest.raises(LockBackendError, match="ResourceNotFoundException"):
        lease_store("dynamodb://no-such-table/k")[0].self_test()


@pytest.mark.parametrize(
    ("lock", "mirror", "message"),
    [
        ("file:///tmp/x", None, "a lock is s3://BUCKET/KEY or dynamodb://TABLE/KEY"),
        ("s3://bucket-ok/", None, "name the lock's object"),
        ("s3://Bad_Bucket/k", None, "not an S3 bucket name"),
        ("s3://bucket-ok/k?lease=0.1", None, "lease must be a number of seconds"),
        ("s3://bucket-ok/k?lease=soon", None, "lease must be a number of seconds"),
        ("dynamodb://t/k?ttl=5", None, "unknown option 'ttl'"),
        ("dynamodb://tbl/", None, "name the lock's key"),
        (None, "dynamodb://tbl/wal", "the WAL mirror is s3://BUCKET/PREFIX"),
    ],
)
def test_urls_dpn_cannot_use_are_refused_with_the_reason(
    lock: str | None, mirror: str | None, message: str
) -> None:
    with pytest.raises(TeamUrlError, match=message.replace("?", r"\?")):
        shared_from(lock, mirror)


def test_no_urls_is_the_local_file_lock() -> None:
    assert shared_from(None, "") is None
    shared = shared_from("dynamodb://tbl/key?lease=90&region=eu-west-1", "s3://bucket-ok/wal")
    assert shared is not None and shared.lease_seconds == 90.0
    assert shared.lease is not None and shared.lease.url == "dynamodb://tbl/key"
    assert shared.mirror is not None and shared.mirror.url == "s3://bucket-ok/wal/"


# ---------------------------------------------------------------------------- mirror


def wal_with(tmp: Path, txn_id: str, records: int) -> Path:
    """A transaction's WAL file of `records` records (begin included)."""
    with WalWriter.create(tmp, txn_id, {"ops": []}) as writer:
        for i in range(records - 1):
            writer.append("note", {"i": i})
    return wal_path(tmp, txn_id)


def prefix_url() -> tuple[str, str]:
    prefix = f"mirror-{token()}"
    return prefix, f"s3://{BUCKET}/{prefix}"


def test_a_writer_whose_copy_was_taken_over_is_refused(aws: Moto, tmp_path: Path) -> None:
    _, url = prefix_url()
    store = mirror_store(url)
    txn = "20250101T000000000000Z-00000001"
    data = wal_with(tmp_path, txn, 3).read_bytes()
    old = Mirror(store, fence=1).hook(txn, new=True)
    old(len(data), lambda: data)
    newer = Mirror(store, fence=2).hook(txn, new=False)
    newer(len(data), lambda: data)  # taken over: the same records, a copy of its own
    with pytest.raises(FencedError, match="taken over by another run"):
        old(len(data) + 1, lambda: data + b"x")
    found = store.get(txn)
    assert found is not None
    header, wal = unframe(found[0], "copy")
    assert (header["fence"], header["writer"], wal) == (2, newer.writer, data)


def test_an_older_holder_cannot_take_a_copy_over(aws: Moto, tmp_path: Path) -> None:
    _, url = prefix_url()
    store = mirror_store(url)
    txn = "20250101T000000000000Z-00000002"
    data = wal_with(tmp_path, txn, 2).read_bytes()
    Mirror(store, fence=5).hook(txn, new=True)(len(data), lambda: data)
    with pytest.raises(FencedError, match="fencing counter 5, newer than this run's 4"):
        Mirror(store, fence=4).hook(txn, new=False)(len(data), lambda: data)
    more = data + b"another run's records\n"
    Mirror(store, fence=6).hook(txn, new=False)(len(more), lambda: more)
    with pytest.raises(FencedError, match="holds records this run's log lacks"):
        Mirror(store, fence=7).hook(txn, new=False)(len(data), lambda: data)


class LostAnswer:
    """A mirror store whose next replace is done, but answered with a failed condition (a
    write retried after its answer was lost)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.url = store.url
        self.lose_next = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def replace(self, txn_id: str, body: bytes, fence: int, version: str) -> str:
        new = self.store.replace(txn_id, body, fence, version)
        if self.lose_next:
            self.lose_next = False
            raise ConditionFailed("PreconditionFailed")
        return str(new)


def test_a_copy_whose_answer_was_lost_is_recognised_as_written(aws: Moto, tmp_path: Path) -> None:
    _, url = prefix_url()
    store = LostAnswer(mirror_store(url))
    txn = "20250101T000000000000Z-00000003"
    data = wal_with(tmp_path, txn, 4).read_bytes()
    hook = Mirror(store, fence=1).hook(txn, new=True)
    hook(10, lambda: data[:10])
    store.lose_next = True
    hook(len(data), lambda: data)  # not taken for a takeover
    hook(len(data) + 2, lambda: data + b"{}")
    found = store.get(txn)
    assert found is not None and unframe(found[0], "copy")[1] == data + b"{}"


def test_pull_restores_completes_and_replaces_logs_and_keeps_what_it_replaced(
    aws: Moto, tmp_path: Path
) -> None:
    prefix, url = prefix_url()
    store = mirror_store(url)
    source, here = tmp_path / "source", tmp_path / "here"
    ids = [f"20250101T00000000000{i}Z-0000000{i}" for i in range(1, 6)]
    full = {t: wal_with(source, t, 5).read_bytes() for t in ids}
    for t in ids:
        Mirror(store, fence=1).hook(t, new=True)(len(full[t]), lambda t=t: full[t])
    here.mkdir()
    short = full[ids[1]].split(b"\n")
    wal_path(here, ids[1]).write_bytes(b"\n".join(short[:2]) + b"\n")  # a prefix
    wal_path(here, ids[2]).write_bytes(full[ids[2]] + b'{"more":1}\n')  # longer: kept
    other = wal_with(tmp_path / "other", ids[3], 3).read_bytes()  # another story
    wal_path(here, ids[3]).write_bytes(other)

    notes = Mirror(store, fence=1).pull(here)

    assert wal_path(here, ids[0]).read_bytes() == full[ids[0]]
    assert wal_path(here, ids[1]).read_bytes() == full[ids[1]]
    assert wal_path(here, ids[2]).read_bytes() == full[ids[2]] + b'{"more":1}\n'
    assert wal_path(here, ids[3]).read_bytes() == full[ids[3]]
    kept = wal_path(here, ids[3]).with_name(wal_path(here, ids[3]).name + ".replaced-1")
    assert kept.read_bytes() == other
    assert len(read_wal(wal_path(here, ids[0])).records) == 5
    assert [n.split(":")[0] for n in notes] == [f"transaction {t}" for t in ids[:2] + ids[3:5]]
    assert not (here / ".mirror").exists()
    # a damaged copy is refused, never installed
    key = f"{prefix}/txn-{ids[4]}.jsonl"
    broken = frame({"fence": 1, "size": 13, "txn": ids[4], "writer": "w"}, b'{"seq":0}\nxx\n')
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=broken)
    wal_path(here, ids[4]).unlink()
    with pytest.raises(MirrorError, match="damaged"):
        Mirror(store, fence=1).pull(here)
    assert not wal_path(here, ids[4]).exists()


def test_the_transaction_core_names_no_cloud_and_team_mode_loads_no_sdk_until_used() -> None:
    """txn/ talks to stores through protocols; `dpn_action.team` imports boto3 only when a
    store is first used, so parsing the URLs loads no SDK."""
    import ast

    txn = Path(__file__).resolve().parents[1] / "dpn_action" / "txn"
    for path in txn.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(("boto3", "botocore", "databricks")), (path, name)
                assert not name.startswith(("dpn_action.team", "dpn_action.providers.")) or (
                    name == "dpn_action.providers.base"
                ), (path, name)
    code = (
        "import sys; from dpn_action.team import shared_from; import dpn_action.txn;"
        "shared_from('s3://bucket-ok/k', 's3://bucket-ok/wal');"
        "assert not {'boto3', 'botocore'} & set(sys.modules), 'cloud SDK imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_guard_takes_the_file_lock_and_the_lease_and_pulls_the_mirror(
    aws: Moto, tmp_path: Path
) -> None:
    _, url = prefix_url()
    txn = "20250101T000000000000Z-00000009"
    data = wal_with(tmp_path / "elsewhere", txn, 2).read_bytes()
    Mirror(mirror_store(url), fence=0).hook(txn, new=True)(len(data), lambda: data)
    said: list[str] = []
    shared = shared_from(f"s3://{BUCKET}/locks/guard-{token()}?lease=5", url, say=said.append)
    with Guard(tmp_path / "wal", timeout=5, purpose="recover", shared=shared) as guard:
        assert guard.fence == 1
        assert wal_path(tmp_path / "wal", txn).read_bytes() == data
        assert (tmp_path / "wal" / ".lock.holder").exists()
    assert said == [f"dpn: transaction {txn}: log restored from the mirror"]


def test_every_record_that_announces_a_call_is_mirrored_before_the_append_returns(
    aws: Moto, tmp_path: Path
) -> None:
    """An intent is in the mirror when its append returns; a `done` alone announces no call
    and rides along with the next copy; the end is copied and marks the log finished."""
    _, url = prefix_url()
    store = mirror_store(url)
    txn = "20250101T000000000000Z-0000000a"

    def mirrored() -> list[str]:
        found = store.get(txn)
        assert found is not None
        return [json.loads(line)["type"] for line in unframe(found[0], "copy")[1].splitlines()]

    hook = Mirror(store, fence=3).hook(txn, new=True)
    with WalWriter.create(tmp_path, txn, {"ops": []}, hook) as writer:
        assert mirrored() == ["begin"]
        writer.append("intent", {"key": "q", "action": "create"})
        assert mirrored() == ["begin", "intent"]
        writer.append("done", {"key": "q", "action": "create"})
        assert mirrored() == ["begin", "intent"]
        writer.append("intent", {"key": "r", "action": "create"})
        assert mirrored() == ["begin", "intent", "done", "intent"]
        assert store.list() == ({txn}, set())
        writer.append("end", {"status": "COMMITTED"})
    assert mirrored()[-1] == "end"
    assert store.list() == ({txn}, {txn})
    found = store.get(txn)
    assert (
        found is not None and unframe(found[0], "copy")[1] == wal_path(tmp_path, txn).read_bytes()
    )


def test_a_log_that_ended_here_but_not_in_the_mirror_is_completed_there(
    aws: Moto, tmp_path: Path
) -> None:
    _, url = prefix_url()
    store = mirror_store(url)
    txn = "20250101T000000000000Z-0000000b"
    with WalWriter.create(tmp_path, txn, {"ops": []}, Mirror(store, fence=1).hook(txn, new=True)):
        pass
    with WalWriter.open(wal_path(tmp_path, txn))[0] as unmirrored:  # its copy failed, say
        unmirrored.append("end", {"status": "NOTHING_TO_DO"})
    assert store.list() == ({txn}, set())

    notes = Mirror(store, fence=2).pull(tmp_path)

    assert notes == [f"transaction {txn}: its end, missing from the mirror, was copied there"]
    assert store.list() == ({txn}, {txn})
    found = store.get(txn)
    assert (
        found is not None and unframe(found[0], "copy")[1] == wal_path(tmp_path, txn).read_bytes()
    )


def test_the_actions_lock_and_wal_mirror_inputs_are_checked_before_any_work() -> None:
    from dpn_action.github.inputs import ActionError, parse_inputs

    good = parse_inputs(
        [], {"DPN_LOCK": " dynamodb://dpn-locks/prd ", "DPN_WAL_MIRROR": "s3://bucket-ok/wal/prd"}
    )
    assert (good.lock, good.wal_mirror) == ("dynamodb://dpn-locks/prd", "s3://bucket-ok/wal/prd")
    assert (parse_inputs([], {}).lock, parse_inputs([], {}).wal_mirror) == ("", "")
    for env, message in (
        ({"DPN_LOCK": "s3://bucket-ok"}, "lock: s3://bucket-ok: name the lock's object"),
        ({"DPN_WAL_MIRROR": "gs://b/p"}, "wal-mirror: gs://b/p: the WAL mirror is s3://"),
    ):
        with pytest.raises(ActionError, match=message) as refused:
            parse_inputs([], env)
        assert refused.value.reason == "usage"
