"""`dpn sweep` end to end: `dpn` as a separate process against moto over HTTP and the
loopback Databricks server (`provision_env`).

A sweep lists a whole account, so every case works in an AWS account of its own: moto
answers requests signed with credentials from `sts:AssumeRole` of a role in another account
in that account, as AWS does. Nothing another test left in moto is ever seen, let alone
deleted. Orphans are made the ways they arise: a runner killed mid-apply whose log is lost,
an entry removed from a blueprint, or resources tagged by hand with an old transaction id.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from provision_env import EXAMPLES, REGION, Clouds, new_token, wait_stopped

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.txn import TxnStatus, status
from dpn_action.txn.crash import ENV_VAR as CRASH_ENV
from dpn_action.txn.crash import STOP_ENV
from dpn_action.txn.log import TxnLog
from dpn_action.txn.wal import list_wal_files, new_txn_id, read_wal, txn_id_of

#: a transaction id of years ago, as an orphan of a long-lost run carries it
OLD_TXN = "20200102T030405060708Z-0badc0de"
LOCKS = "dpn-sweep-state"


@pytest.fixture(scope="module")
def clouds() -> Iterator[Clouds]:
    c = Clouds()
    yield c
    c.stop()


class Case:
    """A repository (the examples' naming configs, blueprints under `blueprints/`) whose
    `dpn` runs act in an AWS account of the case's own."""

    def __init__(self, clouds: Clouds, root: Path) -> None:
        self.clouds = clouds
        self.root = root
        self.token = new_token()
        self.account = str(secrets.randbelow(9 * 10**11) + 10**11)
        creds = clouds.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{self.account}:role/dpn-sweep-tests",
            RoleSessionName="dpn-sweep-tests",
        )["Credentials"]
        self.aws = {
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
        }
        root.mkdir(parents=True)
        shutil.copytree(EXAMPLES / ".dpn", root / ".dpn")

    @property
    def wal(self) -> Path:
        return self.root / ".dpn-wal"

    def write(self, name: str, resources: dict[str, Any]) -> str:
        """`blueprints/<name>.json` of the case's project, dev, us-east-1: its path."""
        data = {
            "version": "1.0",
            "metadata": {"environment": "dev", "project": self.token, "region": REGION},
            "resources": resources,
        }
        path = self.root / "blueprints" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return f"blueprints/{name}.json"

    def remove(self, name: str) -> None:
        (self.root / "blueprints" / f"{name}.json").unlink()

    def env(self, **extra: str) -> dict[str, str]:
        return {**self.clouds.env(), **self.aws, **extra}

    def dpn(
        self, *args: str, input: str | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "dpn_action", *args],
            cwd=self.root,
            env=self.env(**extra),
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
        return proc

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "dpn_action", *args],
            cwd=self.root,
            env=self.env(**extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.clouds.aws_url,
            region_name=REGION,
            aws_access_key_id=self.aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.aws["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.aws["AWS_SESSION_TOKEN"],
        )

    # --- what the account holds -------------------------------------------------------------

    def queues(self) -> dict[str, dict[str, str]]:
        """Every queue of the account with its tags."""
        sqs = self.client("sqs")
        return {
            url.rsplit("/", 1)[1]: sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
            for url in sqs.list_queues().get("QueueUrls", [])
        }

    def topics(self) -> dict[str, dict[str, str]]:
        sns = self.client("sns")
        out = {}
        for topic in sns.list_topics()["Topics"]:
            arn = topic["TopicArn"]
            tags = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
            out[arn.rsplit(":", 1)[1]] = {t["Key"]: t["Value"] for t in tags}
        return out

    def queue(self, name: str, **tags: str) -> None:
        self.client("sqs").create_queue(QueueName=name, tags=tags)

    def topic(self, name: str, **tags: str) -> str:
        arn: str = self.client("sns").create_topic(
            Name=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )["TopicArn"]
        return arn


def marks(txn: str, **more: str) -> dict[str, str]:
    return {"managed-by": "dpn", "dpn-transaction": txn, **more}


def sweep_json(case: Case, *args: str, **extra: str) -> dict[str, Any]:
    proc = case.dpn("sweep", "--format", "json", *args, **extra)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def verdicts(data: dict[str, Any]) -> dict[str, str]:
    return {r["key"]: r["verdict"] for r in data["orphans"] + data["kept"]}


def queues(*purposes: str) -> dict[str, Any]:
    return {"sqs_queues": [{"purpose": p, "queue_type": "events"} for p in purposes]}


# ------------------------------------------------------------------ found by tags alone


def test_with_the_wal_gone_the_sweep_finds_a_lost_runs_orphans_by_their_tags(
    clouds: Clouds, tmp_path: Path
) -> None:
    """A runner is killed half-way through an apply and its log is lost with it (no
    mirror); then the entries it was creating are dropped from the blueprints. The sweep
    finds what that run made by the marks alone and deletes exactly that: another team's
    queue without dpn's mark, and a dpn queue a blueprint still describes, stay as they
    were."""
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    keep = case.write("keep", {"aws": queues("keep")})
    assert case.dpn("create", "--blueprint", keep).returncode == 0
    gone = case.write(
        "gone",
        {
            "aws": {
                **queues("ingest", "retry"),
                "sns_topics": [{"event_type": "qa", "purpose": "x"}],
            }
        },
    )
    lost = case.dpn(
        "create", "--blueprint", gone, "--max-parallel", "1", **{CRASH_ENV: "after-done:2"}
    )
    assert lost.returncode == -signal.SIGKILL, lost.stderr
    lost_txn = txn_id_of(list_wal_files(case.wal)[-1])
    shutil.rmtree(case.wal)  # the runner's disk is gone, and no artifact was kept
    case.remove("gone")
    case.queue(f"{t}-dev-theirs-events", team="them")  # another team's, no dpn mark
    made = {
        f"aws_sqs_queue:{n}"
        for n, tags in case.queues().items()
        if tags.get("dpn-transaction") == lost_txn
    } | {
        f"aws_sns_topic:{n}"
        for n, tags in case.topics().items()
        if tags.get("dpn-transaction") == lost_txn
    }
    assert len(made) == 2  # the run was killed after its second create
    before = {**case.queues(), **case.topics()}

    found = sweep_json(case, "--older-than", "0")

    assert {o["key"] for o in found["orphans"]} == made
    assert {o["transaction"] for o in found["orphans"]} == {lost_txn}
    assert verdicts(found)[f"aws_sqs_queue:{t}-dev-keep-events"] == "described"
    assert found["unmarked"] == 1 and found["errors"] == {} and found["not_swept"] == {}
    # every AWS type is listed: no blueprint uses SNS any more, and no log is left to say
    assert found["types"] == sorted(t for t in CATALOGUE if t.startswith("aws_"))
    assert {**case.queues(), **case.topics()} == before  # a report changes nothing

    proc = case.dpn("sweep", "--older-than", "0", "--delete", "--yes", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["transaction"]
    assert (result["status"], result["kind"]) == ("DELETED", "delete")
    assert set(result["deleted"]) == made and result["not_ours"] == {}
    left = {**case.queues(), **case.topics()}
    assert left == {k: v for k, v in before.items() if not any(k in m for m in made)}
    assert left[f"{t}-dev-theirs-events"] == {"team": "them"}
    assert left[f"{t}-dev-keep-events"]["managed-by"] == "dpn"
    # the sweep is a logged transaction of its own, recorded as one
    (log,) = [TxnLog.from_read(read_wal(p)) for p in list_wal_files(case.wal)[-1:]]
    begin = read_wal(list_wal_files(case.wal)[-1]).records[0]
    assert begin["sweep"] is True and log.status is TxnStatus.DELETED
    again = sweep_json(case, "--older-than", "0")
    assert again["orphans"] == []


def test_a_removed_entry_is_an_orphan_once_older_than_the_limit(
    clouds: Clouds, tmp_path: Path
) -> None:
    """`--older-than` goes by the time in the `dpn-transaction` tag: a queue of a run years
    ago is an orphan at 6h, one of a run a minute ago is not until 0, and one whose tag is
    no transaction id has no age (kept, unless any age goes)."""
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    bp = case.write("app", {"aws": queues("keep", "dropped")})
    assert case.dpn("create", "--blueprint", bp).returncode == 0
    case.write("app", {"aws": queues("keep")})  # the entry is removed: on-removed keep
    case.queue(f"{t}-dev-old-events", **marks(OLD_TXN))
    case.queue(f"{t}-dev-hand-events", **marks("made-by-hand"))
    old, dropped, hand = (f"aws_sqs_queue:{t}-dev-{p}-events" for p in ("old", "dropped", "hand"))

    default = sweep_json(case)
    assert default["older_than_seconds"] == 6 * 3600
    assert [o["key"] for o in default["orphans"]] == [old]
    assert default["orphans"][0]["age_seconds"] > 5 * 365 * 86400
    seen = verdicts(default)
    assert (seen[dropped], seen[hand]) == ("young", "undated")
    assert [o["key"] for o in sweep_json(case, "--older-than", "2d")["orphans"]] == [old]
    assert {o["key"] for o in sweep_json(case, "--older-than", "0")["orphans"]} == {
        old,
        dropped,
        hand,
    }

    table = case.dpn("sweep")
    assert table.returncode == 0
    assert f"orphan   {old}" in table.stdout and "1 orphan(s) older than 6h" in table.stdout
    assert "report only: --delete deletes them" in table.stdout

    proc = case.dpn("sweep", "--delete", "--yes", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["transaction"]["deleted"] == [old]
    assert set(case.queues()) == {f"{t}-dev-{p}-events" for p in ("keep", "dropped", "hand")}

    bad = case.dpn("sweep", "--older-than", "6 hours")
    assert bad.returncode == 2 and "is not an age" in bad.stderr


def test_declining_the_question_deletes_nothing(clouds: Clouds, tmp_path: Path) -> None:
    case = Case(clouds, tmp_path / "repo")
    case.write("app", {"aws": queues("keep")})
    case.queue(f"{case.token}-dev-old-events", **marks(OLD_TXN))
    proc = case.dpn("sweep", "--delete", input="n\n")
    assert proc.returncode == 1 and "Aborted" in proc.stderr
    assert "Delete these 1 resources no blueprint describes?" in proc.stderr
    assert f"{case.token}-dev-old-events" in case.queues()
    assert not case.wal.exists()  # no transaction was even begun


# ------------------------------------------------------------ what unfinished work owns


def test_what_an_unfinished_transaction_owns_is_not_swept(clouds: Clouds, tmp_path: Path) -> None:
    """A create killed half-way leaves its log unfinished here; its entries are then
    dropped from the blueprint. The sweep reports what that transaction made as owned by
    it, and deletes none of it: `dpn recover` (its own rollback) is what removes it."""
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    case.write("keep", {"aws": queues("keep")})
    app = case.write("app", {"aws": queues("a", "b", "c")})
    lost = case.dpn(
        "create", "--blueprint", app, "--max-parallel", "1", **{CRASH_ENV: "after-done:1"}
    )
    assert lost.returncode == -signal.SIGKILL
    (open_txn,) = [txn_id_of(p) for p in list_wal_files(case.wal)]
    case.remove("app")
    (made,) = [n for n, tags in case.queues().items() if tags.get("dpn-transaction") == open_txn]

    found = sweep_json(case, "--older-than", "0")
    assert found["orphans"] == []
    (row,) = [r for r in found["kept"] if r["key"] == f"aws_sqs_queue:{made}"]
    assert row["verdict"] == "open"
    assert f"transaction {open_txn} owns it: it is unfinished" in row["note"]

    proc = case.dpn("sweep", "--older-than", "0", "--delete", "--yes")
    assert proc.returncode == 0 and "nothing to sweep" in proc.stderr
    assert made in case.queues()
    assert [(r.txn_id, r.status) for r in status(case.wal)] == [(open_txn, TxnStatus.UNFINISHED)]
    recovered = case.dpn("recover")
    assert recovered.returncode == 0 and "ROLLED_BACK" in recovered.stdout
    assert set(case.queues()) == set()  # `keep` was never created
    assert t  # the case's names all carry its token


def test_in_team_mode_a_lost_runners_transaction_is_not_swept_and_the_sweep_holds_the_lock(
    clouds: Clouds, tmp_path: Path
) -> None:
    """Runner A dies mid-apply in team mode and its directory is gone: only the mirror has
    its log. A sweep elsewhere (empty WAL directory) reports A's queue as owned by A's
    unfinished transaction; with --delete it takes the lease, recovers A's transaction
    first (A's own rollback removes A's queue), and deletes only the old orphan, logging
    its transaction to the mirror and leaving the lease free."""
    a = Case(clouds, tmp_path / "a")
    a.client("s3").create_bucket(Bucket=LOCKS)
    t = a.token
    options = (
        "--lock",
        f"s3://{LOCKS}/locks/dev.lock?lease=2",
        "--wal-mirror",
        f"s3://{LOCKS}/wal/dev",
    )
    app = a.write("app", {"aws": queues("a", "b")})
    lost = a.dpn(
        "create", "--blueprint", app, "--max-parallel", "1", *options, **{CRASH_ENV: "after-done:1"}
    )
    assert lost.returncode == -signal.SIGKILL, lost.stderr
    (a_txn,) = [txn_id_of(p) for p in list_wal_files(a.wal)]
    (a_queue,) = [n for n, tags in a.queues().items() if tags.get("dpn-transaction") == a_txn]
    shutil.rmtree(a.root)
    # B: the same repository on another machine, after A's entries were dropped
    b = Case.__new__(Case)
    b.__dict__.update(a.__dict__, root=tmp_path / "b")
    b.root.mkdir()
    shutil.copytree(EXAMPLES / ".dpn", b.root / ".dpn")
    b.write("keep", {"aws": queues("keep")})
    b.queue(f"{t}-dev-old-events", **marks(OLD_TXN))

    alone = sweep_json(b, "--older-than", "0")  # no mirror: nothing says A is unfinished
    assert verdicts(alone)[f"aws_sqs_queue:{a_queue}"] == "orphan"
    found = sweep_json(b, "--older-than", "0", "--wal-mirror", f"s3://{LOCKS}/wal/dev")
    seen = verdicts(found)
    assert seen[f"aws_sqs_queue:{a_queue}"] == "open"
    assert seen[f"aws_sqs_queue:{t}-dev-old-events"] == "orphan"
    (row,) = [r for r in found["kept"] if r["verdict"] == "open"]
    assert "unfinished in the WAL mirror" in row["note"]

    proc = b.dpn("sweep", "--older-than", "0", "--delete", "--yes", "--format", "json", *options)
    assert proc.returncode == 0, proc.stderr
    assert f"transaction {a_txn}: log restored from the mirror" in proc.stderr
    result = json.loads(proc.stdout)["transaction"]
    assert [(r["transaction"], r["status"]) for r in result["recovered"]] == [
        (a_txn, "ROLLED_BACK")
    ]
    assert result["deleted"] == [f"aws_sqs_queue:{t}-dev-old-events"]
    assert b.queues() == {}
    s3 = b.client("s3")
    mirrored = json.loads(
        s3.get_object(Bucket=LOCKS, Key=f"wal/dev/txn-{result['transaction']}.jsonl")["Body"]
        .read()
        .split(b"\n")[1]
    )
    assert (mirrored["kind"], mirrored["sweep"]) == ("delete", True)
    finished = s3.list_objects_v2(Bucket=LOCKS, Prefix="wal/dev/finished/")["Contents"]
    assert {o["Key"].rsplit("/", 1)[1] for o in finished} == {
        f"txn-{a_txn}",
        f"txn-{result['transaction']}",
    }
    lease = json.loads(s3.get_object(Bucket=LOCKS, Key="locks/dev.lock")["Body"].read())
    assert (lease["owner"], lease["expires"], lease["counter"]) == ("", 0, 2)  # free; B's


# ------------------------------------------------------------------ crashes and races


@pytest.mark.parametrize(
    "point",
    ["after-begin", "after-preflight", "rollback-after-intent:2", "rollback-after-call:1"],
)
def test_a_sweep_killed_part_way_is_finished_by_recover(
    clouds: Clouds, tmp_path: Path, point: str
) -> None:
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    case.write("keep", {"aws": queues("keep")})
    orphans = {f"{t}-dev-{p}-events" for p in ("x", "y", "z")}
    for name in orphans:
        case.queue(name, **marks(OLD_TXN))
    case.queue(f"{t}-dev-theirs-events", team="them")
    killed = case.dpn("sweep", "--delete", "--yes", "--max-parallel", "1", **{CRASH_ENV: point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (txn,) = [r for r in status(case.wal)]
    assert (txn.kind, txn.status) == ("delete", TxnStatus.UNFINISHED)

    proc = case.dpn("recover", "--format", "json")
    result = json.loads(proc.stdout)
    if point == "after-begin":  # it had not chosen yet: nothing deleted, run it again
        assert proc.returncode == 1
        assert result["status"] == "FAILED" and "nothing was deleted" in result["error"]
        assert orphans <= set(case.queues())
        again = case.dpn("sweep", "--delete", "--yes")
        assert again.returncode == 0, again.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert result["status"] == "DELETED"
        assert {k.split(":", 1)[1] for k in result["deleted"]} == orphans
    assert case.queues() == {f"{t}-dev-theirs-events": {"team": "them"}}


@pytest.mark.parametrize(
    ("point", "theirs"),
    [
        # between the listing and the read under the lock: someone's queue without marks
        ("after-begin", {"team": "them"}),
        # between that read and the delete call: a team that uses dpn too, its own mark
        ("after-preflight", marks("20991231T000000000000Z-feedf00d", team="them")),
    ],
)
def test_another_teams_resource_made_under_a_swept_name_survives(
    clouds: Clouds, tmp_path: Path, point: str, theirs: dict[str, str]
) -> None:
    """The sweep is stopped (SIGSTOP) after it listed; meanwhile another team deletes the
    orphan topic and makes its own under the name. Resumed, the sweep keeps theirs: "not
    ours: kept", and deletes the other orphan."""
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    case.write("keep", {"aws": {"sns_topics": [{"event_type": "qa", "purpose": "keep"}]}})
    name, other = f"{t}-dev-qa-old", f"{t}-dev-qa-older"
    arn = case.topic(name, **marks(OLD_TXN))
    case.topic(other, **marks(OLD_TXN))
    proc = case.start(
        "sweep",
        "--delete",
        "--yes",
        "--format",
        "json",
        "--max-parallel",
        "1",
        **{STOP_ENV: point},
    )
    try:
        wait_stopped(proc)
        sns = case.client("sns")
        sns.delete_topic(TopicArn=arn)
        case.topic(name, **theirs)
    finally:
        proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out)["transaction"]
    assert result["status"] == "DELETED"
    assert result["deleted"] == [f"aws_sns_topic:{other}"]
    why = {**result["kept"], **result["not_ours"]}[f"aws_sns_topic:{name}"]
    assert why.startswith("not ours: kept")
    where = "kept" if point == "after-begin" else "not_ours"
    assert f"aws_sns_topic:{name}" in result[where]
    assert case.topics() == {name: theirs}


# ------------------------------------------------------------------------------ Databricks


def test_databricks_orphans_are_swept_and_types_without_a_listing_are_reported(
    clouds: Clouds, tmp_path: Path
) -> None:
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    pool = {"node_type": "i3", "node_type_id": "i3.xlarge"}
    bp = case.write(
        "dbx",
        {
            "databricks": {
                "instance_pools": [{**pool, "purpose": "keep"}, {**pool, "purpose": "spare"}]
            }
        },
    )
    assert case.dpn("create", "--blueprint", bp).returncode == 0
    case.write("dbx", {"databricks": {"instance_pools": [{**pool, "purpose": "keep"}]}})
    w = clouds.workspace
    theirs = w.instance_pools.create(
        instance_pool_name=f"{t}-pool-i3-theirs-dev", node_type_id="i3.xlarge"
    ).instance_pool_id

    found = sweep_json(case, "--older-than", "0")
    assert [o["key"] for o in found["orphans"]] == [f"dbx_instance_pool:{t}-pool-i3-spare-dev"]
    assert verdicts(found)[f"dbx_instance_pool:{t}-pool-i3-keep-dev"] == "described"
    unlisted = {k for k, v in CATALOGUE.items() if v.provider == "databricks"} - set(found["types"])
    assert set(found["not_swept"]) == unlisted and "dbx_job" in unlisted
    assert all("cannot list" in why for why in found["not_swept"].values())
    table = case.dpn("sweep", "--older-than", "0")
    assert "not swept   dbx_catalog, " in table.stderr

    proc = case.dpn("sweep", "--older-than", "0", "--delete", "--yes", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["transaction"]["deleted"] == [
        f"dbx_instance_pool:{t}-pool-i3-spare-dev"
    ]
    names = {p.instance_pool_name for p in w.instance_pools.list()}
    assert f"{t}-pool-i3-spare-dev" not in names
    assert {f"{t}-pool-i3-keep-dev", f"{t}-pool-i3-theirs-dev"} <= names
    w.instance_pools.delete(theirs)


# ------------------------------------------------------------------------------ the Action


def git(root: Path, *args: str) -> None:
    identity = {
        "GIT_AUTHOR_NAME": "Codertocat",
        "GIT_AUTHOR_EMAIL": "codertocat@example.com",
        "GIT_COMMITTER_NAME": "Codertocat",
        "GIT_COMMITTER_EMAIL": "codertocat@example.com",
    }
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **identity}, check=True)


def action(
    case: Case, tmp: Path, event: str = "schedule", payload: Any = None, **extra: str
) -> tuple[int, dict[str, str], str, str]:
    """`dpn action` as action.yml's step runs it: exit status, outputs, log, job summary."""
    run = tmp / f"run-{secrets.token_hex(4)}"
    run.mkdir()
    (run / "event.json").write_text(json.dumps(payload or {"schedule": "17 3 * * 1"}))
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(run / "event.json"),
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_REPOSITORY": "acme/platform",
        "GITHUB_RUN_ID": "77",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_OUTPUT": str(run / "output"),
        "GITHUB_STEP_SUMMARY": str(run / "summary.md"),
        "DPN_MODE": "sweep",
        "DPN_ENVIRONMENT": "dev",
        "DPN_WAL_DIR": str(tmp / "wal"),
    }
    env = case.env(**{**github, **extra})
    proc = subprocess.run(
        [sys.executable, "-m", "dpn_action", "action"],
        cwd=case.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    text = (run / "output").read_text() if (run / "output").exists() else ""
    found = re.finditer(r"^([\w-]+)<<(\S+)\n(.*?)\n\2$", text, re.M | re.S)
    summary = run / "summary.md"
    return (
        proc.returncode,
        {m.group(1): m.group(3) for m in found},
        proc.stdout,
        summary.read_text() if summary.exists() else "",
    )


def test_the_actions_sweep_mode_reports_on_a_schedule_and_deletes_when_asked(
    clouds: Clouds, tmp_path: Path
) -> None:
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    case.write("keep", {"aws": queues("keep")})
    git(case.root, "init", "-q", "-b", "main")
    git(case.root, "add", "-A")
    git(case.root, "commit", "-q", "-m", "blueprints")
    old, young = f"{t}-dev-old-events", f"{t}-dev-young-events"
    case.queue(old, **marks(OLD_TXN))
    case.queue(young, **marks(new_txn_id()))

    rc, out, log, summary = action(case, tmp_path)

    assert rc == 0, log
    assert out["mode"] == "sweep" and "failure-reason" not in out
    assert json.loads(out["orphans"]) == [f"aws_sqs_queue:{old}"]
    assert (out["swept"], out["has-changes"]) == ("[]", "false")
    assert re.search(r"^::warning title=dpn::1 resource\(s\) no blueprint describes", log, re.M)
    assert "report only; sweep-delete: true deletes them" in log
    assert "## dpn sweep" in summary
    assert f"| `aws_sqs_queue:{old}` | orphan |" in summary
    assert f"| `aws_sqs_queue:{young}` | young |" in summary
    assert {old, young} <= set(case.queues())

    rc, out, log, summary = action(
        case, tmp_path, DPN_SWEEP_DELETE="true", DPN_SWEEP_OLDER_THAN="1d"
    )

    assert rc == 0, log
    assert json.loads(out["swept"]) == [f"aws_sqs_queue:{old}"]
    assert (out["orphans"], out["has-changes"]) == ("[]", "true")
    assert out["wal-artifact"].startswith("dpn-wal-dev-aws.") and out["wal-artifact"].endswith(
        "-77-1"
    )
    assert f"| `aws_sqs_queue:{old}` | deleted |" in summary
    assert "dpn sweep\n\nTransaction" in summary
    assert set(case.queues()) == {young}
    (log_path,) = list_wal_files(tmp_path / "wal")
    assert read_wal(log_path).records[0]["sweep"] is True

    elsewhere = {"ref": "refs/heads/feature", "repository": {"default_branch": "main", "id": 1}}
    rc, out, log, _ = action(
        case, tmp_path, "workflow_dispatch", elsewhere, GITHUB_REF_NAME="feature"
    )
    assert (rc, out["failure-reason"]) == (2, "usage")
    assert "sweep runs on the default branch (main)" in log

    rc, out, log, _ = action(case, tmp_path, DPN_SWEEP_OLDER_THAN="soon")
    assert (rc, out["failure-reason"]) == (2, "usage")
    assert "sweep-older-than: 'soon' is not an age" in log

    # an environment without blueprints: nothing to look at, nothing swept
    case.queue(f"{t}-dev-older-events", **marks(OLD_TXN))
    rc, out, log, _ = action(case, tmp_path, DPN_ENVIRONMENT="prd", DPN_SWEEP_DELETE="true")
    assert (rc, out["orphans"], out["swept"]) == (0, "[]", "[]"), log
    assert "::notice title=dpn::No blueprint of environment prd matches" in log
    assert f"{t}-dev-older-events" in case.queues()


def test_glue_tables_are_swept_within_dpns_databases_and_a_database_holding_others_stays(
    clouds: Clouds, tmp_path: Path
) -> None:
    """Tables are listed within every database that carries dpn's mark. A table dropped
    from the blueprint goes while its database stays; an orphan database goes after its
    orphan table; an orphan database that holds someone's table stays with it."""
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    db = {"id": "db", "domain": "sales", "layer": "bronze"}
    table = {"database_ref": "db", "columns": [{"name": "id", "type": "bigint"}]}
    bp = case.write(
        "lake",
        {
            "aws": {
                "glue_databases": [db],
                "glue_tables": [{**table, "entity": "orders"}, {**table, "entity": "refunds"}],
            }
        },
    )
    assert case.dpn("create", "--blueprint", bp).returncode == 0
    case.write(
        "lake", {"aws": {"glue_databases": [db], "glue_tables": [{**table, "entity": "orders"}]}}
    )
    glue = case.client("glue")
    old = marks(OLD_TXN)
    for name in (f"{t}_gone_db", f"{t}_held_db"):
        glue.create_database(DatabaseInput={"Name": name}, Tags=old)
    glue.create_table(DatabaseName=f"{t}_gone_db", TableInput={"Name": "t1", "Parameters": old})
    glue.create_table(DatabaseName=f"{t}_held_db", TableInput={"Name": "theirs"})
    ours = f"{t}_sales_bronze_dev"

    found = sweep_json(case, "--older-than", "0")
    assert {o["key"] for o in found["orphans"]} == {
        f"aws_glue_table:{ours}.fact_refunds",
        f"aws_glue_table:{t}_gone_db.t1",
        f"aws_glue_database:{t}_gone_db",
    }
    (held,) = [r for r in found["kept"] if r["key"] == f"aws_glue_database:{t}_held_db"]
    assert (held["verdict"], held["note"]) == (
        "holds",
        f"aws_glue_table:{t}_held_db.theirs is in it and stays",
    )

    proc = case.dpn("sweep", "--older-than", "0", "--delete", "--yes", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["transaction"]["status"] == "DELETED"
    dbs = {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    assert dbs == {ours, f"{t}_held_db"}
    assert [x["Name"] for x in glue.get_tables(DatabaseName=ours)["TableList"]] == ["fact_orders"]
    assert [x["Name"] for x in glue.get_tables(DatabaseName=f"{t}_held_db")["TableList"]] == [
        "theirs"
    ]


def test_an_orphan_a_running_create_adopts_while_the_sweep_waits_for_the_lock_is_kept(
    clouds: Clouds, tmp_path: Path
) -> None:
    """A blueprint of a newer checkout describes an orphan again: its `create` holds the
    lock, having adopted the orphan (stopped right after its pre-flight), while the sweep
    lists and then waits for the lock. Once the create is done, the sweep keeps the queue:
    a transaction its listing could not reflect names it."""
    case = Case(clouds, tmp_path / "repo")
    t = case.token
    case.write("keep", {"aws": queues("keep")})
    back, old = f"{t}-dev-back-events", f"{t}-dev-old-events"
    case.queue(back, **marks(OLD_TXN))
    case.queue(old, **marks(OLD_TXN))
    newer = case.root / "newer" / "app.json"
    newer.parent.mkdir()
    data = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": t, "region": REGION},
        "resources": {"aws": queues("back")},
    }
    newer.write_text(json.dumps(data), encoding="utf-8")
    create = case.start("create", "--blueprint", "newer/app.json", **{STOP_ENV: "after-preflight"})
    sweep = None
    try:
        wait_stopped(create)
        sweep = case.start("sweep", "--delete", "--yes", PYTHONUNBUFFERED="1")
        assert sweep.stdout is not None
        listed: list[str] = []
        while not listed or "orphan(s) older than" not in listed[-1]:  # the listing is done
            listed.append(sweep.stdout.readline())
            assert listed[-1], "the sweep ended before its listing was done"
        assert any(line.startswith(f"orphan   aws_sqs_queue:{back}") for line in listed)
    finally:
        create.send_signal(signal.SIGCONT)
    assert create.wait(timeout=120) == 0
    assert sweep is not None
    rest, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 0, err
    assert f"deleted      aws_sqs_queue:{old}" in rest
    (kept,) = [line for line in rest.splitlines() if line.startswith("  kept")]
    assert f"aws_sqs_queue:{back}: transaction " in kept
    assert "which the listing may not reflect, names it" in kept
    assert back in case.queues() and old not in case.queues()


# ------------------------------------------------------- several repositories, one account


def test_a_sweep_keeps_what_another_repository_made_in_the_same_account(
    clouds: Clouds, tmp_path: Path
) -> None:
    """Two repositories apply to one account. Each create tags what it makes with its
    repository; the sweep of one deletes its own orphan and keeps the other's queue (which
    no blueprint of the sweeping repository describes), and a resource without the tag
    (made before dpn tagged repositories) is judged as before."""
    ours = Case(clouds, tmp_path / "ours")
    theirs = Case(clouds, tmp_path / "theirs")
    theirs.account, theirs.aws = ours.account, ours.aws  # the same account
    t = ours.token
    mine, other = {"DPN_REPOSITORY": "acme/ours"}, {"DPN_REPOSITORY": "acme/theirs"}
    gone = ours.write("gone", {"aws": queues("old")})
    assert ours.dpn("create", "--blueprint", gone, **mine).returncode == 0
    ours.remove("gone")
    keep = ours.write("keep", {"aws": queues("keep")})
    assert ours.dpn("create", "--blueprint", keep, **mine).returncode == 0
    theirs_bp = theirs.write("theirs", {"aws": queues("live")})
    assert theirs.dpn("create", "--blueprint", theirs_bp, **other).returncode == 0
    ours.queue(f"{t}-dev-legacy-events", **marks(OLD_TXN))  # no repository tag
    before = ours.queues()
    assert before[f"{t}-dev-old-events"]["dpn-repository"] == "acme/ours"
    assert before[f"{theirs.token}-dev-live-events"]["dpn-repository"] == "acme/theirs"

    found = sweep_json(ours, "--older-than", "0", **mine)

    v = verdicts(found)
    assert v[f"aws_sqs_queue:{t}-dev-old-events"] == "orphan"
    assert v[f"aws_sqs_queue:{t}-dev-legacy-events"] == "orphan"
    assert v[f"aws_sqs_queue:{theirs.token}-dev-live-events"] == "elsewhere"
    (kept,) = [k for k in found["kept"] if k["verdict"] == "elsewhere"]
    assert kept["note"] == "repository acme/theirs made it, not acme/ours"
    # a run that cannot tell its repository keeps every tagged resource
    unnamed = verdicts(sweep_json(ours, "--older-than", "0"))
    assert unnamed[f"aws_sqs_queue:{t}-dev-old-events"] == "elsewhere"
    assert unnamed[f"aws_sqs_queue:{t}-dev-legacy-events"] == "orphan"

    proc = ours.dpn("sweep", "--older-than", "0", "--delete", "--yes", "--format", "json", **mine)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["transaction"]
    assert set(result["deleted"]) == {
        f"aws_sqs_queue:{t}-dev-old-events",
        f"aws_sqs_queue:{t}-dev-legacy-events",
    }
    left = ours.queues()
    assert left[f"{theirs.token}-dev-live-events"] == before[f"{theirs.token}-dev-live-events"]
    assert f"{t}-dev-old-events" not in left and f"{t}-dev-legacy-events" not in left
    assert left[f"{t}-dev-keep-events"]["dpn-repository"] == "acme/ours"
    # the other repository's sweep, for its part, keeps ours and finds no orphan
    seen = sweep_json(theirs, "--older-than", "0", **other)
    assert verdicts(seen) == {
        f"aws_sqs_queue:{t}-dev-keep-events": "elsewhere",
        f"aws_sqs_queue:{theirs.token}-dev-live-events": "described",
    }


def test_a_name_a_tag_cannot_hold_is_a_usage_error_before_anything_is_made(
    clouds: Clouds, tmp_path: Path
) -> None:
    case = Case(clouds, tmp_path / "repo")
    bp = case.write("q", {"aws": queues("q")})

    proc = case.dpn("create", "--blueprint", bp, DPN_REPOSITORY="acme/<ours>")

    assert proc.returncode == 2
    assert "DPN_REPOSITORY='acme/<ours>' cannot be a tag value" in proc.stderr
    assert case.queues() == {}
