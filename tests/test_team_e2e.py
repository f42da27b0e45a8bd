"""Team mode end to end: `dpn` as separate processes, several of them on "different
machines" (directories that share nothing but the cloud), against moto and the loopback
Databricks server (`provision_env`), with the lease lock and the WAL mirror in moto's S3.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provision_env import Clouds, Workdir, dpn, new_token, wait_stopped, workdir
from team_env import BUCKET

from dpn_action.txn import TxnStatus, status
from dpn_action.txn.crash import STOP_ENV, TEAM_POINTS
from dpn_action.txn.log import TxnLog
from dpn_action.txn.wal import list_wal_files, read_wal, txn_id_of


@pytest.fixture(scope="module")
def clouds() -> Iterator[Clouds]:
    c = Clouds()
    c.client("s3").create_bucket(Bucket=BUCKET)
    yield c
    c.stop()


def team(token: str, *, lease: float = 3) -> tuple[str, ...]:
    """The options of a run in team mode: a lease lock and a mirror of this case's own."""
    return (
        "--lock",
        f"s3://{BUCKET}/locks/{token}.lock?lease={lease:g}",
        "--wal-mirror",
        f"s3://{BUCKET}/wal/{token}",
    )


def queues_workdir(root: Path, token: str | None = None) -> Workdir:
    """Four SQS queues and an SNS topic: quick to make, one after another."""
    work = workdir(root, token=token)
    data = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": work.token, "region": "us-east-1"},
        "resources": {
            "aws": {
                "sqs_queues": [
                    {"purpose": p, "queue_type": "events"} for p in ("a", "b", "c", "d")
                ],
                "sns_topics": [{"event_type": "quality", "purpose": "alerts"}],
            }
        },
    }
    work.blueprint.write_text(json.dumps(data), encoding="utf-8")
    return work


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr


def start(clouds: Clouds, work: Workdir, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dpn_action", *args],
        cwd=work.root,
        env=clouds.env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def mirror_copy(clouds: Clouds, token: str, txn_id: str) -> tuple[dict[str, Any], bytes]:
    body = clouds.client("s3").get_object(Bucket=BUCKET, Key=f"wal/{token}/txn-{txn_id}.jsonl")
    first, _, wal = body["Body"].read().partition(b"\n")
    return json.loads(first), wal


def records(wal: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in wal.splitlines()]


def queues_and_topics(clouds: Clouds, token: str) -> dict[str, dict[str, str]]:
    """Every queue and topic of the case, with its tags."""
    sqs, sns = clouds.client("sqs"), clouds.client("sns")
    out: dict[str, dict[str, str]] = {}
    for url in sqs.list_queues(QueueNamePrefix=token).get("QueueUrls", []):
        out[url.rsplit("/", 1)[1]] = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    for topic in sns.list_topics()["Topics"]:
        arn = topic["TopicArn"]
        if token in arn:
            tags = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
            out[arn.rsplit(":", 1)[1]] = {t["Key"]: t["Value"] for t in tags}
    return out


def test_the_team_crash_points_are_covered_here() -> None:
    assert TEAM_POINTS == ("before-mirror",)  # the stopped holder below stops there


def test_a_holder_stopped_past_its_lease_is_taken_over_and_fenced_out(
    clouds: Clouds, tmp_path: Path
) -> None:
    """A stops (SIGSTOP, a hung runner) right before its 4th copy to the mirror, the intent
    of its second create, having created one queue. B, on another machine, waits out A's
    lease, takes the lock over, finishes A's transaction from the mirror (rolling it back),
    and creates everything. A, resumed, is refused by the mirror and creates nothing."""
    a = queues_workdir(tmp_path / "a")
    b = queues_workdir(tmp_path / "b", token=a.token)
    options = team(a.token, lease=10)  # still A's when B starts: B must wait it out
    create = ("create", "--blueprint", "blueprint.json", "--max-parallel", "1")
    held = start(clouds, a, *create, *options, **{STOP_ENV: "before-mirror:4"})
    try:
        wait_stopped(held)
        (stopped_txn,) = [txn_id_of(p) for p in list_wal_files(a.wal)]
        assert len(queues_and_topics(clouds, a.token)) == 1  # its first create was made

        taking = dpn(clouds, b, *create, *options, "--lock-timeout", "60", "--format", "json")
    finally:
        held.send_signal(signal.SIGCONT)
    out, err = held.communicate(timeout=120)

    no_traceback(taking)
    assert taking.returncode == 0, taking.stderr
    assert f"held by dpn process {held.pid}" in taking.stderr
    assert f"transaction {stopped_txn}: log restored from the mirror" in taking.stderr
    result = json.loads(taking.stdout)
    assert result["status"] == "COMMITTED" and len(result["created"]) == 5
    assert [(r["transaction"], r["status"]) for r in result["recovered"]] == [
        (stopped_txn, "ROLLED_BACK")
    ]

    assert held.returncode == 1, err
    assert "Traceback" not in out + err
    # refused by the mirror (fencing), not only by its own lease check: it had passed that
    assert f"the mirror of transaction {stopped_txn}" in err and "taken over" in err, err
    # each name once, every one made by B's transaction: A made nothing after it resumed
    found = queues_and_topics(clouds, a.token)
    assert len(found) == 5
    assert {tags["dpn-transaction"] for tags in found.values()} == {result["transaction"]}
    # the mirror holds B's end of A's transaction, under B's fencing counter
    header, wal = mirror_copy(clouds, a.token, stopped_txn)
    assert header["fence"] == 2
    kinds = [r["type"] for r in records(wal)]
    assert kinds[-1] == "end" and records(wal)[-1]["status"] == "ROLLED_BACK"
    assert "recover" in kinds
    # A's own log has the intent it never got out (and so never acted on)
    a_log = read_wal(list_wal_files(a.wal)[0]).records
    assert a_log[-1]["type"] == "intent" and a_log[-1] not in records(wal)


def test_a_runner_lost_mid_apply_is_recovered_from_the_mirror_elsewhere(
    clouds: Clouds, tmp_path: Path
) -> None:
    """A is killed after its second create; its directory (and so its WAL) is gone and no
    artifact was uploaded. `dpn recover` in an empty directory on another machine waits out
    A's lease and rolls A's transaction back from the mirror."""
    a = queues_workdir(tmp_path / "a")
    options = team(a.token, lease=2)
    lost = dpn(
        clouds,
        a,
        "create",
        "--blueprint",
        "blueprint.json",
        "--max-parallel",
        "1",
        *options,
        crash_at="after-done:2",
    )
    assert lost.returncode == -signal.SIGKILL, lost.stderr
    (txn_id,) = [txn_id_of(p) for p in list_wal_files(a.wal)]
    assert len(queues_and_topics(clouds, a.token)) == 2
    shutil.rmtree(a.root)

    elsewhere = Workdir(tmp_path / "elsewhere", a.token, tmp_path / "none.json")
    elsewhere.root.mkdir()
    proc = dpn(clouds, elsewhere, "recover", *options, "--format", "json")

    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "waiting for the lock" in proc.stderr and "held by dpn process" in proc.stderr
    assert json.loads(proc.stdout)["status"] == "ROLLED_BACK"
    assert queues_and_topics(clouds, a.token) == {}
    assert [(r.txn_id, r.status) for r in status(elsewhere.wal)] == [
        (txn_id, TxnStatus.ROLLED_BACK)
    ]
    finished = clouds.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"wal/{a.token}/finished/")
    assert [o["Key"] for o in finished["Contents"]] == [f"wal/{a.token}/finished/txn-{txn_id}"]
    again = dpn(clouds, elsewhere, "recover", *options)
    assert (again.returncode, again.stdout.strip()) == (0, "nothing to recover")


def test_a_transaction_in_team_mode_mirrors_every_record_and_frees_the_lock(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = queues_workdir(tmp_path / "w")
    options = team(work.token)
    proc = dpn(clouds, work, "create", "--blueprint", "blueprint.json", *options)
    assert proc.returncode == 0, proc.stderr
    (path,) = list_wal_files(work.wal)
    header, wal = mirror_copy(clouds, work.token, txn_id_of(path))
    assert wal == path.read_bytes()  # the whole log, byte for byte
    assert header["fence"] == 1
    lock = clouds.client("s3").get_object(Bucket=BUCKET, Key=f"locks/{work.token}.lock")
    record = json.loads(lock["Body"].read())
    assert (record["owner"], record["expires"], record["counter"]) == ("", 0, 1)
    second = dpn(clouds, work, "create", "--blueprint", "blueprint.json", *options)
    assert second.returncode == 0 and "waiting" not in second.stderr


def test_bad_team_urls_are_usage_errors(clouds: Clouds, tmp_path: Path) -> None:
    work = queues_workdir(tmp_path / "w")
    for args, message in (
        (("--lock", "redis://x/y"), "a lock is s3://BUCKET/KEY or dynamodb://TABLE/KEY"),
        (("--wal-mirror", "s3://Bad_Bucket/x"), "not an S3 bucket name"),
        (("--lock", "s3://bucket-ok/k?lease=99999"), "lease must be a number of seconds"),
    ):
        proc = dpn(clouds, work, "create", "--blueprint", "blueprint.json", *args)
        no_traceback(proc)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not work.wal.exists()


# ----------------------------------------------------------------------------- adopt


def adopt_workdir(root: Path) -> Workdir:
    work = workdir(root)
    data = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": work.token, "region": "us-east-1"},
        "resources": {
            "aws": {
                "s3_buckets": [
                    {"purpose": "landing", "layer": "raw"},
                    {"purpose": "lake", "layer": "bronze"},
                ],
                "sqs_queues": [{"purpose": "ingest", "queue_type": "events"}],
            }
        },
    }
    work.blueprint.write_text(json.dumps(data), encoding="utf-8")
    return work


def bucket_tags(clouds: Clouds, name: str) -> dict[str, str]:
    try:
        tags = clouds.client("s3").get_bucket_tagging(Bucket=name)["TagSet"]
    except Exception as exc:
        if "NoSuchTagSet" in str(exc):
            return {}
        raise
    return {t["Key"]: t["Value"] for t in tags}


def test_adopt_marks_only_the_named_bucket_so_create_adopts_it_and_makes_the_rest(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = adopt_workdir(tmp_path / "w")
    t = work.token
    ours, theirs = f"{t}-landing-raw-dev-use1", f"{t}-lake-bronze-dev-use1"
    queue = f"{t}-dev-ingest-events"
    s3 = clouds.client("s3")
    s3.create_bucket(Bucket=ours)  # made by hand, before dpn, without any tag
    s3.create_bucket(Bucket=theirs)
    s3.put_bucket_tagging(Bucket=theirs, Tagging={"TagSet": [{"Key": "owner", "Value": "them"}]})
    create = ("create", "--blueprint", "blueprint.json")

    conflict = dpn(clouds, work, *create)
    assert conflict.returncode == 1
    assert f"conflict     aws_s3_bucket:{ours}" in conflict.stdout
    assert f"conflict     aws_s3_bucket:{theirs}" in conflict.stdout

    declined = dpn(clouds, work, "adopt", "--blueprint", "blueprint.json", ours, input="n\n")
    assert declined.returncode == 1 and "Aborted" in declined.stderr
    assert bucket_tags(clouds, ours) == {}

    adopted = dpn(clouds, work, "adopt", "--blueprint", "blueprint.json", ours, "--yes")
    no_traceback(adopted)
    assert adopted.returncode == 0, adopted.stderr
    assert f"mark      aws_s3_bucket  {ours}  -" in adopted.stdout
    assert f"adopted      aws_s3_bucket:{ours}" in adopted.stdout
    (adopt_log,) = [TxnLog.from_read(read_wal(p)) for p in list_wal_files(work.wal)[-1:]]
    assert adopt_log.kind == "adopt" and adopt_log.status is TxnStatus.COMMITTED
    assert bucket_tags(clouds, ours) == {"managed-by": "dpn", "dpn-transaction": adopt_log.txn_id}
    assert bucket_tags(clouds, theirs) == {"owner": "them"}  # not named: untouched
    kinds = [r["type"] for r in read_wal(adopt_log.path).records] if adopt_log.path else []
    assert kinds == ["begin", "adopt-preflight", "mark", "marked", "end"]

    missing = dpn(clouds, work, "adopt", "--blueprint", "blueprint.json", queue, "--yes")
    assert missing.returncode == 1
    assert "does not exist: adopt creates nothing" in missing.stdout
    assert "QueueUrls" not in clouds.client("sqs").list_queues(QueueNamePrefix=t)

    still = dpn(clouds, work, *create, "--format", "json")
    assert json.loads(still.stdout)["conflicts"] == [f"aws_s3_bucket:{theirs}"]
    assert bucket_tags(clouds, theirs) == {"owner": "them"}

    data = json.loads(work.blueprint.read_text())
    data["resources"]["aws"]["s3_buckets"] = data["resources"]["aws"]["s3_buckets"][:1]
    work.blueprint.write_text(json.dumps(data))
    done = dpn(clouds, work, *create, "--format", "json")
    result = json.loads(done.stdout)
    assert (result["status"], result["adopted"]) == ("COMMITTED", [f"aws_s3_bucket:{ours}"])
    assert result["created"] == [f"aws_sqs_queue:{queue}"]
    assert bucket_tags(clouds, ours)["dpn-transaction"] == adopt_log.txn_id  # kept, not remade
    assert bucket_tags(clouds, theirs) == {"owner": "them"}


def test_adopt_without_names_shows_every_resource_and_marks_only_foreign_ones(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = adopt_workdir(tmp_path / "w")
    t = work.token
    made = dpn(clouds, work, "create", "--blueprint", "blueprint.json")
    assert made.returncode == 0, made.stderr
    proc = dpn(clouds, work, "adopt", "--blueprint", "blueprint.json", "--format", "json")
    assert proc.returncode == 0 and "nothing to adopt" in proc.stderr
    verdicts = {r["key"]: r["verdict"] for r in json.loads(proc.stdout)}
    assert set(verdicts.values()) == {"ours"} and len(verdicts) == 3
    assert f"aws_sqs_queue:{t}-dev-ingest-events" in verdicts


# ---------------------------------------------------------------------------- the Action


def test_the_actions_recover_mode_finishes_a_lost_runners_transaction_from_the_mirror(
    clouds: Clouds, tmp_path: Path
) -> None:
    """No artifact: the runner died before its upload. The Action's recover mode, with the
    `lock` and `wal-mirror` inputs, finds the transaction in the mirror and rolls it back."""
    from github_api_server import GitHubServer, State
    from test_action_e2e import _run_action, _small_repo, push_payload

    token = new_token()
    lock = f"s3://{BUCKET}/locks/{token}.lock?lease=2"
    mirror = f"s3://{BUCKET}/wal/{token}"
    repo, base = _small_repo(tmp_path)
    create = ["create", "--blueprint", "blueprints/prd.json", "--max-parallel", "1"]
    where = ["--lock", lock, "--wal-mirror", mirror, "--wal-dir", str(tmp_path / "lost")]
    lost = subprocess.run(
        [sys.executable, "-m", "dpn_action", *create, *where],
        cwd=repo.path,
        env=clouds.env(crash_at="after-done:1"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert lost.returncode == -signal.SIGKILL, lost.stderr
    assert prd_resources(clouds)  # its first create was made
    shutil.rmtree(tmp_path / "lost")

    with GitHubServer(State(tokens={"t"})) as server:
        rc, outputs, log = _run_action(
            repo,
            tmp_path,
            server.url,
            "workflow_dispatch",
            push_payload(base, base),
            DPN_MODE="recover",
            DPN_ENVIRONMENT="prd",
            DPN_LOCK=lock,
            DPN_WAL_MIRROR=mirror,
            **{k: v for k, v in clouds.env().items() if k.startswith(("AWS_", "DATABRICKS_"))},
        )

    assert rc == 0, log
    assert outputs["mode"] == "recover"
    assert "log restored from the mirror" in log
    assert re.search(r"dpn: recovered transaction \S+: ROLLED_BACK", log), log
    assert prd_resources(clouds) == []


def prd_resources(clouds: Clouds) -> list[str]:
    """What exists of the Action test's prd blueprint (a bucket and a table)."""
    buckets = [b["Name"] for b in clouds.client("s3").list_buckets()["Buckets"]]
    tables = clouds.client("dynamodb").list_tables()["TableNames"]
    return [
        n for n in buckets + tables if n.startswith("acme-") and n.endswith(("prd-use1", "state"))
    ]


def test_adopt_marks_a_databricks_pool_and_changes_nothing_else(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path / "w")
    data = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": work.token, "region": "us-east-1"},
        "resources": {
            "databricks": {
                "instance_pools": [
                    {"node_type": "i3", "purpose": "general", "node_type_id": "i3.xlarge"}
                ]
            }
        },
    }
    work.blueprint.write_text(json.dumps(data), encoding="utf-8")
    name = f"{work.token}-pool-i3-general-dev"
    made = clouds.workspace.instance_pools.create(
        instance_pool_name=name, node_type_id="i3.xlarge", custom_tags={"team": "them"}
    )
    before = clouds.workspace.instance_pools.get(made.instance_pool_id).as_dict()

    proc = dpn(clouds, work, "adopt", "--blueprint", "blueprint.json", "--yes")

    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    after = clouds.workspace.instance_pools.get(made.instance_pool_id).as_dict()
    (txn,) = [txn_id_of(p) for p in list_wal_files(work.wal)]
    assert after["custom_tags"] == {"team": "them", "managed-by": "dpn", "dpn-transaction": txn}
    unchanged = {k: v for k, v in after.items() if k != "custom_tags"}
    assert unchanged == {k: v for k, v in before.items() if k != "custom_tags"}
    created = dpn(clouds, work, "create", "--blueprint", "blueprint.json", "--format", "json")
    assert json.loads(created.stdout)["adopted"] == [f"dbx_instance_pool:{name}"]
