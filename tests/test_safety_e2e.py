"""The promise, tried as an unlucky operator and a careful attacker would, end to end.

`dpn` runs as a separate process with the real boto3 and databricks-sdk against moto and the
loopback Databricks server (`provision_env`). Each case proves three things: nothing that is
not dpn's is deleted, the write-ahead log still parses, and committed work is kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provision_env import Clouds, Workdir, dpn, new_token, workdir

from dpn_action.txn import KeyState, TxnStatus, status
from dpn_action.txn.crash import DISK_FULL_ENV, STOP_ENV
from dpn_action.txn.log import TxnLog
from dpn_action.txn.wal import canonical, list_wal_files, read_wal, record_crc

CREATE = ("create", "--blueprint", "blueprint.json")


@pytest.fixture(scope="module")
def clouds() -> Iterator[Clouds]:
    c = Clouds()
    yield c
    c.stop()


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr


def log_of(work: Workdir) -> TxnLog:
    """The one transaction of the work directory, read (and so checked) from its file."""
    paths = list_wal_files(work.wal)
    assert len(paths) == 1, paths
    return TxnLog.from_read(read_wal(paths[0]))


def small(token: str, **aws: Any) -> dict[str, Any]:
    """A blueprint of AWS resources only, in the given collections."""
    return {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": token, "region": "us-east-1"},
        "resources": {"aws": aws},
    }


def small_workdir(root: Path, **aws: Any) -> Workdir:
    work = workdir(root)
    work.blueprint.write_text(json.dumps(small(work.token, **aws)), encoding="utf-8")
    return work


# ------------------------------------------------------------------ another team's resources

#: the three the other team replaces come first in plan order, one at a time; the Glue
#: table, last, is the one the crash leaves uncreated, so the transaction is unfinished
REPLACED = {
    "glue_databases": [{"id": "db", "domain": "sales", "layer": "bronze"}],
    "glue_tables": [{"database_ref": "db", "entity": "orders"}],
    "dynamodb_tables": [{"entity": "orders", "purpose": "state"}],
    "sqs_queues": [{"purpose": "ingest", "queue_type": "events"}],
}


def test_recovery_keeps_what_another_team_made_under_our_names(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = small_workdir(tmp_path, **REPLACED)
    t = work.token
    killed = dpn(clouds, work, *CREATE, "--max-parallel", "1", crash_at="after-done:3")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    log = log_of(work)
    pending = [k for k, i in log.keys.items() if i.state is not KeyState.CREATED]
    assert pending == [f"aws_glue_table:{t}_sales_bronze_dev.fact_orders"], pending

    # Between the crash and the recovery, another team deletes three of the names and makes
    # its own resources under them, with data in them.
    db, table, queue = f"{t}_sales_bronze_dev", f"{t}-dev-orders-state", f"{t}-dev-ingest-events"
    glue, ddb, sqs = clouds.client("glue"), clouds.client("dynamodb"), clouds.client("sqs")
    glue.delete_database(Name=db)
    glue.create_database(DatabaseInput={"Name": db, "Description": "theirs"})
    glue.create_table(DatabaseName=db, TableInput={"Name": "their_table"})
    ddb.delete_table(TableName=table)
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"k": {"S": "their row"}})
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="their message")

    proc = dpn(clouds, work, "recover", "--format", "json")

    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "ROLLED_BACK"
    assert sorted(result["not_ours"]) == sorted(
        [f"aws_glue_database:{db}", f"aws_dynamodb_table:{table}", f"aws_sqs_queue:{queue}"]
    )
    assert all(v.startswith("not ours: kept") for v in result["not_ours"].values())
    # theirs, with their data, is all that is left
    assert glue.get_database(Name=db)["Database"]["Description"] == "theirs"
    assert [x["Name"] for x in glue.get_tables(DatabaseName=db)["TableList"]] == ["their_table"]
    assert ddb.scan(TableName=table)["Items"] == [{"k": {"S": "their row"}}]
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert msgs[0]["Body"] == "their message"
    assert clouds.inventory(t).keys == {
        f"aws_glue_database:{db}",
        f"aws_glue_table:{db}.their_table",
        f"aws_dynamodb_table:{table}",
        f"aws_sqs_queue:{queue}",
    }
    assert [r.status for r in status(work.wal)] == [TxnStatus.ROLLED_BACK]


def test_delete_keeps_a_resource_another_team_put_under_a_planned_name(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = small_workdir(
        tmp_path, sqs_queues=[*REPLACED["sqs_queues"], {"purpose": "ingest", "queue_type": "dlq"}]
    )
    t = work.token
    assert dpn(clouds, work, *CREATE).returncode == 0
    sqs = clouds.client("sqs")
    queue = f"{t}-dev-ingest-events"
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    sqs.create_queue(QueueName=queue, tags={"team": "other"})

    proc = dpn(clouds, work, "delete", "--blueprint", "blueprint.json", "--yes")

    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert f"keep     aws_sqs_queue:{queue} (not managed by dpn" in proc.stdout
    assert clouds.inventory(t).keys == {f"aws_sqs_queue:{queue}"}  # the dlq was deleted


# ------------------------------------------------------------------------------ full disk


@pytest.mark.parametrize("first_failing_write", [2, 5, 17, 40])
def test_a_full_disk_stops_create_cleanly_and_recovery_finishes_once_space_returns(
    clouds: Clouds, tmp_path: Path, first_failing_write: int
) -> None:
    work = workdir(tmp_path)
    proc = dpn(clouds, work, *CREATE, env={DISK_FULL_ENV: f"{first_failing_write}-"})

    no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "could not be written (No space left on device)" in proc.stderr
    assert "run `dpn recover`" in proc.stderr
    listing = status(work.wal)  # parses: never CORRUPT
    assert all(r.status is not TxnStatus.CORRUPT for r in listing)

    again = dpn(clouds, work, "recover")  # the disk has room again

    no_traceback(again)
    assert again.returncode == 0, again.stderr
    assert clouds.inventory(work.token).keys == set()
    assert all(r.status is TxnStatus.ROLLED_BACK for r in status(work.wal))


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def test_a_small_tmpfs_filling_up_mid_create(clouds: Clouds, tmp_path: Path) -> None:
    """The same on a real file system that runs out of space: a 24 KiB tmpfs."""
    work = workdir(tmp_path / "w")
    if os.geteuid() != 0 or not _mount_tmpfs(work.wal, "24k"):
        pytest.skip("mounting a tmpfs needs root (the injected ENOSPC cases run everywhere)")
    try:
        proc = dpn(clouds, work, *CREATE, "--max-parallel", "1")
        no_traceback(proc)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "No space left on device" in proc.stderr
        assert all(r.status is not TxnStatus.CORRUPT for r in status(work.wal))
        assert clouds.inventory(work.token).keys  # it had created some before the disk filled
        subprocess.run(["mount", "-o", "remount,size=1m", str(work.wal)], check=True)
        again = dpn(clouds, work, "recover")
        assert again.returncode == 0, again.stderr
        assert clouds.inventory(work.token).keys == set()
        assert [r.status for r in status(work.wal)] == [TxnStatus.ROLLED_BACK]
    finally:
        subprocess.run(["umount", "-l", str(work.wal)], check=False)


# --------------------------------------------------------------------- committed work stays


@pytest.mark.parametrize("damage", ["cut-50-bytes", "flip-a-bit"])
def test_damage_to_the_end_of_a_committed_log_deletes_nothing(
    clouds: Clouds, tmp_path: Path, damage: str
) -> None:
    work = small_workdir(tmp_path, s3_buckets=[{"purpose": "landing", "layer": "raw"}], **REPLACED)
    assert dpn(clouds, work, *CREATE).returncode == 0
    bucket = f"{work.token}-landing-raw-dev-use1"
    clouds.client("s3").put_object(Bucket=bucket, Key="data.csv", Body=b"a,b\n1,2\n")
    (path,) = list_wal_files(work.wal)
    data = path.read_bytes()
    if damage == "cut-50-bytes":
        path.write_bytes(data[:-50])
    else:
        at = len(data) - 30
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x04]) + data[at + 1 :])
    before = clouds.inventory(work.token).keys

    proc = dpn(clouds, work, *CREATE, "--format", "json")  # the next run recovers it first

    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "recovered earlier transaction" in proc.stderr and ": COMMITTED" in proc.stderr
    assert json.loads(proc.stdout)["status"] == "NOTHING_TO_DO"
    assert clouds.inventory(work.token).keys == before
    objects = clouds.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Key"] for o in objects] == ["data.csv"]  # the bucket was never emptied
    assert [r.status for r in status(work.wal)] == [TxnStatus.COMMITTED, TxnStatus.NOTHING_TO_DO]


# ------------------------------------------------------------------------ another account


def _rewrite_begin(path: Path, **fields: Any) -> None:
    """Change the begin record of a WAL file and chain every CRC again: a log that is
    intact, only made somewhere else."""
    records = read_wal(path).records
    records[0].update(fields)
    prev = 0
    lines = []
    for record in records:
        record["crc"] = record_crc(record, prev)
        prev = record["crc"]
        lines.append(canonical(record))
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert zlib.crc32(b"") == 0  # the chain starts at 0


def test_a_log_from_another_account_is_refused_not_acted_on(clouds: Clouds, tmp_path: Path) -> None:
    work = small_workdir(tmp_path, **REPLACED)
    killed = dpn(clouds, work, *CREATE, "--max-parallel", "1", crash_at="after-done:2")
    assert killed.returncode == -signal.SIGKILL
    (path,) = list_wal_files(work.wal)
    target = TxnLog.from_read(read_wal(path)).target
    assert target["aws"]["account"] == "123456789012"
    _rewrite_begin(path, target={"aws": {**target["aws"], "account": "999999999999"}})
    before = clouds.inventory(work.token).keys
    assert len(before) == 2

    for args in (("recover",), CREATE):
        proc = dpn(clouds, work, *args)
        no_traceback(proc)
        assert proc.returncode == 1
        assert "was made in aws account 999999999999" in proc.stderr
        assert "this run is configured for aws account 123456789012" in proc.stderr
    assert clouds.inventory(work.token).keys == before  # nothing deleted, nothing created


# ------------------------------------------------------------------------------ signals


def _start(
    clouds: Clouds, work: Workdir, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dpn_action", *args],
        cwd=work.root,
        env={**clouds.env(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_stopped(proc: subprocess.Popen[str]) -> None:
    """Until `proc` has stopped itself (state T in /proc)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
        if stat.rpartition(")")[2].split()[0] == "T":
            return
        time.sleep(0.02)
    raise AssertionError("the run never stopped")


def _wait_for_creates(work: Workdir, n: int, proc: subprocess.Popen[str]) -> None:
    """Until the running transaction has recorded `n` creates."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        paths = list_wal_files(work.wal)
        if paths:
            done = read_wal(paths[-1]).records
            if sum(1 for r in done if r["type"] == "done") >= n:
                return
        time.sleep(0.02)
    raise AssertionError("the transaction never got going")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_create_rolls_back_and_says_so(
    clouds: Clouds, tmp_path: Path, sig: signal.Signals
) -> None:
    work = workdir(tmp_path)
    proc = _start(clouds, work, *CREATE, "--max-parallel", "1")
    _wait_for_creates(work, 3, proc)

    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)

    assert "Traceback" not in out + err, err
    assert proc.returncode == 128 + sig, err
    assert f"dpn: {sig.name}: no new cloud calls start" in err
    assert "ROLLED_BACK" in out
    assert clouds.inventory(work.token).keys == set()
    (result,) = status(work.wal)
    assert result.status is TxnStatus.ROLLED_BACK
    assert (result.error or "").startswith(f"interrupted by {sig.name}")


def test_a_second_signal_stops_at_once_and_recover_finishes(clouds: Clouds, tmp_path: Path) -> None:
    """As GitHub cancels a job: SIGINT, then SIGTERM."""
    work = workdir(tmp_path)
    # the run stops itself (SIGSTOP) as its rollback begins, so the second signal surely
    # arrives while the rollback is under way, however fast the clouds answer
    stop = {STOP_ENV: "rollback-before-intent"}
    proc = _start(clouds, work, *CREATE, "--max-parallel", "1", env=stop)
    _wait_for_creates(work, 3, proc)

    proc.send_signal(signal.SIGINT)
    _wait_until_stopped(proc)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)

    assert "Traceback" not in out + err, err
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped at once" in err and "run `dpn recover` to finish it" in err
    assert all(r.status is not TxnStatus.CORRUPT for r in status(work.wal))
    again = dpn(clouds, work, "recover")
    assert again.returncode == 0, again.stderr
    assert clouds.inventory(work.token).keys == set()


# ------------------------------------------------------------------------------ secrets


def test_lambda_environment_values_reach_the_function_but_never_the_log(
    clouds: Clouds, tmp_path: Path
) -> None:
    secret = f"pw-{new_token()}-{new_token()}"
    work = small_workdir(
        tmp_path,
        iam_roles=[
            {"id": "r", "service": "lambda", "purpose": "fn", "assume_role_service": "lambda"}
        ],
        lambda_functions=[
            {
                "domain": "orders",
                "trigger": "s3",
                "action": "load",
                "role_ref": "r",
                "runtime": "python3.12",
                "handler": "app.handler",
                "environment_variables": {"DB_PASSWORD": secret},
            }
        ],
    )

    proc = dpn(clouds, work, *CREATE)

    assert proc.returncode == 0, proc.stderr
    fn = clouds.client("lambda").get_function(FunctionName=f"{work.token}-dev-orders-s3-load")
    assert fn["Configuration"]["Environment"]["Variables"] == {"DB_PASSWORD": secret}
    for path in work.wal.iterdir():
        assert secret not in path.read_text(errors="replace"), path
    assert secret not in proc.stdout + proc.stderr
    (log_path,) = list_wal_files(work.wal)
    assert '"environment_variables":"sha256:' in log_path.read_text()


# ------------------------------------------------------------------ policy sanity at create


def test_create_shows_policy_warnings_and_strict_refuses_them(
    clouds: Clouds, tmp_path: Path
) -> None:
    anyone = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    work = small_workdir(
        tmp_path, iam_roles=[{"service": "etl", "purpose": "open", "trust_policy": anyone}]
    )

    strict = dpn(clouds, work, *CREATE, "--strict")
    assert strict.returncode == 1 and "DPN300" in strict.stderr
    assert clouds.inventory(work.token).keys == set()

    lenient = dpn(clouds, work, *CREATE)
    assert lenient.returncode == 0, lenient.stderr
    assert "DPN300" in lenient.stderr  # shown, not hidden


# ------------------------------------------------------------------ dpn apply --on-removed


def test_apply_deletes_the_old_name_of_a_rename_and_keeps_a_foreign_one(
    clouds: Clouds, tmp_path: Path
) -> None:
    """`dpn apply --on-removed delete`: the old names dpn made from the file and the file no
    longer describes go, after the new ones are created; one another team holds now stays."""
    queues = [
        {"purpose": "ingest", "queue_type": "events"},
        {"purpose": "ingest", "queue_type": "dlq"},
    ]
    work = small_workdir(tmp_path, sqs_queues=queues)
    t = work.token
    assert dpn(clouds, work, "apply", "--blueprint", "blueprint.json").returncode == 0
    # rename both queues; meanwhile another team takes over the old dlq name
    renamed = [{**q, "purpose": "intake"} for q in queues]
    work.blueprint.write_text(json.dumps(small(t, sqs_queues=renamed)), encoding="utf-8")
    sqs = clouds.client("sqs")
    old_dlq = f"{t}-dev-ingest-dlq"
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=old_dlq)["QueueUrl"])
    sqs.create_queue(QueueName=old_dlq, tags={"team": "other"})

    kept = dpn(clouds, work, "apply", "--blueprint", "blueprint.json", "--format", "json")
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["orphans"] == [
        f"aws_sqs_queue:{t}-dev-ingest-dlq",
        f"aws_sqs_queue:{t}-dev-ingest-events",
    ]  # on-removed keep (the default): nothing deleted, everything listed

    proc = dpn(
        clouds,
        work,
        *("apply", "--blueprint", "blueprint.json", "--on-removed", "delete"),
        *("--format", "json"),
    )

    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["create"]["status"] == "NOTHING_TO_DO"
    assert result["remove"]["status"] == "DELETED"
    assert result["remove"]["deleted"] == [f"aws_sqs_queue:{t}-dev-ingest-events"]
    assert result["orphans"] == [f"aws_sqs_queue:{old_dlq}"]
    assert clouds.inventory(t).keys == {
        f"aws_sqs_queue:{t}-dev-intake-events",
        f"aws_sqs_queue:{t}-dev-intake-dlq",
        f"aws_sqs_queue:{old_dlq}",  # theirs, kept
    }
    assert sqs.list_queue_tags(QueueUrl=sqs.get_queue_url(QueueName=old_dlq)["QueueUrl"])[
        "Tags"
    ] == {"team": "other"}
    kinds = [TxnLog.from_read(read_wal(p)).kind for p in list_wal_files(work.wal)]
    assert kinds[-1] == "delete"  # logged like every delete, recovery finishes it


# ------------------------------------------------------------------------ cloud check


def test_plan_preview_cloud_marks_each_name_new_adopt_or_conflict(
    clouds: Clouds, tmp_path: Path
) -> None:
    buckets = [
        {"purpose": "landing", "layer": "raw"},
        {"purpose": "lake", "layer": "raw"},
        {"purpose": "archive", "layer": "raw"},
    ]
    work = small_workdir(tmp_path, s3_buckets=buckets)
    t = work.token
    s3 = clouds.client("s3")
    s3.create_bucket(Bucket=f"{t}-lake-raw-dev-use1")  # someone else's: no marks
    s3.create_bucket(Bucket=f"{t}-archive-raw-dev-use1")
    s3.put_bucket_tagging(
        Bucket=f"{t}-archive-raw-dev-use1",
        Tagging={"TagSet": [{"Key": "managed-by", "Value": "dpn"}]},
    )

    proc = dpn(clouds, work, "plan", "preview", "--cloud", "--format", "json", "blueprint.json")

    no_traceback(proc)
    assert proc.returncode == 1  # a conflict is an error: the merge would fail
    doc = json.loads(proc.stdout)
    assert {r["name"]: r["cloud"] for r in doc["resources"]} == {
        f"{t}-landing-raw-dev-use1": "new",
        f"{t}-lake-raw-dev-use1": "conflict",
        f"{t}-archive-raw-dev-use1": "adopt",
    }
    (conflict,) = doc["findings"]
    assert conflict["code"] == "DPN140" and conflict["pointer"] == "/resources/aws/s3_buckets/1"
    assert conflict["file"] == "blueprint.json" and conflict["line"] > 0
    # nothing was created or changed: only read
    assert clouds.inventory(t).keys == {
        f"aws_s3_bucket:{t}-lake-raw-dev-use1",
        f"aws_s3_bucket:{t}-archive-raw-dev-use1",
    }
    assert not work.wal.exists()
