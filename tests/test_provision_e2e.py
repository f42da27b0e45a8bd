"""`dpn create|recover|read|update|delete|status` end to end, over real HTTP on loopback.

The `dpn` command runs as a separate process with the real boto3 and databricks-sdk, against
a moto server and the loopback Databricks server (`provision_env`). The promise checked here:
after any failure or crash a transaction ends fully created or fully rolled back (or, where
the cloud refuses a rollback step, ROLLBACK_FAILED with the exact list left and a command
that finishes it); never a silent half, never a duplicate, never a resource that no WAL
entry and no tag account for.

The crash matrix kills `dpn create` (and `dpn recover`, and `dpn delete`) with SIGKILL at
every crash point of `dpn_action.txn.crash`, then runs `dpn recover` and lists what exists
on both servers. Its cases run a few at a time in the background as soon as the module
starts; each test waits for its own case.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError
from botocore.httpsession import URLLib3Session
from provision_env import (
    Clouds,
    Inventory,
    Workdir,
    dpn,
    examples_workdir,
    plan_items,
    workdir,
)

from dpn_action import provision
from dpn_action.providers.aws import AwsInputError, lambda_code
from dpn_action.txn import CRASH_POINTS, KeyState, TxnResult, TxnStatus, status

KILLED = -signal.SIGKILL
CREATE = ("create", "--blueprint", "blueprint.json")
DELETE = ("delete", "--blueprint", "blueprint.json", "--yes")


@pytest.fixture(scope="module")
def clouds() -> Iterator[Clouds]:
    c = Clouds()
    yield c
    c.stop()


# --------------------------------------------------------------------------- checks


def planned_keys(work: Workdir) -> set[str]:
    return {p.key for p in plan_items(work)}


def assert_accounted_for(work: Workdir, inventory: Inventory) -> None:
    """Every resource that exists carries dpn's marks, and the WAL of the transaction its
    tag names records it as created, with the same resource id."""
    logs = work.logs()
    for key, state in inventory.states.items():
        assert state is not None, f"{key} was listed but cannot be read"
        assert state.managed_by_dpn, f"{key} exists without the managed-by: dpn mark"
        log = logs.get(state.transaction_id or "")
        assert log is not None, f"{key} is tagged with {state.transaction_id}, which no WAL has"
        assert log.state(key) is KeyState.CREATED, (key, log.state(key))
        recorded = log.keys[key].resource
        assert recorded is not None and recorded.resource_id == state.resource_id


def assert_all_or_nothing(work: Workdir, inventory: Inventory, *, everything: bool) -> None:
    assert inventory.duplicates == {}, f"duplicates: {inventory.duplicates}"
    expected = planned_keys(work) if everything else set()
    missing, extra = expected - inventory.keys, inventory.keys - expected
    assert not missing and not extra, f"a half: missing {sorted(missing)}, extra {sorted(extra)}"
    assert_accounted_for(work, inventory)
    listing = status(work.wal)
    assert listing, "the WAL keeps every transaction"
    unfinished = [r for r in listing if r.status in {TxnStatus.UNFINISHED, TxnStatus.CORRUPT}]
    assert unfinished == []


def succeeded(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """`proc`, after checking that it exited 0 (else its output is the failure message)."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc


def result_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The `--format json` report of a create or delete."""
    assert proc.stdout.strip(), proc.stderr
    data = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert isinstance(data, dict)
    return data


# --------------------------------------------------------------------------- the crash matrix


@dataclass(frozen=True)
class CrashCase:
    """Commands run one after the other in one work directory; a step with a crash point
    must die by SIGKILL there. The last step is always a clean `dpn recover`."""

    name: str
    steps: tuple[tuple[str, str | None], ...]
    #: the blueprint's Lambda cannot be created, so the create rolls back
    failing: bool = False

    def __str__(self) -> str:
        return self.name

    @property
    def points(self) -> set[str]:
        return {at.partition(":")[0] for _, at in self.steps if at}


def _case(name: str, *steps: tuple[str, str | None], failing: bool = False) -> CrashCase:
    return CrashCase(name, (*steps, ("recover", None)), failing)


#: killed while creating; recovery rolls everything back
CREATE_CRASHES = [
    _case(at, ("create", at))
    for at in (
        "after-begin",
        "after-preflight",
        "before-intent",
        "before-intent:12",
        "after-intent",
        "after-intent:7",
        "after-call",
        "after-call:15",
        "after-done",
        "after-done:20",
    )
]
#: killed right after the commit record, or once every create was done (its outcome
#: recorded or not) but before the commit record: the transaction stands
COMMITTED_CRASHES = [
    _case(at, ("create", at)) for at in ("after-end", "before-commit", "after-done:24")
]
#: the Lambda fails mid-way (one call at a time, so at least 15 creates precede it), and the
#: process is killed while rolling back
ROLLBACK_CRASHES = [
    _case(at, ("create", at), failing=True)
    for at in (
        "after-abort",
        "rollback-before-intent",
        "rollback-after-intent",
        "rollback-after-intent:5",
        "rollback-after-call",
        "rollback-after-call:9",
        "rollback-after-done",
        "rollback-after-done:3",
        "before-rollback-end",
    )
]
#: killed while creating, then `dpn recover` itself is killed, then recovered again
RECOVERY_CRASHES = [
    _case(at, ("create", "after-call:10"), ("recover", at))
    for at in (
        "recovery-after-start",
        "recovery-after-resolve",
        "after-abort",
        "rollback-after-call:3",
        "rollback-after-done:6",
        "before-rollback-end",
    )
]
TWO_CRASHED_RUNS = _case(
    "two-crashed-creates", ("create", "after-call:5"), ("create", "after-call:5")
)
DELETE_CRASH = _case("killed-deleting", ("create", None), ("delete", "rollback-after-call:3"))

ALL_CASES = [
    *CREATE_CRASHES,
    *COMMITTED_CRASHES,
    *ROLLBACK_CRASHES,
    *RECOVERY_CRASHES,
    TWO_CRASHED_RUNS,
    DELETE_CRASH,
]


@dataclass
class Step:
    command: str
    crash_at: str | None
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Outcome:
    work: Workdir
    steps: list[Step]
    inventory: Inventory
    listing: list[TxnResult]

    def assert_steps_ran_as_planned(self) -> None:
        for step in self.steps:
            if step.crash_at:
                assert step.returncode == KILLED, (
                    f"dpn {step.command} should have been killed at {step.crash_at}, ended "
                    f"{step.returncode}\n{step.stdout}\n{step.stderr}"
                )
        last = self.steps[-1]
        assert last.returncode == 0, f"dpn recover failed:\n{last.stdout}\n{last.stderr}"


def run_case(clouds: Clouds, case: CrashCase, root: Path) -> Outcome:
    work = workdir(root, failing=case.failing)
    steps = []
    for command, crash_at in case.steps:
        args: tuple[str, ...] = {"create": CREATE, "delete": DELETE, "recover": ("recover",)}[
            command
        ]
        if case.failing and command == "create":
            args = (*args, "--max-parallel", "1")
        proc = dpn(clouds, work, *args, crash_at=crash_at)
        steps.append(Step(command, crash_at, proc.returncode, proc.stdout, proc.stderr))
    return Outcome(work, steps, clouds.inventory(work.token), status(work.wal))


@pytest.fixture(scope="module", autouse=True)
def crashes(
    clouds: Clouds, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[CrashCase, Future[Outcome]]]:
    """Starts every selected case when the module starts, four at a time, in the
    background: the tests before the matrix run meanwhile (their names are their own, so
    they cannot meet), and each matrix test waits for its case."""
    wanted: list[CrashCase] = []
    for item in request.session.items:
        case = getattr(item, "callspec", None) and item.callspec.params.get("case")
        if isinstance(case, CrashCase) and case not in wanted:
            wanted.append(case)
    lock = threading.Lock()

    def start(case: CrashCase) -> Outcome:
        with lock:
            root = tmp_path_factory.mktemp("crash")
        return run_case(clouds, case, root)

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="crash-case") as pool:
        futures = {case: pool.submit(start, case) for case in wanted}
        yield futures
        for future in futures.values():
            future.cancel()


# --------------------------------------------------------------------------- create


def test_create_across_both_clouds_commits_and_a_second_run_has_nothing_to_do(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)

    first = dpn(clouds, work, *CREATE, "--format", "json")
    second = dpn(clouds, work, *CREATE, "--format", "json")

    succeeded(first)
    created = result_of(first)
    assert created["status"] == "COMMITTED"
    assert len(created["created"]) == 24
    assert {k.split(":")[0][:4] for k in created["created"]} == {"aws_", "dbx_"}
    succeeded(second)
    again = result_of(second)
    assert again["status"] == "NOTHING_TO_DO"
    assert sorted(again["adopted"]) == sorted(created["created"])
    assert_all_or_nothing(work, clouds.inventory(work.token), everything=True)


def test_dry_run_reads_but_creates_nothing(clouds: Clouds, tmp_path: Path) -> None:
    work = workdir(tmp_path)

    proc = dpn(clouds, work, *CREATE, "--dry-run")

    succeeded(proc)
    assert proc.stdout.startswith("transaction -: PLANNED")
    assert proc.stdout.count("would create") == 24
    assert clouds.inventory(work.token).keys == set()
    assert not work.wal.exists()


def test_the_examples_create_all_27_types_and_commit(clouds: Clouds, tmp_path: Path) -> None:
    work = examples_workdir(tmp_path)
    # The function's code archive is the team's own artifact: it exists before dpn runs.
    s3 = clouds.client("s3")
    s3.create_bucket(Bucket="dataplatform-artifacts")
    s3.put_object(Bucket="dataplatform-artifacts", Key="lambda/validate.zip", Body=_zip())

    proc = dpn(clouds, work, "create", "--blueprint", "blueprints/dev.json", "--format", "json")

    succeeded(proc)
    result = result_of(proc)
    assert result["status"] == "COMMITTED"
    assert len({k.split(":")[0] for k in result["created"]}) == 27
    lambda_fn = clouds.client("lambda").get_function(
        FunctionName="dataplatform-dev-orders-s3-validate"
    )
    assert lambda_fn["Configuration"]["Handler"] == "app.handler"
    inventory = clouds.inventory("dataplatform")
    artifacts = inventory.states.pop("aws_s3_bucket:dataplatform-artifacts")
    assert artifacts is not None and not artifacts.managed_by_dpn  # not dpn's, not touched
    assert inventory.duplicates == {}
    assert inventory.keys == set(result["created"])
    assert_accounted_for(work, inventory)


def _zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def test_four_processes_at_once_create_exactly_once(clouds: Clouds, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dpn_action", *CREATE, "--format", "json"],
            cwd=work.root,
            env=clouds.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(result_of(subprocess.CompletedProcess([], 0, out, err)))

    assert sorted(r["status"] for r in results) == ["COMMITTED"] + ["NOTHING_TO_DO"] * 3
    assert all(len(r["adopted"]) == 24 for r in results if r["status"] == "NOTHING_TO_DO")
    assert_all_or_nothing(work, clouds.inventory(work.token), everything=True)


def test_a_permanent_failure_mid_way_is_rolled_back_completely(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path, failing=True)

    proc = dpn(clouds, work, *CREATE, "--format", "json")

    assert proc.returncode == 1
    result = result_of(proc)
    assert result["status"] == "ROLLED_BACK"
    assert "NoSuchBucket" in result["error"]
    assert len(result["created"]) >= 10
    assert sorted(result["rolled_back"]) == sorted(result["created"])
    assert_all_or_nothing(work, clouds.inventory(work.token), everything=False)


# --------------------------------------------------------------------------- properties


def test_lambda_code_takes_the_blueprints_snake_case_keys(tmp_path: Path) -> None:
    archive = tmp_path / "fn.zip"
    archive.write_bytes(b"PK-zip-bytes")

    assert lambda_code({"s3_bucket": "artifacts", "s3_key": "fn.zip"}, "java21", "h") == {
        "S3Bucket": "artifacts",
        "S3Key": "fn.zip",
    }
    assert lambda_code({"zip_file": str(archive)}, "python3.12", "app.h") == {
        "ZipFile": b"PK-zip-bytes"
    }
    assert lambda_code({"image_uri": "1.dkr.ecr/fn:1"}, "", "") == {"ImageUri": "1.dkr.ecr/fn:1"}
    assert lambda_code({"S3Bucket": "a", "S3Key": "k"}, "java21", "h") == {
        "S3Bucket": "a",
        "S3Key": "k",
    }


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ({"bucket": "a", "s3_key": "k"}, "unknown key 'bucket'; accepted: s3_bucket, s3_key"),
        ({"s3_bucket": "a"}, "s3_bucket needs s3_key"),
        ({"s3_bucket": "a", "s3_key": "k", "image_uri": "i"}, "exactly one of"),
        ({"zip_file": "/no/such/fn.zip"}, "cannot read zip_file"),
        ("s3://bucket-only", "expected s3://bucket/key"),
    ],
)
def test_lambda_code_that_cannot_work_is_refused_with_the_accepted_forms(
    code: Any, message: str
) -> None:
    with pytest.raises(AwsInputError, match=re.escape(message)):
        lambda_code(code, "python3.12", "app.handler")


# --------------------------------------------------------------------------- read, status


@pytest.fixture(scope="module")
def committed(clouds: Clouds, tmp_path_factory: pytest.TempPathFactory) -> Workdir:
    """One committed transaction of the 24-resource blueprint, for commands that only read."""
    work = workdir(tmp_path_factory.mktemp("committed"))
    proc = dpn(clouds, work, *CREATE)
    succeeded(proc)
    return work


def test_read_shows_each_planned_resource_as_existing_and_ours_with_its_transaction(
    clouds: Clouds, committed: Workdir
) -> None:
    (txn,) = committed.logs()

    table = dpn(clouds, committed, "read", "--blueprint", "blueprint.json")
    data = dpn(clouds, committed, "read", "--blueprint", "blueprint.json", "--format", "json")

    succeeded(table)
    assert table.stdout.splitlines()[0].split() == ["RESOURCE", "EXISTS", "OURS", "TRANSACTION"]
    assert table.stdout.splitlines()[-1] == "24 planned: 24 exist, 24 managed by dpn"
    rows = json.loads(data.stdout)
    assert {r["key"] for r in rows} == planned_keys(committed)
    assert all(r["exists"] and r["ours"] and r["transaction"] == txn for r in rows)


def test_read_of_a_blueprint_not_created_yet_shows_nothing_exists(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)

    proc = dpn(clouds, work, "read", "--blueprint", "blueprint.json", "--format", "json")

    succeeded(proc)
    assert not any(r["exists"] or r["ours"] for r in json.loads(proc.stdout))


def test_status_lists_transactions_and_with_resources_what_the_cloud_has(
    clouds: Clouds, committed: Workdir
) -> None:
    (txn,) = committed.logs()

    plain = dpn(clouds, committed, "status")
    full = dpn(clouds, committed, "status", "--resources", "--blueprint", "blueprint.json")
    data = dpn(
        clouds,
        committed,
        "status",
        "--resources",
        "--blueprint",
        "blueprint.json",
        "--format",
        "json",
    )

    assert plain.returncode == 0
    assert plain.stdout.split()[:4] == [txn, "create", "COMMITTED", "created"]
    assert full.stdout.startswith(plain.stdout)
    assert full.stdout.splitlines()[-1] == "24 planned: 24 exist, 24 managed by dpn"
    parsed = json.loads(data.stdout)
    assert [t["status"] for t in parsed["transactions"]] == ["COMMITTED"]
    assert len(parsed["resources"]) == 24


# --------------------------------------------------------------------------- update


def test_update_sets_changed_tags_and_settings_and_says_what_it_cannot_change(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    succeeded(dpn(clouds, work, *CREATE))
    queue = f"{work.token}-dev-ingest-events"
    table = f"{work.token}-dev-watermarks-state"
    data = json.loads(work.blueprint.read_text())
    data["metadata"]["team"] = "platform"  # a tag: changed in place
    data["resources"]["aws"]["sqs_queues"][0]["visibility_timeout"] = 30  # a setting: too
    data["resources"]["aws"]["dynamodb_tables"][0]["partition_key"] = "pk"  # needs a new table
    work.blueprint.write_text(json.dumps(data))

    proc = dpn(clouds, work, "update", "--blueprint", "blueprint.json", "--format", "json")

    succeeded(proc)
    outcomes = {o["key"]: o for o in json.loads(proc.stdout)}
    queue_outcome = outcomes[f"aws_sqs_queue:{queue}"]
    assert queue_outcome["action"] == "updated"
    assert queue_outcome["tags"] == {"team": "platform"}
    assert queue_outcome["settings"] == ["visibility_timeout"]
    assert queue_outcome["not_updatable"] == []
    sqs = clouds.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    tags = sqs.list_queue_tags(QueueUrl=url)["Tags"]
    assert tags["team"] == "platform" and tags["managed-by"] == "dpn"
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "30"
    assert outcomes[f"aws_dynamodb_table:{table}"]["not_updatable"] == ["partition_key"]
    glue_table = outcomes[f"aws_glue_table:{work.token}_sales_bronze_dev.fact_orders"]
    assert glue_table["action"] == "unchanged"
    assert "carries no tags" in glue_table["message"]
    cluster = next(o for k, o in outcomes.items() if k.startswith("dbx_cluster:"))
    assert cluster["action"] == "updated"
    assert all(o["action"] in ("updated", "unchanged") for o in outcomes.values())

    text = dpn(clouds, work, "update", "--blueprint", "blueprint.json", "--dry-run")
    assert "not updatable in place (aws_dynamodb_table)" in text.stdout
    again = dpn(clouds, work, "update", "--blueprint", "blueprint.json", "--format", "json")
    assert all(o["tags"] == {} and o["settings"] == [] for o in json.loads(again.stdout))


def test_update_of_a_renamed_entry_says_the_cloud_cannot_rename_it(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    succeeded(dpn(clouds, work, *CREATE))
    data = json.loads(work.blueprint.read_text())
    data["resources"]["aws"]["sqs_queues"][1]["queue_type"] = "deadletter"
    work.blueprint.write_text(json.dumps(data))

    proc = dpn(clouds, work, "update", "--blueprint", "blueprint.json")

    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if x.strip().startswith("rename"))
    assert f"aws_sqs_queue:{work.token}-dev-ingest-deadletter" in line
    assert "the cloud cannot rename aws_sqs_queue" in line
    assert f"aws_sqs_queue:{work.token}-dev-ingest-dlq exists" in line


# --------------------------------------------------------------------------- delete


def test_delete_asks_first_then_removes_only_what_dpn_manages(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    succeeded(dpn(clouds, work, *CREATE))
    # Someone takes the function over: it no longer carries dpn's mark.
    function = f"{work.token}-dev-orders-s3-validate"
    arn = clouds.client("lambda").get_function(FunctionName=function)["Configuration"][
        "FunctionArn"
    ]
    clouds.client("lambda").untag_resource(Resource=arn, TagKeys=["managed-by"])
    role = f"aws_iam_role:{work.token}-dev-lambda-validate-role"
    kept = {f"aws_lambda_function:{function}", role}

    declined = dpn(clouds, work, "delete", "--blueprint", "blueprint.json", input="n\n")
    assert declined.returncode == 1
    assert "Delete these 22 resources?" in declined.stdout
    assert clouds.inventory(work.token).keys == planned_keys(work)

    proc = dpn(clouds, work, *DELETE)

    succeeded(proc)
    assert f"keep     aws_lambda_function:{function} (not managed by dpn" in proc.stdout
    assert f"keep     {role} (aws_lambda_function:{function} depends on it" in proc.stdout
    inventory = clouds.inventory(work.token)
    assert inventory.keys == kept
    _, deleted = status(work.wal)
    assert deleted.status is TxnStatus.DELETED
    assert set(deleted.deleted) == planned_keys(work) - kept

    again = dpn(clouds, work, *DELETE)
    assert again.returncode == 0
    assert "nothing to delete" in again.stderr


def test_delete_archive_keeps_a_backup_or_a_stopped_cluster_and_says_what_it_cannot_archive(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    succeeded(dpn(clouds, work, *CREATE))
    table = f"{work.token}-dev-watermarks-state"
    cluster_key = f"dbx_cluster:{work.token}-etl-shared-dev"

    proc = dpn(clouds, work, *DELETE, "--archive")

    succeeded(proc)
    assert "not supported for aws_glue_crawler, aws_glue_database," in proc.stderr
    assert f"archived     aws_dynamodb_table:{table}" in proc.stdout
    assert f"keep     {cluster_key} (dbx_job:" in proc.stdout  # the job stays, so it does
    backups = clouds.client("dynamodb").list_backups(TableName=table)["BackupSummaries"]
    assert [b["BackupName"].startswith(f"{table}-dpn-archive-") for b in backups] == [True]
    assert clouds.inventory(work.token).keys == planned_keys(work) - {f"aws_dynamodb_table:{table}"}

    data = json.loads(work.blueprint.read_text())
    del data["resources"]["databricks"]["jobs"]  # the job is no longer planned here
    work.blueprint.write_text(json.dumps(data))
    again = dpn(clouds, work, *DELETE, "--archive")

    succeeded(again)
    assert f"archived     {cluster_key}" in again.stdout
    (cluster,) = [c for c in clouds.dbx.clusters.values() if work.token in c["cluster_name"]]
    assert cluster["state"] == "TERMINATED"  # stopped, kept, and restartable
    assert cluster_key in clouds.inventory(work.token).keys


# --------------------------------------------------------------------------- crashes


def test_the_matrix_covers_every_crash_point() -> None:
    covered = set().union(*(case.points for case in ALL_CASES))
    assert covered == set(CRASH_POINTS)


@pytest.mark.parametrize("case", CREATE_CRASHES, ids=str)
def test_killed_while_creating_then_recovered_leaves_nothing(
    crashes: dict[CrashCase, Future[Outcome]], case: CrashCase
) -> None:
    outcome = crashes[case].result()
    outcome.assert_steps_ran_as_planned()
    (result,) = outcome.listing
    if case.name == "after-done:20" and result.status is TxnStatus.COMMITTED:
        # Killed after the 20th create was recorded, the last four may all have been in
        # flight and done in the cloud: recovery then finds every create done and
        # completes the transaction. Either outcome is whole; which one is timing.
        assert_all_or_nothing(outcome.work, outcome.inventory, everything=True)
        return
    assert_all_or_nothing(outcome.work, outcome.inventory, everything=False)
    assert result.status is TxnStatus.ROLLED_BACK


@pytest.mark.parametrize("case", COMMITTED_CRASHES, ids=str)
def test_killed_after_every_create_was_done_keeps_everything(
    crashes: dict[CrashCase, Future[Outcome]], case: CrashCase
) -> None:
    """Committed work is never undone: recovery completes a transaction whose every create
    is done, whether or not its commit record was written."""
    outcome = crashes[case].result()
    outcome.assert_steps_ran_as_planned()
    assert_all_or_nothing(outcome.work, outcome.inventory, everything=True)
    assert [r.status for r in outcome.listing] == [TxnStatus.COMMITTED]
    recovered = outcome.steps[-1].stdout
    if case.name == "after-end":
        assert "nothing to recover" in recovered
    else:
        assert ": COMMITTED" in recovered and "rolled back" not in recovered


@pytest.mark.parametrize("case", ROLLBACK_CRASHES, ids=str)
def test_killed_while_rolling_back_a_failed_create_then_recovered_leaves_nothing(
    crashes: dict[CrashCase, Future[Outcome]], case: CrashCase
) -> None:
    outcome = crashes[case].result()
    outcome.assert_steps_ran_as_planned()
    assert_all_or_nothing(outcome.work, outcome.inventory, everything=False)
    (result,) = outcome.listing
    assert result.status is TxnStatus.ROLLED_BACK
    assert "aws_lambda_function" in (result.error or "")
    assert len(result.created) >= 15
    assert sorted(result.rolled_back) == sorted(result.created)


@pytest.mark.parametrize("case", RECOVERY_CRASHES, ids=str)
def test_killed_during_recovery_then_recovered_again_leaves_nothing(
    crashes: dict[CrashCase, Future[Outcome]], case: CrashCase
) -> None:
    outcome = crashes[case].result()
    outcome.assert_steps_ran_as_planned()
    assert_all_or_nothing(outcome.work, outcome.inventory, everything=False)
    (result,) = outcome.listing
    assert result.status is TxnStatus.ROLLED_BACK
    (log,) = outcome.work.logs().values()
    assert log.recoveries == 2


@pytest.mark.parametrize("case", [TWO_CRASHED_RUNS], ids=str)
def test_two_crashed_runs_then_one_recover_leaves_nothing(
    crashes: dict[CrashCase, Future[Outcome]], case: CrashCase
) -> None:
    outcome = crashes[case].result()
    outcome.assert_steps_ran_as_planned()
    assert_all_or_nothing(outcome.work, outcome.inventory, everything=False)
    # the second run first rolled back the first, then was killed in its own transaction
    assert [r.status for r in outcome.listing] == [TxnStatus.ROLLED_BACK] * 2


@pytest.mark.parametrize("case", [DELETE_CRASH], ids=str)
def test_killed_while_deleting_then_recovered_finishes_the_delete(
    crashes: dict[CrashCase, Future[Outcome]], case: CrashCase
) -> None:
    outcome = crashes[case].result()
    outcome.assert_steps_ran_as_planned()
    assert outcome.inventory.keys == set()
    assert outcome.inventory.duplicates == {}
    created, deleted = outcome.listing
    assert (created.status, deleted.status) == (TxnStatus.COMMITTED, TxnStatus.DELETED)
    assert sorted(deleted.deleted) == sorted(created.created)


# --------------------------------------------------------------------------- faults
# Faults are injected by request path on the shared servers: these tests wait until no
# crash case is running any more.


@pytest.fixture
def idle_servers(crashes: dict[CrashCase, Future[Outcome]]) -> None:
    for future in crashes.values():
        if not future.cancelled():
            future.exception()  # waits; a case's own test reports its failure


class Burst:
    """A botocore `before-send` hook: the first `times` requests get this answer instead."""

    def __init__(self, times: int, status: int, headers: dict[str, str], body: bytes) -> None:
        self.times, self.status, self.headers, self.body = times, status, headers, body
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        with self._lock:
            self.calls += 1
            if self.calls > self.times:
                return None
        return AWSResponse(request.url, self.status, self.headers, _Raw(self.body))


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


class LoseFirstAnswer:
    """A botocore `before-send` hook: the first request reaches the cloud and is carried out,
    but the connection closes before its answer arrives; botocore then sends it again."""

    def __init__(self) -> None:
        self.calls = 0
        self._http = URLLib3Session()

    def __call__(self, request: Any, **_: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            self._http.send(request)
            raise ConnectionClosedError(endpoint_url=request.url)


@pytest.mark.usefixtures("idle_servers")
def test_throttling_and_5xx_bursts_are_retried_and_the_transaction_commits(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    aws = clouds.new_aws()
    hooks = {
        "sqs.CreateQueue": Burst(2, 503, {}, b""),
        "dynamodb.CreateTable": Burst(
            2,
            400,
            {"Content-Type": "application/x-amz-json-1.0"},
            b'{"__type": "ThrottlingException", "message": "Rate exceeded"}',
        ),
        "glue.CreateDatabase": Burst(2, 500, {}, b""),
    }
    for event, hook in hooks.items():
        service = event.split(".")[0]
        aws.client(service).meta.events.register(f"before-send.{event}", hook)
    clouds.dbx.throttle(3, "/api/2.1/clusters/create")
    clouds.dbx.unavailable(2, "/api/2.0/secrets/scopes/create")
    seen = len(clouds.dbx.requests)

    result = provision.apply_plan(
        plan_items(work), wal_dir=work.wal, providers=clouds.providers(aws)
    )

    assert result.status is TxnStatus.COMMITTED, result.error
    assert {event: hook.calls for event, hook in hooks.items()} == {
        "sqs.CreateQueue": 2 + 2,  # two queues, one burst
        "dynamodb.CreateTable": 3,
        "glue.CreateDatabase": 3,
    }
    requests = clouds.dbx.requests[seen:]
    answers = [s for _, path, s in requests if path == "/api/2.1/clusters/create"]
    assert answers == [429, 429, 429, 200]
    answers = [s for _, path, s in requests if path.endswith("/scopes/create")]
    assert answers == [503, 503, 200]
    assert_all_or_nothing(work, clouds.inventory(work.token), everything=True)


@pytest.mark.usefixtures("idle_servers")
def test_a_lost_create_answer_is_adopted_not_duplicated(clouds: Clouds, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    aws = clouds.new_aws()
    lost = {"iam.CreateRole": LoseFirstAnswer(), "dynamodb.CreateTable": LoseFirstAnswer()}
    for event, hook in lost.items():
        aws.client(event.split(".")[0]).meta.events.register(f"before-send.{event}", hook)
    # The server carries these out, then drops the connection; the SDK sends them again.
    clouds.dbx.lose_response("/api/2.1/clusters/create", drop=True)
    clouds.dbx.lose_response("/api/2.1/unity-catalog/catalogs", drop=True)
    seen = len(clouds.dbx.requests)

    result = provision.apply_plan(
        plan_items(work), wal_dir=work.wal, providers=clouds.providers(aws)
    )

    assert result.status is TxnStatus.COMMITTED, result.error
    assert lost["iam.CreateRole"].calls >= 2 and lost["dynamodb.CreateTable"].calls == 2
    requests = clouds.dbx.requests[seen:]
    assert [s for _, p, s in requests if p == "/api/2.1/clusters/create"] == [0, 200]
    assert [s for m, p, s in requests if p.endswith("/catalogs") and m == "POST"] == [0, 409]
    assert_all_or_nothing(work, clouds.inventory(work.token), everything=True)


@pytest.mark.usefixtures("idle_servers")
def test_a_delete_refused_during_rollback_ends_rollback_failed_until_continue_rollback(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path, failing=True)
    scope = f"dbx_secret_scope:{work.token}-platform-dev"
    clouds.dbx.fail_always("/api/2.0/secrets/scopes/delete", status=403)
    try:
        failed = dpn(clouds, work, *CREATE, "--format", "json")
        blocked = dpn(clouds, work, *CREATE)
    finally:
        clouds.dbx.clear_faults()

    assert failed.returncode == 1
    result = result_of(failed)
    assert result["status"] == "ROLLBACK_FAILED"
    assert [x["key"] for x in result["left"]] == [scope]
    assert result["left"][0]["reason"].startswith("delete failed: PermissionDenied")
    assert "finish with: dpn recover --continue-rollback --wal-dir .dpn-wal" in failed.stderr
    assert clouds.inventory(work.token).keys == {scope}
    assert blocked.returncode == 1
    assert "could not be rolled back completely" in blocked.stderr

    finished = dpn(clouds, work, "recover", "--continue-rollback")

    succeeded(finished)
    assert "ROLLED_BACK" in finished.stdout
    assert_all_or_nothing(work, clouds.inventory(work.token), everything=False)
