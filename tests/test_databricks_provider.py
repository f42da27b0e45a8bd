"""The Databricks provider, through the real databricks-sdk, against a loopback workspace.

Every one of the 14 Databricks types is created with its blueprint properties and
references, read back as ours, tagged where it has tags, deleted, and deleted again. The
server checks each request against the SDK's own contract, so these tests also show that the
provider sends what the API accepts. Then the hard cases: names taken by someone else,
throttling, 5xx bursts, permanent failures, and creates whose answer is lost.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from databricks.sdk import AccountClient, WorkspaceClient
from databricks.sdk import errors as sdk_errors
from databricks.sdk.config import Config
from dbx_server import DatabricksTestServer, RequestContract, parse_create_table

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Operation,
    ResourceState,
    SettingsUpdater,
    settings_of,
)
from dpn_action.providers.databricks import (
    KINDS,
    SCOPE_MARKER_KEY,
    SETTINGS_TYPES,
    TAG_TYPES,
    DatabricksProvider,
    ResourceConflict,
    create_table_sql,
    mark_text,
    parse_mark_text,
)

TXN = "20260101T120000000000Z-0badc0de"
OTHER_TXN = "20251231T235959000000Z-feedf00d"
TOKEN = "dapi-test"
ACCOUNT = "acc-test"
OURS = {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: TXN}

CATALOG = "dataplatform_analytics_dev"
SCHEMA = "sales_bronze"
UC_SCOPE = {"catalog": CATALOG, "schema": SCHEMA}


def op(
    type_key: str,
    name: str,
    properties: dict[str, Any] | None = None,
    *,
    refs: dict[str, str] | None = None,
    scope: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> Operation:
    refs = refs or {}
    return Operation(
        key=f"{type_key}:{'/'.join((scope or {}).values())}/{name}",
        type_key=type_key,
        provider="databricks",
        name=name,
        properties=properties or {},
        tags=tags or {},
        depends_on=tuple(refs.values()),
        refs=refs,
        scope=scope or {},
    )


#: one planned operation per type, as a blueprint would give it
OPS: dict[str, Operation] = {
    o.type_key: o
    for o in [
        op(
            "dbx_workspace",
            "dbx-dataplatform-analytics-dev-use1",
            {
                "aws_region": "us-east-1",
                "credentials_id": "cred-1",
                "storage_configuration_id": "storage-1",
                "pricing_tier": "PREMIUM",
            },
            tags={"team": "data-platform"},
        ),
        op(
            "dbx_policy",
            "dataplatform-etl-compute-dev",
            {
                "definition": {"spark_version": {"type": "fixed", "value": "15.4.x-scala2.12"}},
                "max_clusters_per_user": 2,
            },
        ),
        op(
            "dbx_instance_pool",
            "dataplatform-pool-i3-etl-dev",
            {"node_type_id": "i3.xlarge", "min_idle_instances": 0, "max_capacity": 8},
            tags={"team": "data-platform"},
        ),
        op(
            "dbx_cluster",
            "dataplatform-etl-shared-dev",
            {"autoscale": {"min_workers": 1, "max_workers": 4}, "autotermination_minutes": 30},
            refs={
                "policy_ref": "dbx_policy:/dataplatform-etl-compute-dev",
                "instance_pool_ref": "dbx_instance_pool:/dataplatform-pool-i3-etl-dev",
            },
            tags={"cost_center": "IT-1001"},
        ),
        op(
            "dbx_job",
            "dataplatform-batch-load-daily-dev",
            {
                "tasks": [{"notebook_task": {"notebook_path": "/dataplatform/sales/load"}}],
                "cron": "0 0 2 * * ?",
                "timezone": "Europe/Amsterdam",
                "max_concurrent_runs": 1,
            },
            refs={"cluster_ref": "dbx_cluster:/dataplatform-etl-shared-dev"},
        ),
        op(
            "dbx_notebook_path",
            "/dataplatform/sales/ingest/dev/orders",
            {"language": "PYTHON"},
        ),
        op(
            "dbx_repo",
            "dataplatform-etl-dev",
            {"url": "https://github.com/example/etl.git", "branch": "develop", "folder": "data"},
        ),
        op(
            "dbx_pipeline",
            "dataplatform-dlt-kafka-bronze-dev",
            {
                "libraries": [{"notebook": {"path": "/dataplatform/dlt/bronze"}}],
                "serverless": True,
                "development": True,
                "target_schema": "bronze",
            },
            refs={"catalog_ref": f"dbx_catalog:/{CATALOG}"},
        ),
        op(
            "dbx_sql_warehouse",
            "dataplatform-sql-bi-small-dev",
            {"cluster_size": "Small", "auto_stop_mins": 10, "warehouse_type": "PRO"},
        ),
        op("dbx_catalog", CATALOG, {"comment": "analytics"}),
        op("dbx_schema", SCHEMA, {"comment": "raw sales"}, scope={"catalog": CATALOG}),
        op(
            "dbx_table",
            "fact_orders",
            {
                "columns": [
                    {"name": "order_id", "type": "bigint", "nullable": False},
                    {"name": "amount", "type": "decimal(18,2)", "comment": "in EUR"},
                    {"name": "order_date", "type": "date"},
                ],
                "partition_columns": ["order_date"],
                "comment": "one row per order",
            },
            scope=UC_SCOPE,
        ),
        op("dbx_volume", "raw_landing", {"comment": "landing files"}, scope=UC_SCOPE),
        op("dbx_secret_scope", "dataplatform-etl-dev", {"initial_manage_principal": "users"}),
    ]
}

#: what each type needs created first
NEEDS = {
    "dbx_cluster": ["dbx_policy", "dbx_instance_pool"],
    "dbx_job": ["dbx_cluster"],
    "dbx_pipeline": ["dbx_catalog"],
    "dbx_schema": ["dbx_catalog"],
    "dbx_table": ["dbx_schema"],
    "dbx_volume": ["dbx_schema"],
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server() -> Iterator[DatabricksTestServer]:
    with DatabricksTestServer(token=TOKEN, account_id=ACCOUNT) as s:
        yield s


@pytest.fixture
def dbx(server: DatabricksTestServer) -> Iterator[DatabricksTestServer]:
    """A clean workspace; two items per page, so every listing is paginated."""
    server.reset()
    server.page_size = 2
    yield server
    assert server.unrouted == [], "the provider called endpoints the server does not know"


@pytest.fixture(scope="module")
def clients(server: DatabricksTestServer) -> tuple[WorkspaceClient, AccountClient]:
    w = WorkspaceClient(host=server.url, token=TOKEN, auth_type="pat")
    a = AccountClient(host=server.url, account_id=ACCOUNT, token=TOKEN, auth_type="pat")
    return w, a


@pytest.fixture
def warehouse_id(dbx: DatabricksTestServer, clients: tuple[WorkspaceClient, Any]) -> str:
    """A SQL warehouse that already exists, for the statements that create managed tables."""
    w, _ = clients
    return str(w.warehouses.create(name="ops", cluster_size="2X-Small", max_num_clusters=1).id)


@pytest.fixture
def provider(
    dbx: DatabricksTestServer, clients: tuple[WorkspaceClient, AccountClient], warehouse_id: str
) -> DatabricksProvider:
    w, a = clients
    return DatabricksProvider(w, a, warehouse_id=warehouse_id)


def create_with_needs(
    provider: DatabricksProvider, type_key: str, txn: str = TXN
) -> tuple[Operation, dict[str, ResourceState]]:
    """Create what `type_key` needs; return its operation and the resolved references."""
    resolved: dict[str, ResourceState] = {}
    for need in NEEDS.get(type_key, []):
        need_op, need_resolved = create_with_needs(provider, need, txn)
        resolved.update(need_resolved)
        resolved[need_op.key] = provider.create(need_op, txn, need_resolved)
    return OPS[type_key], resolved


def foreign(dbx: DatabricksTestServer, w: WorkspaceClient) -> None:
    """Someone else's catalog, of the name dpn wants."""
    w.catalogs.create(name=CATALOG, comment="made by hand")


def raw(
    server: DatabricksTestServer, method: str, path: str, body: Any = None, token: str = TOKEN
) -> tuple[int, dict[str, Any]]:
    """One HTTP request to the server, no SDK in between."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


# --------------------------------------------------------------------------- the 14 types


def test_the_provider_knows_exactly_the_catalogue_databricks_types() -> None:
    dbx_types = {k for k, t in CATALOGUE.items() if t.provider == "databricks"}
    assert set(KINDS) == dbx_types == set(OPS)
    assert len(dbx_types) == 14


@pytest.mark.parametrize("type_key", sorted(KINDS))
def test_tags_are_used_exactly_for_the_types_the_catalogue_says_have_them(type_key: str) -> None:
    assert KINDS[type_key].has_tags == CATALOGUE[type_key].supports_tags


@pytest.mark.parametrize("type_key", sorted(OPS))
def test_life_cycle_create_read_tag_delete(type_key: str, provider: DatabricksProvider) -> None:
    operation, resolved = create_with_needs(provider, type_key)

    created = provider.create(operation, TXN, resolved)
    assert created.type_key == type_key and created.name == operation.name
    assert created.managed_by_dpn and created.transaction_id == TXN

    found = provider.read(type_key, operation.name, operation.scope)
    assert found is not None
    assert found.resource_id == created.resource_id
    assert found.managed_by_dpn and found.transaction_id == TXN
    assert found.scope == operation.scope

    provider.tag(found, {"owner": "data-engineering"})
    tagged = provider.read(type_key, operation.name, operation.scope)
    assert tagged is not None and tagged.managed_by_dpn and tagged.transaction_id == TXN
    if CATALOGUE[type_key].supports_tags:
        assert tagged.tags["owner"] == "data-engineering"
        assert all(tagged.tags[k] == v for k, v in operation.tags.items())
    else:
        assert tagged.tags == OURS

    provider.delete(tagged)
    assert provider.read(type_key, operation.name, operation.scope) is None
    provider.delete(tagged)  # deleting what is already gone is success


def test_creating_twice_in_one_transaction_returns_the_same_resource(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    first = provider.create(OPS["dbx_secret_scope"], TXN, {})
    again = provider.create(OPS["dbx_secret_scope"], TXN, {})
    assert again.resource_id == first.resource_id
    assert len(dbx.scopes) == 1


def test_creates_in_parallel_threads_share_one_provider(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    ops = [op("dbx_cluster", f"etl-{i}", {"num_workers": 1}) for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        states = list(pool.map(lambda o: provider.create(o, TXN, {}), ops))
    assert sorted(dbx.clusters) == sorted(s.resource_id for s in states)
    for o, s in zip(ops, states, strict=True):
        found = provider.read("dbx_cluster", o.name, {})
        assert found is not None and found.resource_id == s.resource_id


# --------------------------------------------------------------------------- what each type sends


def test_workspace_is_created_through_the_account_api_with_custom_tags(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    state = provider.create(OPS["dbx_workspace"], TXN, {})
    ws = dbx.workspaces[int(state.resource_id)]
    assert ws["workspace_name"] == "dbx-dataplatform-analytics-dev-use1"
    assert ws["pricing_tier"] == "PREMIUM" and ws["credentials_id"] == "cred-1"
    assert ws["custom_tags"] == {"team": "data-platform", **OURS}
    assert ("POST", f"/api/2.0/accounts/{ACCOUNT}/workspaces", 200) in dbx.requests


def test_cluster_gets_its_pool_policy_tags_and_an_lts_runtime_and_is_not_waited_for(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    operation, resolved = create_with_needs(provider, "dbx_cluster")
    state = provider.create(operation, TXN, resolved)
    cluster = dbx.clusters[state.resource_id]
    pool = resolved["dbx_instance_pool:/dataplatform-pool-i3-etl-dev"]
    policy = resolved["dbx_policy:/dataplatform-etl-compute-dev"]
    assert cluster["instance_pool_id"] == pool.resource_id
    assert cluster["policy_id"] == policy.resource_id
    assert cluster["spark_version"] == "16.4.x-scala2.12"  # the latest LTS the workspace offers
    assert cluster["autoscale"] == {"min_workers": 1, "max_workers": 4}
    assert cluster["custom_tags"] == {"cost_center": "IT-1001", **OURS}
    assert cluster["state"] == "PENDING"
    assert not any(path == "/api/2.1/clusters/get" for _, path, _ in dbx.requests)


def test_job_runs_its_tasks_on_the_referenced_cluster_on_its_schedule(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    operation, resolved = create_with_needs(provider, "dbx_job")
    state = provider.create(operation, TXN, resolved)
    settings = dbx.jobs[int(state.resource_id)]["settings"]
    cluster = resolved["dbx_cluster:/dataplatform-etl-shared-dev"]
    assert settings["name"] == operation.name
    assert settings["tasks"] == [
        {
            "task_key": "task_1",
            "notebook_task": {"notebook_path": "/dataplatform/sales/load"},
            "existing_cluster_id": cluster.resource_id,
        }
    ]
    assert settings["schedule"] == {
        "quartz_cron_expression": "0 0 2 * * ?",
        "timezone_id": "Europe/Amsterdam",
    }
    assert settings["tags"] == OURS


def test_notebook_is_imported_under_its_folders_with_the_mark_below_the_source_header(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    provider.create(OPS["dbx_notebook_path"], TXN, {})
    notebook = dbx.objects["/dataplatform/sales/ingest/dev/orders"]
    assert dbx.objects["/dataplatform/sales/ingest/dev"]["object_type"] == "DIRECTORY"
    assert notebook["object_type"] == "NOTEBOOK" and notebook["language"] == "PYTHON"
    first, second = notebook["content"].splitlines()[:2]
    assert first == "# Databricks notebook source"
    assert second == f"# {mark_text(OURS)}"


def test_notebook_keeps_given_content_and_comments_the_mark_in_its_language(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    content = "-- Databricks notebook source\nSELECT 1"
    notebook = op("dbx_notebook_path", "/q/daily", {"language": "sql", "content": content})
    provider.create(notebook, TXN, {})
    assert dbx.objects["/q/daily"]["content"].splitlines() == [
        "-- Databricks notebook source",
        f"-- {mark_text(OURS)}",
        "",
        "SELECT 1",
    ]


def test_a_notebook_path_taken_by_a_folder_is_not_ours(
    provider: DatabricksProvider, clients: tuple[WorkspaceClient, Any]
) -> None:
    w, _ = clients
    w.workspace.mkdirs(path="/dataplatform/sales/ingest/dev/orders")
    found = provider.read("dbx_notebook_path", "/dataplatform/sales/ingest/dev/orders", {})
    assert found is not None and not found.managed_by_dpn
    with pytest.raises(ResourceConflict):
        provider.create(OPS["dbx_notebook_path"], TXN, {})


def test_repo_is_cloned_into_its_folder_with_a_sidecar_mark_and_its_branch(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    state = provider.create(OPS["dbx_repo"], TXN, {})
    repo = dbx.repos[int(state.resource_id)]
    assert repo["path"] == "/Repos/data/dataplatform-etl-dev"
    assert repo["provider"] == "gitHub" and repo["branch"] == "develop"
    sidecar = json.loads(
        dbx.objects["/Shared/.dpn/markers/dbx_repo/dataplatform-etl-dev.json"]["content"]
    )
    assert sidecar == {**OURS, "path": repo["path"], "repo_id": state.resource_id}

    provider.delete(state)
    assert not any(p.startswith("/Shared/.dpn/markers/dbx_repo/") for p in dbx.objects)


def test_a_repo_someone_else_cloned_is_not_ours(
    provider: DatabricksProvider, clients: tuple[WorkspaceClient, Any]
) -> None:
    w, _ = clients
    w.workspace.mkdirs(path="/Repos/someone")
    w.repos.create(
        url="https://github.com/x/y.git",
        provider="gitHub",
        path="/Repos/someone/dataplatform-etl-dev",
    )
    found = provider.read("dbx_repo", "dataplatform-etl-dev", {})
    assert found is not None and found.tags == {}
    with pytest.raises(ResourceConflict, match="not managed by dpn"):
        provider.create(OPS["dbx_repo"], TXN, {})


def test_a_repo_create_the_service_refuses_leaves_no_sidecar(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    bad = op("dbx_repo", "dataplatform-etl-dev", {"url": "http://github.com/x/y.git"})
    with pytest.raises(sdk_errors.InvalidParameterValue):
        provider.create(bad, TXN, {})
    assert not any(p.startswith("/Shared/.dpn/markers/dbx_repo/") for p in dbx.objects)


def test_pipeline_publishes_to_the_referenced_catalog_with_tags(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    operation, resolved = create_with_needs(provider, "dbx_pipeline")
    state = provider.create(operation, TXN, resolved)
    spec = dbx.pipelines[state.resource_id]["spec"]
    assert spec["catalog"] == CATALOG and spec["schema"] == "bronze"
    assert spec["libraries"] == [{"notebook": {"path": "/dataplatform/dlt/bronze"}}]
    assert spec["tags"] == OURS


def test_sql_warehouse_carries_the_marks_in_tags_custom_tags(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    state = provider.create(OPS["dbx_sql_warehouse"], TXN, {})
    wh = dbx.warehouses[state.resource_id]
    assert wh["cluster_size"] == "Small" and wh["max_num_clusters"] == 1
    assert wh["warehouse_type"] == "PRO"
    assert wh["tags"] == {"custom_tags": [{"key": k, "value": v} for k, v in OURS.items()]}


def test_catalog_and_schema_keep_the_marks_in_their_properties(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    operation, resolved = create_with_needs(provider, "dbx_schema")
    provider.create(operation, TXN, resolved)
    assert dbx.catalogs[CATALOG]["properties"] == OURS
    assert dbx.catalogs[CATALOG]["comment"] == "analytics"
    assert dbx.schemas[f"{CATALOG}.{SCHEMA}"]["properties"] == OURS


def test_managed_table_is_created_with_sql_on_the_warehouse(
    provider: DatabricksProvider, dbx: DatabricksTestServer, warehouse_id: str
) -> None:
    operation, resolved = create_with_needs(provider, "dbx_table")
    state = provider.create(operation, TXN, resolved)
    assert state.resource_id == f"{CATALOG}.{SCHEMA}.fact_orders"
    table = dbx.tables[state.resource_id]
    assert table["table_type"] == "MANAGED" and table["data_source_format"] == "DELTA"
    assert [c["name"] for c in table["columns"]] == ["order_id", "amount", "order_date"]
    assert table["columns"][1]["type_text"] == "decimal(18,2)"
    assert table["properties"] == OURS
    assert ("POST", "/api/2.0/sql/statements", 200) in dbx.requests


def test_the_create_table_statement_quotes_names_and_text() -> None:
    sql = create_table_sql(
        ("c", "s", "we`ird"),
        {"columns": [{"name": "a b", "type": "string", "comment": "it's"}], "comment": "x\\y"},
        OURS,
    )
    assert sql.startswith("CREATE TABLE `c`.`s`.`we``ird` (`a b` STRING COMMENT 'it\\'s')")
    parsed = parse_create_table(sql)
    assert parsed["full_name"] == ["c", "s", "we`ird"]
    assert parsed["columns"][0]["comment"] == "it's" and parsed["comment"] == "x\\y"
    assert parsed["properties"] == OURS


def test_a_column_type_that_is_not_a_type_is_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="invalid type"):
        create_table_sql(("c", "s", "t"), {"columns": [{"name": "a", "type": "int) --"}]}, OURS)


def test_external_table_is_created_with_the_tables_api(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    operation, resolved = create_with_needs(provider, "dbx_schema")
    provider.create(operation, TXN, resolved)
    external = op(
        "dbx_table",
        "dim_customer",
        {
            "columns": [{"name": "customer_id", "type": "bigint"}],
            "storage_location": "s3://lake/dim_customer",
        },
        scope=UC_SCOPE,
    )
    state = provider.create(external, TXN, {})
    table = dbx.tables[state.resource_id]
    assert (
        table["table_type"] == "EXTERNAL" and table["storage_location"] == "s3://lake/dim_customer"
    )
    assert table["columns"][0]["type_name"] == "LONG"
    assert json.loads(table["columns"][0]["type_json"])["type"] == "long"
    assert table["properties"] == OURS
    assert not any(path == "/api/2.0/sql/statements" for _, path, _ in dbx.requests)


def test_managed_table_without_a_warehouse_is_a_clear_error_before_any_call(
    dbx: DatabricksTestServer, clients: tuple[WorkspaceClient, AccountClient]
) -> None:
    provider = DatabricksProvider(*clients)
    operation, resolved = create_with_needs(provider, "dbx_schema")
    provider.create(operation, TXN, resolved)
    with pytest.raises(ValueError, match="warehouse_id"):
        provider.create(OPS["dbx_table"], TXN, {})
    assert dbx.tables == {}


def test_an_existing_table_reported_by_sql_is_a_conflict_when_not_ours(
    provider: DatabricksProvider, dbx: DatabricksTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    operation, resolved = create_with_needs(provider, "dbx_table")
    provider.create(operation, OTHER_TXN, resolved)
    real_read = provider.read
    calls = iter([None])  # the table appears between our read and our create
    monkeypatch.setattr(provider, "read", lambda *a: next(calls, None) or real_read(*a))
    with pytest.raises(ResourceConflict, match=OTHER_TXN):
        provider.create(operation, TXN, resolved)


def test_volume_and_policy_keep_the_mark_in_their_text(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    operation, resolved = create_with_needs(provider, "dbx_volume")
    provider.create(operation, TXN, resolved)
    policy = provider.create(OPS["dbx_policy"], TXN, {})
    volume = dbx.volumes[f"{CATALOG}.{SCHEMA}.raw_landing"]
    assert volume["volume_type"] == "MANAGED"
    assert volume["comment"] == f"landing files {mark_text(OURS)}"
    stored = dbx.policies[policy.resource_id]
    assert stored["description"] == mark_text(OURS)
    assert json.loads(stored["definition"])["spark_version"]["value"] == "15.4.x-scala2.12"


def test_secret_scope_holds_its_mark_as_a_secret(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    provider.create(OPS["dbx_secret_scope"], TXN, {})
    scope = dbx.scopes["dataplatform-etl-dev"]
    marker = base64.b64decode(scope["secrets"][SCOPE_MARKER_KEY]).decode()
    assert parse_mark_text(marker) == OURS


def test_secret_scope_names_are_matched_case_insensitively(
    provider: DatabricksProvider,
) -> None:
    provider.create(OPS["dbx_secret_scope"], TXN, {})
    found = provider.read("dbx_secret_scope", "DataPlatform-ETL-dev", {})
    assert found is not None and found.transaction_id == TXN


def test_marks_in_text_survive_the_text_around_them() -> None:
    assert parse_mark_text(f"Sales landing zone. {mark_text(OURS)}") == OURS
    assert parse_mark_text("no marks here") == {}
    assert parse_mark_text("[dpn managed-by=dpn color=red]") == {MANAGED_BY_KEY: "dpn"}


# --------------------------------------------------------------------------- settings (dpn update)


def changed(o: Operation, **properties: Any) -> Operation:
    """The operation with properties changed; a value of None leaves the property out."""
    props = {**o.properties, **properties}
    return replace(o, properties={k: v for k, v in props.items() if v is not None})


def stored(dbx: DatabricksTestServer, type_key: str, state: ResourceState) -> dict[str, Any]:
    """What the server holds for a resource: its definition, as the API keeps it."""
    rid = state.resource_id
    by_type: dict[str, Any] = {
        "dbx_cluster": lambda: dbx.clusters[rid],
        "dbx_job": lambda: dbx.jobs[int(rid)]["settings"],
        "dbx_pipeline": lambda: dbx.pipelines[rid]["spec"],
        "dbx_sql_warehouse": lambda: dbx.warehouses[rid],
        "dbx_instance_pool": lambda: dbx.pools[rid],
        "dbx_policy": lambda: dbx.policies[rid],
        "dbx_catalog": lambda: dbx.catalogs[rid],
        "dbx_schema": lambda: dbx.schemas[rid],
        "dbx_volume": lambda: dbx.volumes[rid],
    }
    return copy.deepcopy(by_type[type_key]())


def marks_in(type_key: str, definition: dict[str, Any]) -> dict[str, str]:
    """dpn's ownership marks where the type keeps them."""
    where: dict[str, Any] = {
        "dbx_cluster": lambda d: d["custom_tags"],
        "dbx_instance_pool": lambda d: d["custom_tags"],
        "dbx_job": lambda d: d["tags"],
        "dbx_pipeline": lambda d: d["tags"],
        "dbx_sql_warehouse": lambda d: {t["key"]: t["value"] for t in d["tags"]["custom_tags"]},
        "dbx_catalog": lambda d: d["properties"],
        "dbx_schema": lambda d: d["properties"],
        "dbx_policy": lambda d: parse_mark_text(d["description"]),
        "dbx_volume": lambda d: parse_mark_text(d["comment"]),
    }
    found = where[type_key](definition)
    return {k: found[k] for k in (MANAGED_BY_KEY, TXN_TAG_KEY) if k in found}


NEW_DEFINITION = {"spark_version": {"type": "fixed", "value": "16.4.x-scala2.12"}}

#: type -> (the blueprint properties changed, the settings that then differ, what the
#: server must hold afterwards)
SETTINGS: dict[str, tuple[dict[str, Any], list[str], Callable[[dict[str, Any]], bool]]] = {
    "dbx_cluster": (
        {
            "node_type": "i3.2xlarge",
            "autoscale": None,  # a fixed size instead
            "num_workers": 3,
            "autotermination_minutes": 60,
            "spark_conf": {"spark.sql.shuffle.partitions": "64"},
        },
        ["autoscale", "autotermination_minutes", "node_type", "num_workers", "spark_conf"],
        lambda d: (
            d["node_type_id"] == "i3.2xlarge"
            and d["num_workers"] == 3
            and "autoscale" not in d
            and d["autotermination_minutes"] == 60
            and d["spark_conf"] == {"spark.sql.shuffle.partitions": "64"}
            and d["spark_version"] == "16.4.x-scala2.12"  # chosen at create, kept
            and d["custom_tags"]["cost_center"] == "IT-1001"
        ),
    ),
    "dbx_job": (
        {
            "tasks": [
                {"notebook_task": {"notebook_path": "/dataplatform/sales/load"}},
                {"notebook_task": {"notebook_path": "/dataplatform/sales/check"}},
            ],
            "cron": "0 30 4 * * ?",
            "max_concurrent_runs": 2,
            "timeout_seconds": 3600,
            "description": "loads the day's sales",
        },
        ["cron", "description", "max_concurrent_runs", "tasks", "timeout_seconds"],
        lambda d: (
            d["schedule"]
            == {"quartz_cron_expression": "0 30 4 * * ?", "timezone_id": "Europe/Amsterdam"}
            and d["max_concurrent_runs"] == 2
            and d["timeout_seconds"] == 3600
            and d["description"] == "loads the day's sales"
            and [t["task_key"] for t in d["tasks"]] == ["task_1", "task_2"]
            and d["tasks"][1]["existing_cluster_id"] == d["tasks"][0]["existing_cluster_id"]
            and d["name"] == "dataplatform-batch-load-daily-dev"
        ),
    ),
    "dbx_sql_warehouse": (
        {"cluster_size": "Medium", "max_num_clusters": 3, "auto_stop_mins": None},
        ["auto_stop_mins", "cluster_size", "max_num_clusters"],
        lambda d: (
            d["cluster_size"] == "Medium"
            and d["max_num_clusters"] == 3
            and d["auto_stop_mins"] == 120  # the platform's default, back
            and d["warehouse_type"] == "PRO"
        ),
    ),
    "dbx_instance_pool": (
        {"max_capacity": 16, "idle_instance_autotermination_minutes": 20},
        ["idle_instance_autotermination_minutes", "max_capacity"],
        lambda d: (
            d["max_capacity"] == 16
            and d["idle_instance_autotermination_minutes"] == 20
            and d["node_type_id"] == "i3.xlarge"
            and d["custom_tags"]["team"] == "data-platform"
        ),
    ),
    "dbx_policy": (
        {
            "definition": NEW_DEFINITION,
            "max_clusters_per_user": None,  # no limit any more
            "description": "ETL compute",
        },
        ["definition", "description", "max_clusters_per_user"],
        lambda d: (
            json.loads(d["definition"]) == NEW_DEFINITION
            and "max_clusters_per_user" not in d
            and d["description"] == f"ETL compute {mark_text(OURS)}"
            and d["name"] == "dataplatform-etl-compute-dev"
        ),
    ),
    "dbx_pipeline": (
        {"development": False, "continuous": True, "configuration": {"source": "kafka"}},
        ["configuration", "continuous", "development"],
        lambda d: (
            d["continuous"] is True
            and d.get("development", False) is False
            and d["configuration"] == {"source": "kafka"}
            and d["catalog"] == CATALOG
            and d["schema"] == "bronze"
        ),
    ),
    "dbx_catalog": (
        {"comment": "curated analytics"},
        ["comment"],
        lambda d: d["comment"] == "curated analytics",
    ),
    "dbx_schema": (
        {"comment": None},  # the comment is removed
        ["comment"],
        lambda d: not d.get("comment"),
    ),
    "dbx_volume": (
        {"comment": "landing zone"},
        ["comment"],
        lambda d: (
            d["comment"] == f"landing zone {mark_text(OURS)}" and d["volume_type"] == "MANAGED"
        ),
    ),
}


def test_settings_types_are_the_covered_types_and_name_blueprint_properties() -> None:
    assert DatabricksProvider.settings_types == SETTINGS_TYPES
    assert set(SETTINGS_TYPES) == set(SETTINGS)
    assert isinstance(DatabricksProvider(), SettingsUpdater)
    for type_key, names in SETTINGS_TYPES.items():
        assert names <= set(KINDS[type_key].params), type_key
        assert set(SETTINGS[type_key][1]) <= names
    without = ("dbx_workspace", "dbx_notebook_path", "dbx_repo", "dbx_secret_scope", "dbx_table")
    for type_key in without:
        assert settings_of(DatabricksProvider(), type_key) == frozenset()


@pytest.mark.parametrize("type_key", sorted(SETTINGS))
def test_update_settings_changes_what_differs_in_place_and_keeps_the_marks(
    type_key: str, provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    operation, resolved = create_with_needs(provider, type_key)
    state = provider.create(operation, TXN, resolved)
    assert provider.update_settings(operation, state, resolved) == []  # create == update

    props, differ, holds = SETTINGS[type_key]
    wanted = changed(operation, **props)
    before = stored(dbx, type_key, state)
    assert provider.update_settings(wanted, state, resolved, dry_run=True) == differ
    assert stored(dbx, type_key, state) == before  # a dry run changes nothing

    assert provider.update_settings(wanted, state, resolved) == differ
    after = stored(dbx, type_key, state)
    assert holds(after), after
    assert marks_in(type_key, after) == OURS
    found = provider.read(type_key, operation.name, operation.scope)
    assert found is not None and found.resource_id == state.resource_id
    assert found.managed_by_dpn and found.transaction_id == TXN
    if type_key in TAG_TYPES:
        assert all(found.tags[k] == v for k, v in operation.tags.items())

    assert provider.update_settings(wanted, state, resolved) == []  # idempotent


def test_a_setting_changed_by_hand_is_changed_back(
    provider: DatabricksProvider, dbx: DatabricksTestServer, clients: tuple[WorkspaceClient, Any]
) -> None:
    w, _ = clients
    state = provider.create(OPS["dbx_sql_warehouse"], TXN, {})
    w.warehouses.edit(id=state.resource_id, cluster_size="X-Large", auto_stop_mins=0)
    assert provider.update_settings(OPS["dbx_sql_warehouse"], state, {}) == [
        "auto_stop_mins",
        "cluster_size",
    ]
    wh = dbx.warehouses[state.resource_id]
    assert wh["cluster_size"] == "Small" and wh["auto_stop_mins"] == 10


def test_a_cluster_runtime_the_blueprint_leaves_out_is_kept_not_upgraded(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    cluster = op("dbx_cluster", "etl", {"num_workers": 1})
    state = provider.create(cluster, TXN, {})
    dbx.clusters[state.resource_id]["spark_version"] = "15.4.x-scala2.12"  # an older LTS
    before = len(dbx.requests)
    assert provider.update_settings(cluster, state, {}) == []
    assert dbx.clusters[state.resource_id]["spark_version"] == "15.4.x-scala2.12"
    assert not any(p.endswith("/spark-versions") for _, p, _ in dbx.requests[before:])

    pinned = changed(cluster, spark_version="16.4.x-scala2.12")
    assert provider.update_settings(pinned, state, {}) == ["spark_version"]
    assert dbx.clusters[state.resource_id]["spark_version"] == "16.4.x-scala2.12"


def test_a_cluster_is_updated_with_a_field_mask_of_the_changed_fields_only(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    cluster = op("dbx_cluster", "etl", {"autoscale": {"min_workers": 1, "max_workers": 2}})
    state = provider.create(cluster, TXN, {})

    def sent() -> list[dict[str, Any]]:
        """The bodies of the cluster updates sent since the last call."""
        updates = [b for _, p, b in dbx.bodies if p == "/api/2.1/clusters/update"]
        dbx.bodies.clear()
        return updates

    sent()
    provider.update_settings(changed(cluster, autotermination_minutes=45), state, {})
    (update,) = sent()
    assert update["update_mask"] == "autotermination_minutes"
    assert update["cluster"] == {"autotermination_minutes": 45}

    # a fixed size instead of autoscaling: autoscale is named, and so cleared
    fixed = changed(cluster, autoscale=None, num_workers=2, autotermination_minutes=45)
    assert provider.update_settings(fixed, state, {}) == ["autoscale", "num_workers"]
    (update,) = sent()
    assert update["update_mask"] == "autoscale,num_workers"
    assert update["cluster"] == {"num_workers": 2}
    assert "autoscale" not in dbx.clusters[state.resource_id]

    back = changed(fixed, autoscale={"min_workers": 1, "max_workers": 8}, num_workers=None)
    assert provider.update_settings(back, state, {}) == ["autoscale", "num_workers"]
    assert "num_workers" not in dbx.clusters[state.resource_id]
    assert provider.update_settings(back, state, {}) == []


def test_an_empty_value_in_the_blueprint_clears_the_setting(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    cluster = op("dbx_cluster", "etl", {"num_workers": 1, "spark_conf": {"spark.a": "1"}})
    state = provider.create(cluster, TXN, {})
    emptied = changed(cluster, spark_conf={})
    assert provider.update_settings(emptied, state, {}) == ["spark_conf"]
    assert "spark_conf" not in dbx.clusters[state.resource_id]
    assert provider.update_settings(emptied, state, {}) == []
    # left out, rather than emptied, it is the cloud's (or a cluster policy's) to fill in
    dbx.clusters[state.resource_id]["spark_conf"] = {"spark.from.policy": "1"}
    assert provider.update_settings(changed(cluster, spark_conf=None), state, {}) == []


def test_a_number_in_a_map_of_text_is_sent_as_text_and_then_agrees(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    cluster = op("dbx_cluster", "etl", {"num_workers": 1, "spark_conf": {"spark.p": 64}})
    state = provider.create(cluster, TXN, {})
    assert dbx.clusters[state.resource_id]["spark_conf"] == {"spark.p": "64"}
    assert provider.update_settings(cluster, state, {}) == []


def test_a_job_task_removed_from_the_blueprint_is_removed(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    two = op(
        "dbx_job",
        "nightly",
        {
            "tasks": [{"notebook_task": {"notebook_path": p}} for p in ("/a", "/b")],
            "cron": "0 0 1 * * ?",
        },
    )
    state = provider.create(two, TXN, {})
    one = changed(two, tasks=[{"notebook_task": {"notebook_path": "/a"}}], cron=None)
    assert provider.update_settings(one, state, {}) == ["cron", "tasks", "timezone"]
    settings = dbx.jobs[int(state.resource_id)]["settings"]
    assert [t["task_key"] for t in settings["tasks"]] == ["task_1"]
    assert "schedule" not in settings and settings["tags"] == OURS


def test_update_plan_changes_databricks_settings_and_reports_what_it_cannot_change(
    provider: DatabricksProvider, dbx: DatabricksTestServer, tmp_path: Any
) -> None:
    from dpn_action.plan import PlannedResource
    from dpn_action.provision import apply_plan, update_plan

    def planned(o: Operation) -> PlannedResource:
        return PlannedResource(
            key=o.key,
            type=o.type_key,
            provider="databricks",
            name=o.name,
            full_name=o.name,
            environment="dev",
            file="blueprints/dev.json",
            pointer=f"/resources/{o.key}",
            depends_on=o.depends_on,
            properties=o.properties,
            refs=o.refs,
            scope=o.scope,
            tags=o.tags,
        )

    ops = [OPS["dbx_sql_warehouse"], OPS["dbx_catalog"], OPS["dbx_secret_scope"]]
    providers = {"databricks": provider}
    assert apply_plan([planned(o) for o in ops], wal_dir=tmp_path, providers=providers).ok
    items = [
        planned(changed(ops[0], cluster_size="Large")),
        planned(changed(ops[1], storage_root="s3://lake/uc/")),  # set at create only
        planned(changed(ops[2], initial_manage_principal="admins")),  # no settings at all
    ]

    dry = update_plan(items, wal_dir=tmp_path, providers=providers, dry_run=True)
    assert [o.settings for o in dry] == [["cluster_size"], [], []]
    warehouse = next(w for w in dbx.warehouses.values() if w["name"] == ops[0].name)
    assert warehouse["cluster_size"] == "Small"

    warehouse_out, catalog_out, scope_out = update_plan(
        items, wal_dir=tmp_path, providers=providers
    )
    assert (warehouse_out.action, warehouse_out.settings) == ("updated", ["cluster_size"])
    assert warehouse["cluster_size"] == "Large"
    assert (catalog_out.action, catalog_out.settings) == ("unchanged", [])
    assert catalog_out.not_updatable == ["storage_root"]
    assert scope_out.not_updatable == ["initial_manage_principal"]

    again = update_plan(items, wal_dir=tmp_path, providers=providers)
    assert [o.action for o in again] == ["unchanged", "unchanged", "unchanged"]


# --------------------------------------------------------------------------- the server is strict


def test_server_rejects_an_unknown_field(server: DatabricksTestServer) -> None:
    status, body = raw(
        server, "POST", "/api/2.1/clusters/create", {"spark_version": "15.4", "clustr_name": "x"}
    )
    assert status == 400
    assert body == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "unknown field 'clustr_name' for ClustersAPI.create",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"spark_version": "15.4", "num_workers": "2"},
        {"spark_version": "15.4", "num_workers": True},
        {"spark_version": 15.4},
        {"spark_version": "15.4", "custom_tags": {"team": 7}},
        {"spark_version": "15.4", "autoscale": {"min_workers": 1, "maximum": 2}},
        {"spark_version": "15.4", "data_security_mode": "EVERYONE"},
        {"spark_version": "15.4", "init_scripts": {"workspace": {}}},
        {"cluster_name": "no runtime"},
    ],
    ids=[
        "string-for-int",
        "bool-for-int",
        "number-for-string",
        "map-value-type",
        "nested-unknown-field",
        "enum-value",
        "object-for-array",
        "missing-required",
    ],
)
def test_server_rejects_a_body_the_sdk_contract_does_not_allow(
    server: DatabricksTestServer, body: dict[str, Any]
) -> None:
    status, answer = raw(server, "POST", "/api/2.1/clusters/create", body)
    assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE"


def test_server_rejects_a_wrong_type_sent_through_the_sdk(
    dbx: DatabricksTestServer, clients: tuple[WorkspaceClient, Any]
) -> None:
    w, _ = clients
    with pytest.raises(sdk_errors.InvalidParameterValue, match="num_workers"):
        w.clusters.create(spark_version="15.4.x-scala2.12", num_workers="two")  # type: ignore[arg-type]
    assert dbx.clusters == {}


def test_server_rejects_an_unknown_query_parameter(server: DatabricksTestServer) -> None:
    status, answer = raw(server, "GET", "/api/2.2/jobs/list?nme=x")
    assert status == 400 and "nme" in answer["message"]


def test_the_server_contract_is_read_from_the_sdk_method() -> None:
    from databricks.sdk.service import compute, provisioning

    contract = RequestContract.of(compute.ClustersAPI, "create")
    assert contract.required == {"spark_version"}
    assert {"cluster_name", "custom_tags", "autoscale", "instance_pool_id"} <= set(contract.body)
    assert (
        RequestContract.of(provisioning.WorkspacesAPI, "update").whole_body
        is provisioning.Workspace
    )


def test_server_requires_the_bearer_token_and_never_prints_it(
    server: DatabricksTestServer, capfd: pytest.CaptureFixture[str]
) -> None:
    assert raw(server, "GET", "/api/2.1/clusters/list", token="")[0] == 401
    status, body = raw(server, "GET", "/api/2.1/clusters/list", token="dapi-wrong")
    assert status == 401 and body["error_code"] == "UNAUTHENTICATED"
    assert raw(server, "GET", "/api/2.1/clusters/list")[0] == 200
    out, err = capfd.readouterr()
    assert TOKEN not in out + err and "dapi-wrong" not in out + err
    assert TOKEN not in repr(server.requests)


def test_server_answers_platform_errors_with_their_status(server: DatabricksTestServer) -> None:
    server.reset()
    assert raw(server, "GET", "/api/2.1/unity-catalog/catalogs/nope") == (
        404,
        {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Catalog 'nope' does not exist."},
    )
    assert raw(server, "POST", "/api/2.1/unity-catalog/catalogs", {"name": "c"})[0] == 200
    status, body = raw(server, "POST", "/api/2.1/unity-catalog/catalogs", {"name": "c"})
    assert status == 409 and body["error_code"] == "RESOURCE_ALREADY_EXISTS"


# --------------------------------------------------------------------------- conflicts


def test_a_name_taken_by_someone_else_is_a_conflict_and_nothing_is_changed(
    provider: DatabricksProvider, dbx: DatabricksTestServer, clients: tuple[WorkspaceClient, Any]
) -> None:
    foreign(dbx, clients[0])
    with pytest.raises(ResourceConflict, match="not managed by dpn") as info:
        provider.create(OPS["dbx_catalog"], TXN, {})
    assert info.value.existing is not None and not info.value.existing.managed_by_dpn
    assert dbx.catalogs[CATALOG]["comment"] == "made by hand"


def test_resource_already_exists_on_create_is_surfaced_as_a_conflict(
    provider: DatabricksProvider,
    dbx: DatabricksTestServer,
    clients: tuple[WorkspaceClient, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Someone creates the catalog between dpn's read and dpn's create.
    real_read = provider.read
    first = iter([None])

    def read_racing(*args: Any) -> ResourceState | None:
        if next(first, "done") is None:
            foreign(dbx, clients[0])
            return None
        return real_read(*args)

    monkeypatch.setattr(provider, "read", read_racing)
    with pytest.raises(ResourceConflict, match="not managed by dpn") as info:
        provider.create(OPS["dbx_catalog"], TXN, {})
    assert isinstance(info.value.__cause__, sdk_errors.ResourceAlreadyExists)
    assert ("POST", "/api/2.1/unity-catalog/catalogs", 409) in dbx.requests


def test_a_resource_of_another_dpn_transaction_is_not_taken_over_by_create(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    provider.create(OPS["dbx_sql_warehouse"], OTHER_TXN, {})
    with pytest.raises(ResourceConflict, match=f"transaction {OTHER_TXN}; adopt it"):
        provider.create(OPS["dbx_sql_warehouse"], TXN, {})
    assert len(dbx.warehouses) == 2  # the fixture's and the other transaction's


def test_read_prefers_the_resource_dpn_owns_when_a_name_repeats(
    provider: DatabricksProvider, dbx: DatabricksTestServer, clients: tuple[WorkspaceClient, Any]
) -> None:
    w, _ = clients
    ours = provider.create(op("dbx_cluster", "shared", {"num_workers": 1}), TXN, {})
    for _ in range(3):  # clusters may share a name; these are someone else's
        w.clusters.create(spark_version="15.4.x-scala2.12", cluster_name="shared")
    assert len(dbx.clusters) == 4
    found = provider.read("dbx_cluster", "shared", {})
    assert found is not None and found.resource_id == ours.resource_id


# --------------------------------------------------------------------------- faults


def test_throttling_with_retry_after_is_retried_by_the_sdk(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    dbx.throttle(2, "/api/2.1/clusters/create", retry_after=0)
    state = provider.create(op("dbx_cluster", "etl", {"num_workers": 1}), TXN, {})
    creates = [s for m, p, s in dbx.requests if p == "/api/2.1/clusters/create"]
    assert creates == [429, 429, 200]
    assert list(dbx.clusters) == [state.resource_id]


def test_a_burst_of_503_is_retried_by_the_sdk(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    before = len(dbx.requests)
    dbx.unavailable(2, "/api/2.0/sql/warehouses", method="POST")
    state = provider.create(OPS["dbx_sql_warehouse"], TXN, {})
    creates = [
        s for m, p, s in dbx.requests[before:] if m == "POST" and p == "/api/2.0/sql/warehouses"
    ]
    assert creates == [503, 503, 200]
    assert state.resource_id in dbx.warehouses


def test_a_permanent_failure_is_raised_and_a_create_is_not_resent(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    dbx.fail_always("/api/2.2/jobs/create")
    with pytest.raises(sdk_errors.InternalError):
        provider.create(op("dbx_job", "nightly", {}), TXN, {})
    assert [p for _, p, _ in dbx.requests].count("/api/2.2/jobs/create") == 1
    assert dbx.jobs == {}


def test_a_permanent_503_gives_up_within_the_retry_timeout(
    dbx: DatabricksTestServer,
) -> None:
    impatient = WorkspaceClient(
        config=Config(host=dbx.url, token=TOKEN, auth_type="pat", retry_timeout_seconds=1)
    )
    dbx.fail_always("/api/2.1/clusters/list", status=503)
    with pytest.raises(TimeoutError):
        DatabricksProvider(impatient).read("dbx_cluster", "etl", {})


def test_a_lost_create_answer_is_found_as_ours_and_not_duplicated(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    dbx.lose_response("/api/2.2/jobs/create")
    nightly = op("dbx_job", "nightly", {"max_concurrent_runs": 1})
    with pytest.raises(sdk_errors.InternalError):
        provider.create(nightly, TXN, {})
    assert len(dbx.jobs) == 1  # it was created; only the answer was lost

    found = provider.read("dbx_job", "nightly", {})
    assert found is not None and found.managed_by_dpn and found.transaction_id == TXN

    again = provider.create(nightly, TXN, {})  # the transaction retries: adopted
    assert again.resource_id == found.resource_id
    assert len(dbx.jobs) == 1


def test_a_create_resent_after_a_dropped_connection_leaves_one_cluster(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    dbx.lose_response("/api/2.1/clusters/create", drop=True)
    state = provider.create(op("dbx_cluster", "etl", {"num_workers": 1}), TXN, {})
    creates = [s for _, p, s in dbx.requests if p == "/api/2.1/clusters/create"]
    assert creates == [0, 200]  # dropped, then re-sent by the SDK
    assert list(dbx.clusters) == [state.resource_id]


def test_a_create_resent_after_a_dropped_connection_adopts_the_unique_name_it_took(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    dbx.lose_response("/api/2.1/unity-catalog/catalogs", drop=True)
    state = provider.create(OPS["dbx_catalog"], TXN, {})
    creates = [s for _, p, s in dbx.requests if p == "/api/2.1/unity-catalog/catalogs"]
    assert creates == [0, 409]
    assert state.transaction_id == TXN and list(dbx.catalogs) == [CATALOG]


def test_a_lost_repo_create_is_still_ours_through_its_sidecar(
    provider: DatabricksProvider, dbx: DatabricksTestServer
) -> None:
    dbx.lose_response("/api/2.0/repos")
    with pytest.raises(sdk_errors.InternalError):
        provider.create(OPS["dbx_repo"], TXN, {})
    found = provider.read("dbx_repo", "dataplatform-etl-dev", {})
    assert found is not None and found.transaction_id == TXN
    provider.delete(found)
    assert dbx.repos == {} and not any(
        p.startswith("/Shared/.dpn") and p.endswith(".json") for p in dbx.objects
    )


# --------------------------------------------------------------------------- configuration


def test_a_provider_without_clients_uses_the_standard_configuration(
    dbx: DatabricksTestServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", dbx.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    monkeypatch.setenv("DATABRICKS_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none.cfg"))
    monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "pat")
    provider = DatabricksProvider()
    assert provider.read("dbx_cluster", "etl", {}) is None
    assert provider.read("dbx_workspace", "ws", {}) is None
    assert provider.workspace_client.config.retry_timeout_seconds == 120
    assert provider.workspace_client.config.http_timeout_seconds == 60


def test_importing_the_provider_does_not_import_the_sdk() -> None:
    code = (
        "import sys, dpn_action.providers.databricks\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'databricks'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout
