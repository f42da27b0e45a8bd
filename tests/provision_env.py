"""Loopback clouds for the provisioning tests: moto for AWS, the test server for Databricks.

`Clouds` starts both servers on 127.0.0.1, builds the environment a `dpn` subprocess gets
(fake credentials, the two endpoints, no configuration file of the machine it runs on, so no
real account can ever be reached), and lists what exists on both servers the way a person
would check by hand: AWS with boto3, Databricks from the server's own records (the loopback
API has no list endpoints for Unity Catalog objects), ownership through the providers' `read`.

Every test case works in its own directory with a blueprint whose `project` is a token unique
to the case, so all names of a case contain the token: cases share one pair of servers, may
run at the same time, and each looks only at its own resources.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks.sdk import AccountClient, WorkspaceClient
from databricks.sdk.service import compute
from dbx_server import DatabricksTestServer, Json, RequestContract
from moto.server import ThreadedMotoServer

from dpn_action.plan import PlannedResource
from dpn_action.providers.aws import AwsProvider
from dpn_action.providers.base import ResourceState
from dpn_action.providers.databricks import DatabricksProvider
from dpn_action.txn.crash import ENV_VAR as CRASH_ENV
from dpn_action.txn.log import TxnLog
from dpn_action.txn.wal import list_wal_files, read_wal, txn_id_of

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TOKEN = "dapi-e2e-test"
ACCOUNT = "acc-e2e"
REGION = "us-east-1"
MANAGED_POLICIES = "MOTO_IAM_LOAD_MANAGED_POLICIES"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}

# --------------------------------------------------------------------------- servers

_TERMINATE = RequestContract.of(compute.ClustersAPI, "delete")


class DatabricksServer(DatabricksTestServer):
    """The loopback workspace, plus terminating a cluster (`POST /api/2.1/clusters/delete`),
    which `dpn delete --archive` uses: the cluster stays, TERMINATED."""

    def dispatch(self, method: str, path: str, raw_query: str, raw_body: bytes) -> Any:
        if (method, path) == ("POST", "/api/2.1/clusters/delete"):
            body = json.loads(raw_body or b"{}")
            _TERMINATE.check_body(body)
            with self.lock:
                self._cluster(body.get("cluster_id"))["state"] = "TERMINATED"
            return {}
        return super().dispatch(method, path, raw_query, raw_body)


def _one_request_at_a_time() -> Callable[[], None]:
    """Make moto's server handle one request at a time; returns the function that undoes it.

    moto's backends are plain dictionaries without locks: a listing that runs while another
    request adds to the same dictionary fails with a 500 whose HTML body botocore cannot parse
    (`attach_role_policy` iterating the policies while a policy is created, say). AWS has no
    such failure, and the crash cases here send requests from several processes at once.
    moto's work is CPU-bound under one interpreter lock anyway, so little is lost.

    The request body is read before the lock is taken: a client stopped (SIGSTOP) between
    sending its headers and its body must hold up only its own request, not the server.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    lock = threading.Lock()

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        stream = environ["wsgi.input"]
        if environ.get("wsgi.input_terminated"):  # chunked: read to the end
            body = stream.read()
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = stream.read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        with lock:
            return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]

    def undo() -> None:
        DomainDispatcherApplication.__call__ = original  # type: ignore[method-assign]

    return undo


def _load_managed_policies_into_existing_accounts() -> None:
    """moto's state lives as long as the process: an IAM account an earlier test module made
    without AWS managed policies keeps lacking them. Give them to it."""
    from moto.iam.models import iam_backends

    for account in list(iam_backends.values()):
        for backend in list(account.values()):
            if not backend.aws_managed_policies:
                backend.aws_managed_policies = backend._init_aws_policies()
                backend.managed_policies.update({p.arn: p for p in backend.aws_managed_policies})


def _forget_tags_of_deleted_resources() -> Callable[[], None]:
    """Make moto delete a resource's tags with the resource, as AWS does.

    moto keeps the tags of a deleted S3 bucket, Glue database, Glue crawler or state machine
    (by ARN) and shows them on the next resource created under that name; AWS does not. Left
    as it is, a bucket deleted by a rollback and created again by a later transaction would
    wear the first transaction's tag. Returns the function that undoes the patch.
    """
    from moto.glue.models import GlueBackend
    from moto.s3.models import S3Backend
    from moto.stepfunctions.models import StepFunctionBackend

    def drop(tagger: Any, suffix: str) -> None:
        for arn in [a for a in tagger.tags if a.endswith(suffix)]:
            tagger.delete_all_tags_for_resource(arn)

    originals = {
        (S3Backend, "delete_bucket"): S3Backend.delete_bucket,
        (GlueBackend, "delete_database"): GlueBackend.delete_database,
        (GlueBackend, "delete_crawler"): GlueBackend.delete_crawler,
        (StepFunctionBackend, "delete_state_machine"): StepFunctionBackend.delete_state_machine,
    }

    def delete_bucket(self: Any, bucket_name: str) -> Any:
        arn = self.get_bucket(bucket_name).arn
        deleted = originals[(S3Backend, "delete_bucket")](self, bucket_name)
        if deleted is not None:
            self.tagger.delete_all_tags_for_resource(arn)
        return deleted

    def delete_database(self: Any, database_name: str) -> Any:
        originals[(GlueBackend, "delete_database")](self, database_name)
        drop(self.tagger, f":database/{database_name}")

    def delete_crawler(self: Any, name: str) -> Any:
        originals[(GlueBackend, "delete_crawler")](self, name)
        drop(self.tagger, f":crawler/{name}")

    def delete_state_machine(self: Any, arn: str) -> Any:
        originals[(StepFunctionBackend, "delete_state_machine")](self, arn)
        drop(self.tagger, arn)

    S3Backend.delete_bucket = delete_bucket  # type: ignore[method-assign]
    GlueBackend.delete_database = delete_database  # type: ignore[method-assign]
    GlueBackend.delete_crawler = delete_crawler  # type: ignore[method-assign]
    StepFunctionBackend.delete_state_machine = delete_state_machine  # type: ignore[method-assign]

    def undo() -> None:
        for (cls, name), fn in originals.items():
            setattr(cls, name, fn)

    return undo


class Clouds:
    """A moto server and a Databricks test server, with a SQL warehouse for managed tables."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # The examples attach an AWS managed policy to a role; moto knows them only if asked.
        self._managed_policies = os.environ.get(MANAGED_POLICIES)
        os.environ[MANAGED_POLICIES] = "true"
        _load_managed_policies_into_existing_accounts()
        self._unpatch = [_forget_tags_of_deleted_resources(), _one_request_at_a_time()]
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.aws_url = f"http://{host}:{port}"
        self.dbx = DatabricksServer(token=TOKEN, account_id=ACCOUNT).start()
        self.workspace = WorkspaceClient(host=self.dbx.url, token=TOKEN, auth_type="pat")
        self.account = AccountClient(
            host=self.dbx.url, token=TOKEN, account_id=ACCOUNT, auth_type="pat"
        )
        self.warehouse_id = self.workspace.warehouses.create(
            name="dpn-tests-sql", cluster_size="2X-Small", max_num_clusters=1
        ).id
        self._aws: AwsProvider | None = None

    def stop(self) -> None:
        self.dbx.stop()
        self.moto.stop()
        for undo in self._unpatch:
            undo()
        if self._managed_policies is None:
            os.environ.pop(MANAGED_POLICIES, None)
        else:
            os.environ[MANAGED_POLICIES] = self._managed_policies

    # --- what a dpn process gets ------------------------------------------------------------

    def env(self, crash_at: str | None = None, **extra: str) -> dict[str, str]:
        """The environment of a `dpn` subprocess: only the loopback clouds are reachable."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "DATABRICKS_"))
            and k not in (CRASH_ENV, "DPN_REPOSITORY", "GITHUB_REPOSITORY")
        }
        env.update(FAKE_AWS)
        env.update(
            AWS_ENDPOINT_URL=self.aws_url,
            DATABRICKS_HOST=self.dbx.url,
            DATABRICKS_TOKEN=TOKEN,
            DATABRICKS_ACCOUNT_ID=ACCOUNT,
            DATABRICKS_AUTH_TYPE="pat",
            DATABRICKS_WAREHOUSE_ID=str(self.warehouse_id),
            DATABRICKS_CONFIG_FILE=os.devnull,
            PYTHONPATH=str(REPO),
        )
        if crash_at:
            env[CRASH_ENV] = crash_at
        env.update(extra)
        return env

    def providers(self, aws: AwsProvider | None = None) -> dict[str, Any]:
        """Providers in this process, talking to the loopback servers."""
        return {
            "aws": aws or self.aws,
            "databricks": DatabricksProvider(
                self.workspace, self.account, warehouse_id=self.warehouse_id
            ),
        }

    @property
    def aws(self) -> AwsProvider:
        if self._aws is None:
            self._aws = self.new_aws()
        return self._aws

    def new_aws(self) -> AwsProvider:
        """An AWS provider with clients of its own (for tests that hook into botocore)."""
        import boto3

        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=REGION,
        )
        return AwsProvider(session, REGION, self.aws_url, settle_delay=0)

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    # --- what exists ------------------------------------------------------------------------

    def inventory(self, token: str) -> Inventory:
        """Every resource on both servers whose name contains `token`, with its marks."""
        found: list[tuple[str, str, dict[str, str]]] = []
        found += self._aws_names(token)
        found += self._dbx_names(token)
        counts = Counter((t, n) for t, n, _ in found)
        providers = self.providers()
        states: dict[str, ResourceState | None] = {}
        for type_key, name, scope in found:
            provider = providers["aws" if type_key.startswith("aws_") else "databricks"]
            states[f"{type_key}:{_full(name, scope)}"] = provider.read(type_key, name, scope)
        return Inventory(token, states, {k: n for k, n in counts.items() if n > 1})

    def _aws_names(self, token: str) -> Iterator[tuple[str, str, dict[str, str]]]:
        c = self.client
        for b in c("s3").list_buckets().get("Buckets", []):
            if token in b["Name"]:
                yield "aws_s3_bucket", b["Name"], {}
        glue = c("glue")
        for db in _pages(glue, "get_databases", "DatabaseList"):
            if token not in db["Name"]:
                continue
            yield "aws_glue_database", db["Name"], {}
            for table in _pages(glue, "get_tables", "TableList", DatabaseName=db["Name"]):
                yield "aws_glue_table", table["Name"], {"database": db["Name"]}
        for crawler in _pages(glue, "get_crawlers", "Crawlers"):
            if token in crawler["Name"]:
                yield "aws_glue_crawler", crawler["Name"], {}
        for fn in _pages(c("lambda"), "list_functions", "Functions"):
            if token in fn["FunctionName"]:
                yield "aws_lambda_function", fn["FunctionName"], {}
        for role in _pages(c("iam"), "list_roles", "Roles"):
            if token in role["RoleName"]:
                yield "aws_iam_role", role["RoleName"], {}
        for policy in _pages(c("iam"), "list_policies", "Policies", Scope="Local"):
            if token in policy["PolicyName"]:
                yield "aws_iam_policy", policy["PolicyName"], {}
        # one page of all names: moto answers ListStreams with at most `Limit` names and no
        # NextToken, so botocore's paginator would stop after the first ten
        for stream in c("kinesis").list_streams(Limit=10000)["StreamNames"]:
            if token in stream:
                yield "aws_kinesis_stream", stream, {}
        for stream in c("firehose").list_delivery_streams(Limit=10000)["DeliveryStreamNames"]:
            if token in stream:
                yield "aws_kinesis_firehose", stream, {}
        for table in _pages(c("dynamodb"), "list_tables", "TableNames"):
            if token in table:
                yield "aws_dynamodb_table", table, {}
        for topic in _pages(c("sns"), "list_topics", "Topics"):
            name = topic["TopicArn"].rsplit(":", 1)[1]
            if token in name:
                yield "aws_sns_topic", name, {}
        for url in c("sqs").list_queues(QueueNamePrefix=token).get("QueueUrls", []):
            yield "aws_sqs_queue", url.rsplit("/", 1)[1], {}
        for machine in _pages(c("stepfunctions"), "list_state_machines", "stateMachines"):
            if token in machine["name"]:
                yield "aws_step_function", machine["name"], {}

    def _dbx_names(self, token: str) -> list[tuple[str, str, dict[str, str]]]:
        s = self.dbx
        out: list[tuple[str, str, dict[str, str]]] = []
        with s.lock:
            named: list[tuple[str, list[Json], str]] = [
                ("dbx_workspace", list(s.workspaces.values()), "workspace_name"),
                ("dbx_cluster", list(s.clusters.values()), "cluster_name"),
                ("dbx_sql_warehouse", list(s.warehouses.values()), "name"),
                ("dbx_secret_scope", list(s.scopes.values()), "name"),
                ("dbx_instance_pool", list(s.pools.values()), "instance_pool_name"),
                ("dbx_policy", list(s.policies.values()), "name"),
            ]
            named.append(("dbx_job", [j["settings"] for j in s.jobs.values()], "name"))
            named.append(("dbx_pipeline", [p["spec"] for p in s.pipelines.values()], "name"))
            for type_key, items, attr in named:
                out += [(type_key, i[attr], {}) for i in items if token in str(i.get(attr))]
            for repo in s.repos.values():
                if token in repo["path"]:
                    out.append(("dbx_repo", repo["path"].rsplit("/", 1)[1], {}))
            for path, obj in s.objects.items():
                if obj["object_type"] == "NOTEBOOK" and token in path:
                    out.append(("dbx_notebook_path", path, {}))
            for full in s.catalogs:
                if token in full:
                    out.append(("dbx_catalog", full, {}))
            for full in s.schemas:
                if token in full:
                    catalog, name = full.split(".")
                    out.append(("dbx_schema", name, {"catalog": catalog}))
            for type_key, store in (("dbx_table", s.tables), ("dbx_volume", s.volumes)):
                for full in store:
                    if token in full:
                        catalog, schema, name = full.split(".")
                        out.append((type_key, name, {"catalog": catalog, "schema": schema}))
        return out


def _full(name: str, scope: dict[str, str]) -> str:
    return ".".join([*scope.values(), name])


def _pages(client: Any, method: str, key: str, **kwargs: Any) -> Iterator[Any]:
    if client.can_paginate(method):
        for page in client.get_paginator(method).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, method)(**kwargs).get(key, [])


@dataclass
class Inventory:
    """What exists for one case: key -> what `read` says of it (None: listed, then gone)."""

    token: str
    states: dict[str, ResourceState | None]
    #: (type, name) listed more than once
    duplicates: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def keys(self) -> set[str]:
        return {k for k, s in self.states.items() if s is not None}


# --------------------------------------------------------------------------- blueprints


def blueprint(token: str, *, failing: bool = False) -> dict[str, Any]:
    """24 resources over both clouds (14 AWS, 10 Databricks) with references between them.

    With `failing`, the Lambda function's code points at a bucket that does not exist: the
    cloud refuses that create, permanently, once the function's role has been created.
    """
    lambda_fn: dict[str, Any] = {
        "domain": "orders",
        "trigger": "s3",
        "action": "validate",
        "role_ref": "lambda-role",
        "runtime": "python3.12",
        "handler": "app.handler",
    }
    if failing:
        lambda_fn["code"] = {"s3_bucket": f"{token}-no-such-bucket", "s3_key": "fn.zip"}
    return {
        "version": "1.0",
        "metadata": {
            "environment": "dev",
            "project": token,
            "region": REGION,
            "team": "data-engineering",
            "cost_center": "IT-1001",
        },
        "resources": {
            "aws": {
                "s3_buckets": [
                    {"id": "landing", "purpose": "landing", "layer": "raw", "versioning": False},
                    {"purpose": "lake", "layer": "bronze", "lifecycle_days": 30},
                ],
                "glue_databases": [{"id": "db", "domain": "sales", "layer": "bronze"}],
                "glue_tables": [
                    {
                        "database_ref": "db",
                        "entity": "orders",
                        "columns": [{"name": "order_id", "type": "bigint"}],
                    },
                    {"database_ref": "db", "table_type": "dim", "entity": "customer"},
                ],
                "iam_roles": [
                    {
                        "id": "glue-role",
                        "service": "glue",
                        "purpose": "crawler",
                        "assume_role_service": "glue",
                    },
                    {
                        "id": "lambda-role",
                        "service": "lambda",
                        "purpose": "validate",
                        "assume_role_service": "lambda",
                    },
                ],
                "iam_policies": [{"service": "lambda", "purpose": "lake-read"}],
                "glue_crawlers": [
                    {
                        "database": "sales",
                        "source": "s3",
                        "database_ref": "db",
                        "role_ref": "glue-role",
                        "bucket_ref": "landing",
                        "s3_path": "sales/",
                    }
                ],
                "lambda_functions": [lambda_fn],
                "dynamodb_tables": [{"entity": "watermarks", "purpose": "state"}],
                "sns_topics": [{"event_type": "quality", "purpose": "alerts"}],
                "sqs_queues": [
                    {"purpose": "ingest", "queue_type": "events", "visibility_timeout": 120},
                    {"purpose": "ingest", "queue_type": "dlq"},
                ],
            },
            "databricks": {
                "instance_pools": [
                    {
                        "id": "pool",
                        "node_type": "i3",
                        "purpose": "general",
                        "node_type_id": "i3.xlarge",
                    }
                ],
                "policies": [
                    {
                        "id": "policy",
                        "target": "jobs",
                        "policy_type": "compute",
                        "definition": {"autotermination_minutes": {"type": "fixed", "value": 30}},
                    }
                ],
                "clusters": [
                    {
                        "workload": "etl",
                        "cluster_type": "shared",
                        "node_type": "i3.xlarge",
                        "num_workers": 1,
                        "instance_pool_ref": "pool",
                        "policy_ref": "policy",
                    }
                ],
                "jobs": [{"job_type": "batch", "purpose": "load", "cluster_ref": "etl"}],
                "notebooks": [
                    {"domain": "sales", "purpose": "ingest", "notebook_name": "load_orders"}
                ],
                "secret_scopes": [{"purpose": "platform"}],
                "unity_catalog": {
                    "catalogs": [
                        {
                            "catalog_type": "main",
                            "schemas": [
                                {
                                    "domain": "sales",
                                    "layer": "bronze",
                                    "tables": [
                                        {
                                            "entity": "orders",
                                            "columns": [{"name": "order_id", "type": "BIGINT"}],
                                        }
                                    ],
                                    "volumes": [{"data_type": "raw", "purpose": "files"}],
                                }
                            ],
                        }
                    ]
                },
            },
        },
    }


def new_token() -> str:
    """A project name unique to one case: every resource name of the case contains it."""
    return f"t{secrets.token_hex(3)}"


@dataclass
class Workdir:
    """A directory with the examples' naming configs and one blueprint, where `dpn` runs."""

    root: Path
    token: str
    blueprint: Path

    @property
    def wal(self) -> Path:
        return self.root / ".dpn-wal"

    def logs(self) -> dict[str, TxnLog]:
        return {txn_id_of(p): TxnLog.from_read(read_wal(p)) for p in list_wal_files(self.wal)}


def plan_items(work: Workdir, blueprint: Path | None = None) -> list[PlannedResource]:
    """The planned resources of the work directory's blueprint, as `dpn` run there plans them."""
    from dpn_action.analysis import analyse
    from dpn_action.naming.config import discover, load_config
    from dpn_action.plan import planned

    values, patterns = discover(work.root)
    cfg, findings = load_config(values, patterns, {}, display_root=work.root)
    result = analyse(cfg, [blueprint or work.blueprint], display_root=work.root)
    errors = [f for f in findings + result.findings if f.is_error]
    assert not errors, errors
    return planned(result.resources)


def workdir(root: Path, *, failing: bool = False, token: str | None = None) -> Workdir:
    token = token or new_token()
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLES / ".dpn", root / ".dpn", dirs_exist_ok=True)
    path = root / "blueprint.json"
    path.write_text(json.dumps(blueprint(token, failing=failing), indent=2), encoding="utf-8")
    return Workdir(root, token, path)


def examples_workdir(root: Path) -> Workdir:
    """A copy of the examples (configs and blueprints): `blueprints/dev.json` uses all 27
    types. Its names are fixed, so only one test may create them."""
    shutil.copytree(EXAMPLES / ".dpn", root / ".dpn")
    shutil.copytree(EXAMPLES / "blueprints", root / "blueprints")
    return Workdir(root, "dataplatform", root / "blueprints" / "dev.json")


def dpn(
    clouds: Clouds,
    work: Workdir,
    *args: str,
    crash_at: str | None = None,
    input: str | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `dpn ARGS` in the work directory, as a separate process (`env`: variables to
    add to the loopback clouds' environment)."""
    return subprocess.run(
        [sys.executable, "-m", "dpn_action", *args],
        cwd=work.root,
        env=clouds.env(crash_at, **(env or {})),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_stopped(proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until the process has stopped itself (SIGSTOP at a crash point)."""
    deadline = time.monotonic() + timeout
    stat = Path(f"/proc/{proc.pid}/stat")
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "T":
            return
        time.sleep(0.05)
    raise AssertionError("the process never stopped")
