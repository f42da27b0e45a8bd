"""AWS resources are created in the configured region only: a blueprint named for another
region is refused before anything is read or created."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import write

from dpn_action.analysis import analyse
from dpn_action.naming.config import load_config
from dpn_action.plan import PlannedResource, planned
from dpn_action.provision import ProviderSetupError, check_regions


def plan(tmp_path: Path, region: str, aws: dict[str, Any]) -> list[PlannedResource]:
    blueprint = {
        "version": "1.0",
        "metadata": {"environment": "dev", "project": "dataplatform", "region": region},
        "resources": {
            "aws": aws,
            "databricks": {"clusters": [{"workload": "etl", "cluster_type": "shared"}]},
        },
    }
    path = write(tmp_path / "dev.json", json.dumps(blueprint))
    cfg, _ = load_config(None, None, {}, display_root=tmp_path)
    result = analyse(cfg, [path], display_root=tmp_path)
    assert not [f for f in result.findings if f.is_error]
    return planned(result.resources)


QUEUE = {"sqs_queues": [{"purpose": "ingest", "queue_type": "events"}]}


def test_aws_resources_carry_the_region_their_names_were_made_for(tmp_path: Path) -> None:
    items = plan(tmp_path, "eu-west-1", QUEUE)

    by_type = {p.type: p for p in items}
    assert by_type["aws_sqs_queue"].region == "eu-west-1"
    assert by_type["dbx_cluster"].region == ""
    assert by_type["aws_sqs_queue"].canonical()["region"] == "eu-west-1"
    assert "region" not in by_type["dbx_cluster"].canonical()


def test_a_blueprint_named_for_another_region_is_refused_with_the_fix(tmp_path: Path) -> None:
    items = plan(tmp_path, "eu-west-1", QUEUE)

    with pytest.raises(ProviderSetupError) as refused:
        check_regions(items, {"aws": SimpleNamespace(region="us-east-1")})  # type: ignore[dict-item]

    message = str(refused.value)
    assert "1 AWS resource of dev.json is named for region eu-west-1" in message
    assert "dataplatform-dev-ingest-events" in message
    assert "the AWS configuration's region is us-east-1" in message
    assert "AWS_REGION=eu-west-1" in message


def test_the_same_region_and_databricks_only_plans_pass(tmp_path: Path) -> None:
    items = plan(tmp_path, "eu-west-1", QUEUE)
    databricks_only = plan(tmp_path, "eu-west-1", {})
    assert {p.region for p in items} == {"eu-west-1", ""}  # an AWS resource to compare
    assert {p.region for p in databricks_only} == {""}  # nothing named for a region
    eu_west_1 = {"aws": SimpleNamespace(region="eu-west-1")}
    us_east_1 = {"aws": SimpleNamespace(region="us-east-1")}

    # each passes: none raises ProviderSetupError
    check_regions(items, eu_west_1)
    check_regions(databricks_only, us_east_1)
    check_regions(items, {})  # no AWS provider: nothing to compare


def test_a_bucket_with_its_own_region_is_created_there_and_not_refused(tmp_path: Path) -> None:
    import boto3
    from moto import mock_aws

    from dpn_action.providers.aws import AwsProvider
    from dpn_action.provision import to_operations

    bucket = {"s3_buckets": [{"purpose": "landing", "layer": "raw", "region": "eu-west-1"}]}
    items = plan(tmp_path, "us-east-1", bucket)

    check_regions(items, {"aws": SimpleNamespace(region="us-east-1")})  # type: ignore[dict-item]
    (op,) = [o for o in to_operations(items) if o.type_key == "aws_s3_bucket"]
    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        made = AwsProvider(session, "us-east-1").create(op, "txn-1", {})
        where = session.client("s3").get_bucket_location(Bucket=made.name)
    assert where["LocationConstraint"] == "eu-west-1"


def test_dpn_create_refuses_before_touching_any_cloud(tmp_path: Path) -> None:
    plan(tmp_path, "eu-west-1", QUEUE)  # writes dev.json
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABRICKS_"))},
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # nothing listens here: any cloud call would fail, not succeed
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dpn_action", "create", "--blueprint", "dev.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 1, proc.stderr
    assert "named for region eu-west-1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".dpn-wal").exists() or not any((tmp_path / ".dpn-wal").iterdir())


# ------------------------------------------------------------- no region configured at all


def no_region_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def test_with_no_region_configured_the_region_the_names_were_made_for_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dpn_action.provision import aws_regions, build_providers

    no_region_env(monkeypatch)
    items = plan(tmp_path, "eu-west-1", QUEUE)

    aws = build_providers({"aws"}, plan_regions=aws_regions(items))["aws"]

    assert aws.region == "eu-west-1"  # type: ignore[attr-defined]
    assert aws.region_source == "blueprint"  # type: ignore[attr-defined]
    check_regions(items, {"aws": aws})  # the same region: nothing to refuse


def test_a_configured_region_wins_over_the_blueprints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dpn_action.provision import aws_regions, build_providers

    no_region_env(monkeypatch)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    items = plan(tmp_path, "eu-west-1", QUEUE)

    aws = build_providers({"aws"}, plan_regions=aws_regions(items))["aws"]

    assert (aws.region, aws.region_source) == ("us-east-1", "AWS_REGION")  # type: ignore[attr-defined]
    with pytest.raises(ProviderSetupError, match="AWS_REGION=eu-west-1"):
        check_regions(items, {"aws": aws})


def test_several_blueprint_regions_and_none_configured_is_an_error_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dpn_action.provision import aws_regions, build_providers

    no_region_env(monkeypatch)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    items = plan(tmp_path / "a", "eu-west-1", QUEUE) + plan(tmp_path / "b", "ap-south-1", QUEUE)

    with pytest.raises(ProviderSetupError) as refused:
        build_providers({"aws"}, plan_regions=aws_regions(items))

    message = str(refused.value)
    assert "no AWS region is configured" in message
    assert "several: ap-south-1, eu-west-1" in message
    assert "set AWS_REGION to one of them" in message


def test_no_region_anywhere_is_the_providers_own_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from dpn_action.provision import build_providers

    no_region_env(monkeypatch)

    with pytest.raises(ProviderSetupError, match="no AWS region configured: set AWS_REGION"):
        build_providers({"aws"})


def test_dpn_create_works_in_the_blueprints_region_when_none_is_configured(
    tmp_path: Path,
) -> None:
    from moto.server import ThreadedMotoServer

    plan(tmp_path, "eu-west-1", QUEUE)  # writes dev.json: an SQS queue and a cluster
    blueprint = json.loads((tmp_path / "dev.json").read_text(encoding="utf-8"))
    del blueprint["resources"]["databricks"]
    token = f"t{uuid.uuid4().hex[:6]}"  # moto's state is shared by the whole test run
    blueprint["metadata"]["project"] = token
    (tmp_path / "dev.json").write_text(json.dumps(blueprint), encoding="utf-8")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABRICKS_"))},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "dpn_action", "create", "--blueprint", "dev.json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "COMMITTED" in proc.stdout

        import boto3

        def queues(region: str) -> list[str]:
            sqs = boto3.client(
                "sqs",
                region_name=region,
                endpoint_url=env["AWS_ENDPOINT_URL"],
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            found = sqs.list_queues(QueueNamePrefix=token).get("QueueUrls", [])
            return [u.rsplit("/", 1)[1] for u in found]

        assert queues("eu-west-1") == [f"{token}-dev-ingest-events"]
        assert queues("us-east-1") == []
    finally:
        server.stop()
