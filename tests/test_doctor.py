"""`dpn doctor`, as a separate process against moto and the loopback Databricks server: every
check passes where everything works, and the right line fails, with exit 1, where one thing
does not (a bad Databricks token, AWS credentials moto refuses, a host that does not answer).
The permission lists are held against the calls the AWS provider really makes.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from provision_env import Clouds, Workdir, workdir

from dpn_action import doctor
from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.plan import PlannedResource
from dpn_action.providers.aws import AwsProvider
from dpn_action.providers.aws import diagnose as aws_diagnose
from dpn_action.providers.aws.permissions import ACTIONS, ARNS, ELSEWHERE, iam_action, needed
from dpn_action.providers.checks import FAIL, OK, SKIP
from dpn_action.providers.databricks.permissions import NEEDS

GUARD = 120


@pytest.fixture(scope="module")
def clouds() -> Iterator[Clouds]:
    c = Clouds()
    # moto answers the policy simulator, which it lacks, with a 500 and logs the traceback
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.CRITICAL)
    yield c
    werkzeug.setLevel(level)
    c.stop()


def doctor_run(
    clouds: Clouds, work: Workdir, *args: str, drop: tuple[str, ...] = (), **extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`dpn doctor ARGS --format json` in the work directory; its checks by name."""
    env = clouds.env(**extra)
    for key in drop:
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-m", "dpn_action", "doctor", *args, "--format", "json"],
        cwd=work.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    return proc, {c["name"]: c for c in data["checks"]}


def statuses(checks: dict[str, Any]) -> dict[str, str]:
    return {name: c["status"] for name, c in checks.items()}


# --------------------------------------------------------------------------- all is well


def test_every_check_passes_against_moto_and_the_loopback_workspace(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)

    proc, checks = doctor_run(clouds, work, "--blueprint", "blueprint.json")

    assert proc.returncode == 0, proc.stdout
    assert [n for n, s in statuses(checks).items() if s == FAIL] == []
    for name in (
        "python",
        "dpn",
        "blueprint",
        "boto3",
        "botocore",
        "databricks-sdk",
        "aws region",
        "aws endpoint",
        "aws credentials",
        "databricks endpoint",
        "databricks credentials",
    ):
        assert checks[name]["status"] == OK, checks[name]
    assert checks["blueprint"]["detail"] == "blueprint.json: 24 resources (14 aws, 10 databricks)"
    assert checks["aws region"]["detail"].startswith("us-east-1 (")
    assert checks["aws credentials"]["detail"] == (
        "account 123456789012 as arn:aws:sts::123456789012:user/moto"
    )
    assert checks["databricks credentials"]["detail"] == (
        f"dpn-tests@example.com on {clouds.dbx.url}"
    )
    # moto has no policy simulator: each AWS type lists what it needs, honestly not simulated
    aws_types = sorted({k for k in checks if k.startswith("aws permissions ")})
    assert len(aws_types) == 10  # the blueprint's AWS types
    for name in aws_types:
        assert checks[name]["status"] == SKIP
        assert checks[name]["detail"].startswith(
            "not simulated: the endpoint does not offer iam:SimulatePrincipalPolicy"
        )
        type_key = name.removeprefix("aws permissions ")
        assert checks[name]["detail"].endswith("needs " + ", ".join(needed(type_key)))
    dbx_types = [k for k in checks if k.startswith("databricks permissions ")]
    assert len(dbx_types) == 10
    assert all(checks[n]["status"] == SKIP for n in dbx_types)
    assert "CREATE CATALOG" in checks["databricks permissions dbx_catalog"]["detail"]


def test_the_text_form_is_one_line_per_check(clouds: Clouds, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    env = clouds.env(DATABRICKS_TOKEN="dapi-wrong")

    proc = subprocess.run(
        [sys.executable, "-m", "dpn_action", "doctor"],
        cwd=work.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )

    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("ok    python: Python ")
    (failed,) = [line for line in lines if line.startswith("fail")]
    assert failed.startswith("fail  databricks credentials: ")
    assert "(fix: check DATABRICKS_TOKEN" in failed
    assert lines[-1] == f"{len(lines) - 1} checks: 1 failed"


# --------------------------------------------------------------------------- the right line fails


def test_a_bad_databricks_token_fails_the_databricks_credentials_line(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)

    proc, checks = doctor_run(clouds, work, "--blueprint", "blueprint.json", DATABRICKS_TOKEN="x")

    assert proc.returncode == 1
    assert [n for n, s in statuses(checks).items() if s == FAIL] == ["databricks credentials"]
    failed = checks["databricks credentials"]
    assert "refused the credentials (Unauthenticated" in failed["detail"]
    assert "DATABRICKS_TOKEN" in failed["hint"]
    assert checks["databricks endpoint"]["status"] == OK  # the host answers; the token is bad


def test_a_host_that_does_not_answer_fails_the_endpoint_line_quickly(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"

    started = time.monotonic()
    proc, checks = doctor_run(clouds, work, AWS_ENDPOINT_URL=dead, DATABRICKS_HOST=dead)

    assert time.monotonic() - started < GUARD
    assert proc.returncode == 1
    assert sorted(n for n, s in statuses(checks).items() if s == FAIL) == [
        "aws endpoint",
        "databricks endpoint",
    ]
    assert checks["aws endpoint"]["hint"] == f"check AWS_ENDPOINT_URL (now {dead})"
    assert checks["databricks endpoint"]["detail"] == f"cannot reach {dead} (connection refused)"
    assert checks["aws credentials"]["status"] == SKIP
    assert checks["databricks credentials"]["status"] == SKIP


def test_without_a_blueprint_a_cloud_that_is_not_configured_is_skipped(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    aws_keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

    proc, checks = doctor_run(clouds, work, drop=(*aws_keys, "DATABRICKS_HOST"))

    assert proc.returncode == 0, proc.stdout
    assert checks["aws"]["status"] == SKIP
    assert checks["aws"]["detail"].startswith("not configured here (no credentials found)")
    assert checks["databricks"]["status"] == SKIP
    assert checks["databricks"]["detail"].startswith("not configured here (no host configured)")


def test_a_blueprint_that_needs_an_unconfigured_cloud_fails_with_what_to_set(
    clouds: Clouds, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    aws_keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

    proc, checks = doctor_run(clouds, work, "--blueprint", "blueprint.json", drop=aws_keys)

    assert proc.returncode == 1
    failed = checks["aws credentials"]
    assert failed["status"] == FAIL
    assert failed["detail"].startswith("no credentials found")
    assert "AWS_PROFILE" in failed["hint"] and "AWS_ACCESS_KEY_ID" in failed["hint"]
    assert checks["aws permissions"]["status"] == SKIP


def test_a_blueprint_of_one_cloud_does_not_check_the_other(clouds: Clouds, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    data = json.loads(work.blueprint.read_text(encoding="utf-8"))
    del data["resources"]["databricks"]
    work.blueprint.write_text(json.dumps(data), encoding="utf-8")

    proc, checks = doctor_run(clouds, work, "--blueprint", "blueprint.json", DATABRICKS_TOKEN="x")

    assert proc.returncode == 0, proc.stdout  # the bad token does not matter to this blueprint
    assert checks["databricks"]["status"] == SKIP
    assert "databricks credentials" not in checks


# --------------------------------------------------------------------------- refused AWS keys


@pytest.fixture(scope="module")
def strict_moto() -> Iterator[str]:
    """A moto server of its own process that checks credentials (it knows none, so it refuses
    every key): `INITIAL_NO_AUTH_ACTION_COUNT=0`. Its own process, because the setting is
    global to moto's process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=30)


def test_aws_credentials_the_endpoint_refuses_fail_the_aws_credentials_line(
    clouds: Clouds, strict_moto: str, tmp_path: Path
) -> None:
    work = workdir(tmp_path)

    proc, checks = doctor_run(
        clouds, work, "--blueprint", "blueprint.json", AWS_ENDPOINT_URL=strict_moto
    )

    assert proc.returncode == 1
    assert [n for n, s in statuses(checks).items() if s == FAIL] == ["aws credentials"]
    failed = checks["aws credentials"]
    assert failed["detail"].startswith("the credentials were refused (InvalidClientTokenId")
    assert "AWS_ACCESS_KEY_ID" in failed["hint"]
    assert checks["aws endpoint"]["status"] == OK


def test_dpn_create_with_refused_aws_credentials_says_so_once(
    clouds: Clouds, strict_moto: str, tmp_path: Path
) -> None:
    work = workdir(tmp_path)
    env = clouds.env(AWS_ENDPOINT_URL=strict_moto)

    proc = subprocess.run(
        [sys.executable, "-m", "dpn_action", "create", "--blueprint", "blueprint.json"],
        cwd=work.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD,
        check=False,
    )

    assert proc.returncode == 1
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert line.startswith("Error: aws: the credentials were refused (InvalidClientTokenId: ")
    assert "`dpn doctor`" in line
    assert not work.wal.exists() or not any(work.wal.iterdir())


# --------------------------------------------------------------------------- the SDKs


def planned(types: list[str]) -> list[PlannedResource]:
    return [
        PlannedResource(
            key=f"{t}:x",
            type=t,
            provider=CATALOGUE[t].provider,
            name="x",
            full_name="x",
            environment="dev",
            file="b.json",
            pointer="",
            depends_on=(),
            properties={},
        )
        for t in types
    ]


def test_a_missing_sdk_fails_only_for_a_cloud_the_blueprint_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = doctor.metadata.version

    def version(dist: str) -> str:
        if dist == "databricks-sdk":
            raise doctor.metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(doctor.metadata, "version", version)

    not_needed = doctor._cloud("databricks", planned(["aws_sqs_queue"]), {"aws"})
    assert [(c.name, c.status) for c in not_needed] == [
        ("databricks-sdk", SKIP),
        ("databricks", SKIP),
    ]
    assert not_needed[0].detail == "not installed (needed only for databricks resources)"

    needed_here = doctor._cloud("databricks", planned(["dbx_cluster"]), {"databricks"})
    assert [(c.name, c.status) for c in needed_here] == [
        ("databricks-sdk", FAIL),
        ("databricks", SKIP),
    ]
    assert needed_here[0].detail == "not installed (needed by the blueprint)"
    assert needed_here[0].hint == "pip install 'dpn-action[databricks]' (or databricks-sdk)"


def test_an_sdk_older_than_dpn_needs_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.metadata, "version", lambda dist: "1.20.0")

    check = doctor._sdk("boto3", required=True)

    assert (check.status, check.detail) == (FAIL, "boto3 1.20.0; dpn needs >=1.34")


# --------------------------------------------------------------------------- the permission lists


def test_every_type_has_its_permissions_and_its_arn() -> None:
    aws = {k for k, t in CATALOGUE.items() if t.provider == "aws"}
    dbx = {k for k, t in CATALOGUE.items() if t.provider == "databricks"}
    assert set(ACTIONS) == set(ARNS) == aws
    assert set(ELSEWHERE) <= aws
    assert set(NEEDS) == dbx


@pytest.fixture(scope="module")
def moto_aws() -> Iterator[AwsProvider]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    yield AwsProvider(session, "us-east-1", f"http://{host}:{port}", settle_delay=0)
    server.stop()


def test_the_aws_permission_lists_cover_every_call_the_provider_makes(
    moto_aws: AwsProvider,
) -> None:
    """Every AWS type is created (with its references), read, tagged, updated in place,
    archived where it can be, and deleted (a bucket with an object in it, a role with a
    policy attached) against moto; each call the provider makes must be in the type's list."""
    import test_aws_provider as specs  # the per-type blueprints of the provider's own tests

    calls: dict[str, set[str]] = {}
    current: list[str] = []

    def record(model: Any, **_: Any) -> None:
        if current:
            action = iam_action(model.service_model.service_name, model.name)
            if action is not None:
                calls.setdefault(current[-1], set()).add(action)

    moto_aws._session.events.register("before-call", record)
    cloud = specs.Cloud(moto_aws)
    for type_key in specs.AWS_TYPES:
        op, resolved = cloud.plan(type_key, txn=f"txn-{uuid.uuid4().hex[:6]}")
        current.append(type_key)
        made = moto_aws.create(op, op.key, resolved)
        moto_aws.read(type_key, op.name, op.scope)
        moto_aws.tag(made, {"owner": "doctor"})
        if type_key in specs.SETTINGS:
            changed = replace(op, properties=specs.SETTINGS[type_key][0])
            moto_aws.update_settings(changed, made, resolved)
        current.pop()  # what someone else does meanwhile is not recorded
        if type_key == "aws_s3_bucket":
            moto_aws.client("s3").put_object(Bucket=op.name, Key="a", Body=b"x")
        if type_key == "aws_iam_role":
            _, policy = cloud.create("aws_iam_policy", made.tags["dpn-transaction"])
            moto_aws.client("iam").attach_role_policy(
                RoleName=op.name, PolicyArn=policy.resource_id
            )
        current.append(type_key)
        if type_key in moto_aws.archive_types:
            moto_aws.archive(made)
        moto_aws.delete(made)
        current.pop()

    assert set(calls) == set(specs.AWS_TYPES)
    for type_key, made_calls in sorted(calls.items()):
        missing = made_calls - set(needed(type_key))
        assert not missing, f"{type_key} calls {sorted(missing)}, not in its permission list"


# --------------------------------------------------------------------------- the simulator


def test_the_policy_simulator_is_asked_for_the_callers_role_on_the_planned_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto has no simulator, so its request and answer go through botocore's stubber,
    which holds them against IAM's API model: the role behind an assumed-role session,
    each type's actions on the planned resources' ARNs, and a denial read back."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    aws = AwsProvider(session, "eu-west-1")
    sts = session.client("sts", region_name="eu-west-1")
    iam = session.client("iam", region_name="eu-west-1")
    clients = {"sts": sts, "iam": iam}
    monkeypatch.setattr(aws, "check_client", lambda service, unsigned=False: clients[service])
    role = "arn:aws:iam::111122223333:role/ci/deployer"
    with Stubber(sts) as sts_stub, Stubber(iam) as iam_stub:
        sts_stub.add_response(
            "get_caller_identity",
            {
                "Account": "111122223333",
                "Arn": "arn:aws:sts::111122223333:assumed-role/deployer/run-42",
                "UserId": "AROA:run-42",
            },
        )
        iam_stub.add_response(
            "get_role",
            {
                "Role": {
                    "Path": "/ci/",
                    "RoleName": "deployer",
                    "RoleId": "AROAEXAMPLEID12345",
                    "Arn": role,
                    "CreateDate": "2026-01-01T00:00:00Z",
                    "AssumeRolePolicyDocument": "{}",
                }
            },
            {"RoleName": "deployer"},
        )
        queue_arn = "arn:aws:sqs:eu-west-1:111122223333:dataplatform-dev-ingest-events"
        iam_stub.add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [
                    {"EvalActionName": a, "EvalDecision": "allowed"}
                    for a in ACTIONS["aws_sqs_queue"]
                    if a != "sqs:TagQueue"
                ]
                + [{"EvalActionName": "sqs:TagQueue", "EvalDecision": "implicitDeny"}],
                "IsTruncated": False,
            },
            {
                "PolicySourceArn": role,
                "ActionNames": list(ACTIONS["aws_sqs_queue"]),
                "ResourceArns": [queue_arn],
            },
        )

        found = aws_diagnose.permissions(
            aws, {"aws_sqs_queue": [("dataplatform-dev-ingest-events", {})]}
        )

    (check,) = found
    assert check.name == "aws permissions aws_sqs_queue"
    assert check.status == FAIL
    assert check.detail == f"1 of 7 actions denied to {role}: sqs:TagQueue"
    assert role in check.hint


def test_the_root_user_is_not_simulated(monkeypatch: pytest.MonkeyPatch) -> None:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    aws = AwsProvider(session, "us-east-1")
    sts = session.client("sts", region_name="us-east-1")
    monkeypatch.setattr(aws, "check_client", lambda service, unsigned=False: sts)
    with Stubber(sts) as stub:
        stub.add_response(
            "get_caller_identity",
            {"Account": "111122223333", "Arn": "arn:aws:iam::111122223333:root", "UserId": "1"},
        )
        (check,) = aws_diagnose.permissions(aws, {"aws_sns_topic": [("t", {})]})

    assert check.status == SKIP
    assert check.detail.startswith("not simulated: the account's root user may do everything")
