"""The Databricks provider: the 14 `dbx_*` types through databricks-sdk.

Workspace-level types go through a `WorkspaceClient`, the workspace itself through an
`AccountClient` (`a.workspaces.create`). Both are built from the standard Databricks
configuration (`DATABRICKS_HOST`, `DATABRICKS_TOKEN`, a profile in `~/.databrickscfg`, ...)
the first time they are needed, so importing this module costs nothing and `databricks.sdk`
(about 3 s to import) is only loaded by a command that really talks to Databricks.

What differs between types is data, one `_Kind` per type in `KINDS`: which SDK service and
methods, which blueprint property becomes which SDK parameter, how a resource is found by
name, and where dpn's ownership marks (`managed-by: dpn`, `dpn-transaction: <txn id>`) live.
Six types have tags and carry the marks as tags. The others keep them where their API keeps
text of ours:

| type | where the ownership marks live |
|---|---|
| `dbx_workspace`, `dbx_cluster`, `dbx_instance_pool` | `custom_tags` |
| `dbx_job`, `dbx_pipeline` | `tags` |
| `dbx_sql_warehouse` | `tags.custom_tags` |
| `dbx_catalog`, `dbx_schema` | the securable's `properties` map |
| `dbx_table` | table properties (`properties` / `TBLPROPERTIES`) |
| `dbx_volume` | a `[dpn ...]` suffix of its `comment` |
| `dbx_policy` | a `[dpn ...]` suffix of its `description` |
| `dbx_notebook_path` | a comment line right under the notebook's source header |
| `dbx_secret_scope` | a secret `dpn-marker` inside the scope, written right after it |
| `dbx_repo` | a sidecar workspace file `<marker_root>/dbx_repo/<name>.json` |

For all but the last two the marks are part of the create call itself, so a create whose
answer was lost is still recognisable as ours. A secret scope gets its mark in a second call;
if the first call's answer is lost, the scope reads as not ours (a conflict a person resolves,
never a silent adoption). A repo has no field for text of ours at all: its sidecar is written
before the repo is created (and removed again when the create is refused), then completed
with the repo id.

Tables: the public create-table API (`w.tables.create`) makes only EXTERNAL Delta tables, so a
table with a `storage_location` is created through it, and any other (managed) table with a
`CREATE TABLE` statement through the SQL statement execution API on a SQL warehouse
(`warehouse_id=` or the standard `DATABRICKS_WAREHOUSE_ID` setting).

Retries are the SDK's own: it retries 429 and 503 honouring `Retry-After`, and connection
failures, within `retry_timeout_seconds`. It does not retry other 5xx answers to a create,
which is right: such a create may have happened, and the transaction resolves it by reading.
A create the SDK re-sent after a dropped connection can exist twice for types whose names
the cloud does not keep unique (clusters, jobs, ...); `create` removes such a duplicate of its
own transaction.
"""

from __future__ import annotations

import base64
import json
import logging
import posixpath
import re
import threading
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Operation,
    ResourceState,
)

log = logging.getLogger(__name__)

#: the keys of dpn's ownership marks
MARK_KEYS = (MANAGED_BY_KEY, TXN_TAG_KEY)
#: the secret that holds a secret scope's marks
SCOPE_MARKER_KEY = "dpn-marker"
#: where repo sidecars live unless the provider is told otherwise
DEFAULT_MARKER_ROOT = "/Shared/.dpn/markers"


class ResourceConflict(Exception):
    """The resource already exists and this transaction did not make it."""

    def __init__(self, type_key: str, name: str, existing: ResourceState | None) -> None:
        self.type_key = type_key
        self.name = name
        self.existing = existing
        if existing is None:
            why = "already exists and cannot be read back"
        elif not existing.managed_by_dpn:
            why = f"already exists (id {existing.resource_id}) and is not managed by dpn"
        else:
            why = (
                f"already exists (id {existing.resource_id}), made by dpn transaction "
                f"{existing.transaction_id}; adopt it in the plan instead of creating it"
            )
        super().__init__(f"{type_key} '{name}' {why}")


class StatementFailed(RuntimeError):
    """A SQL statement the provider sent did not succeed."""


class _AlreadyExists(Exception):
    """A create was refused because the name is taken (raised where the SDK has no error)."""


# --------------------------------------------------------------------------- marks


def mark_text(marks: Mapping[str, str]) -> str:
    """Ownership marks as text for a comment or description: `[dpn managed-by=dpn ...]`."""
    return "[dpn " + " ".join(f"{k}={marks[k]}" for k in MARK_KEYS if k in marks) + "]"


_MARK_TEXT = re.compile(r"\[dpn ([^\]]*)\]")


def parse_mark_text(text: str | None) -> dict[str, str]:
    m = _MARK_TEXT.search(text or "")
    if m is None:
        return {}
    pairs = (item.split("=", 1) for item in m.group(1).split() if "=" in item)
    return {k: v for k, v in pairs if k in MARK_KEYS}


def _with_mark(text: str | None, marks: Mapping[str, str]) -> str:
    base = _MARK_TEXT.sub("", text or "").rstrip()
    return f"{base} {mark_text(marks)}" if base else mark_text(marks)


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = None if obj is None else getattr(obj, part, None)
    return obj


_TAGS = object()  # where the tag value goes in a tag-update template


class _Marks:
    """Where a type keeps dpn's ownership marks; the base keeps them nowhere."""

    def put(self, kwargs: dict[str, Any], marks: dict[str, str], tags: dict[str, str]) -> None:
        """Add the marks (and, for types with tags, the blueprint's tags) to create kwargs."""

    def get(self, p: DatabricksProvider, obj: Any, name: str) -> dict[str, str]:
        """The tags/marks of a found resource."""
        return {}

    def shape(self, tags: dict[str, str]) -> Any:
        """Tags as the SDK parameter wants them."""
        return tags

    def confirm(self, p: DatabricksProvider, state: ResourceState, marks: dict[str, str]) -> None:
        """Called once a create (or the adoption of this transaction's own lost create) is
        known to have produced `state`."""

    def forget(self, p: DatabricksProvider, state: ResourceState) -> None:
        """Called after the resource was deleted."""


@dataclass(frozen=True)
class _TagMap(_Marks):
    """A string map of tags (`custom_tags`, `tags`)."""

    param: str
    attr: str

    def put(self, kwargs: dict[str, Any], marks: dict[str, str], tags: dict[str, str]) -> None:
        kwargs[self.param] = self.shape({**tags, **marks})

    def get(self, p: DatabricksProvider, obj: Any, name: str) -> dict[str, str]:
        return dict(_attr(obj, self.attr) or {})


@dataclass(frozen=True)
class _TagPairs(_TagMap):
    """SQL warehouses: `{"custom_tags": [{"key": ..., "value": ...}]}`."""

    def get(self, p: DatabricksProvider, obj: Any, name: str) -> dict[str, str]:
        return {t.key: t.value for t in _attr(obj, self.attr) or [] if t.key is not None}

    def shape(self, tags: dict[str, str]) -> Any:
        return {"custom_tags": [{"key": k, "value": v} for k, v in tags.items()]}


@dataclass(frozen=True)
class _PropertyMarks(_Marks):
    """Unity Catalog `properties` (catalogs, schemas, tables)."""

    param: str = "properties"

    def put(self, kwargs: dict[str, Any], marks: dict[str, str], tags: dict[str, str]) -> None:
        kwargs[self.param] = {**(kwargs.get(self.param) or {}), **marks}

    def get(self, p: DatabricksProvider, obj: Any, name: str) -> dict[str, str]:
        props = getattr(obj, self.param, None) or {}
        return {k: props[k] for k in MARK_KEYS if k in props}


@dataclass(frozen=True)
class _TextMarks(_Marks):
    """A `[dpn ...]` suffix of a free-text field (`comment`, `description`)."""

    param: str

    def put(self, kwargs: dict[str, Any], marks: dict[str, str], tags: dict[str, str]) -> None:
        kwargs[self.param] = _with_mark(kwargs.get(self.param), marks)

    def get(self, p: DatabricksProvider, obj: Any, name: str) -> dict[str, str]:
        return parse_mark_text(getattr(obj, self.param, None))


class _NotebookMarks(_Marks):
    """A comment line under the notebook's `Databricks notebook source` header."""

    def get(self, p: DatabricksProvider, obj: Any, name: str) -> dict[str, str]:
        if _enum_value(obj.object_type) != "NOTEBOOK":
            return {}
        wsm = p._sdk_service("workspace")
        exported = p.workspace_client.workspace.export(path=name, format=wsm.ExportFormat.SOURCE)
        head = _b64decode(exported.content or "").splitlines()[:5]
        return parse_mark_text("\n".join(head))


class _ScopeMarks(_Marks):
    """A secret inside the scope."""

    def get(self, p: DatabricksProvider, obj: Any, name: str) -> dict[str, str]:
        try:
            secret = p.workspace_client.secrets.get_secret(scope=obj.name, key=SCOPE_MARKER_KEY)
        except Exception as exc:
            if _gone(exc):
                return {}
            raise
        return parse_mark_text(_b64decode(secret.value or ""))


class _SidecarMarks(_Marks):
    """A sidecar workspace file: the repos API keeps no text of ours on a repo."""

    def get(self, p: DatabricksProvider, obj: Any, name: str) -> dict[str, str]:
        data = p._read_sidecar(name)
        if data.get("repo_id") not in (None, str(obj.id)) or data.get("path") != obj.path:
            return {}  # a sidecar left by another repo of that name
        return {k: str(data[k]) for k in MARK_KEYS if k in data}

    def confirm(self, p: DatabricksProvider, state: ResourceState, marks: dict[str, str]) -> None:
        data = p._read_sidecar(state.name)
        p._write_sidecar(state.name, {**data, **marks, "repo_id": state.resource_id})

    def forget(self, p: DatabricksProvider, state: ResourceState) -> None:
        p._delete_quietly(p._sidecar_path(state.name))


# --------------------------------------------------------------------------- per-type data

#: a hook that shapes create kwargs: (provider, kwargs, operation, resolved)
Prepare = Callable[
    ["DatabricksProvider", dict[str, Any], Operation, dict[str, ResourceState]], None
]


@dataclass(frozen=True)
class _Kind:
    """How dpn drives one Databricks resource type through the SDK."""

    type_key: str
    #: the service attribute of the client (`clusters`, `jobs`, ...)
    service: str
    #: where the type keeps ownership marks
    marks: _Marks
    #: the attribute of a found resource that is its id (what delete and tag take)
    id_attr: str
    #: (method, id parameter) that deletes
    delete: tuple[str, str]
    #: the create method, its name parameter and the answer's id attribute
    create: str = "create"
    name_param: str = "name"
    created_id: str = ""
    #: blueprint property -> SDK parameter of the create method
    params: Mapping[str, str] = field(default_factory=dict)
    #: SDK parameters a create gets unless the blueprint says otherwise
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: reference field -> (SDK parameter, "id" | "name" of the resource it points at)
    refs: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: scope key -> SDK parameter (Unity Catalog parents)
    scope_params: Mapping[str, str] = field(default_factory=dict)
    prepare: Prepare | None = None
    #: find by listing: method, its arguments for a name, and the name attribute
    lister: str | None = None
    list_args: Callable[[str], dict[str, Any]] | None = None
    name_attr: str = "name"
    #: a listed object lacks the marks: fetch it with (method, id parameter)
    detail: tuple[str, str] | None = None
    #: a listed name is the wanted one (default: equal, case-insensitively where the
    #: catalogue says names are)
    match: Callable[[str, str], bool] | None = None
    #: find by name directly: (method, parameter), called with the full name
    getter: tuple[str, str] | None = None
    #: scope keys that prefix the full name (`catalog.schema.table`)
    parents: tuple[str, ...] = ()
    #: read one resource by id: (method, id parameter); what tagging starts from
    get_by_id: tuple[str, str] | None = None
    #: tag by a partial update: (method, id parameter, kwargs with `_TAGS` where tags go)
    tag_update: tuple[str, str, dict[str, Any]] | None = None
    #: tag by re-sending the whole definition: (edit method, id parameter, attribute of
    #: the `get_by_id` answer holding the definition, "" for the answer itself)
    tag_resend: tuple[str, str, str] | None = None
    #: a provider method that creates instead of the generic call
    procedure: str | None = None
    account: bool = False
    #: (method, id parameter) that archives instead of deleting: the resource stays,
    #: stopped and restorable (`dpn delete --archive`)
    archive: tuple[str, str] | None = None

    @property
    def has_tags(self) -> bool:
        return self.tag_update is not None or self.tag_resend is not None

    def named(self, wanted: str, found: Any) -> bool:
        if not isinstance(found, str):
            return False
        if self.match is not None:
            return self.match(wanted, found)
        if CATALOGUE[self.type_key].case_insensitive:
            return wanted.lower() == found.lower()
        return wanted == found

    def full_name(self, name: str, scope: Mapping[str, str]) -> str:
        return ".".join([*(scope[k] for k in self.parents), name])


def _prepare_cluster(
    p: DatabricksProvider, kw: dict[str, Any], op: Operation, resolved: dict[str, ResourceState]
) -> None:
    if "spark_version" not in kw:
        kw["spark_version"] = p.workspace_client.clusters.select_spark_version(
            long_term_support=True, latest=True
        )


_COMPUTE_KEYS = ("existing_cluster_id", "new_cluster", "job_cluster_key", "environment_key")


def _prepare_job(
    p: DatabricksProvider, kw: dict[str, Any], op: Operation, resolved: dict[str, ResourceState]
) -> None:
    cluster_key = op.refs.get("cluster_ref")
    cluster_id = resolved[cluster_key].resource_id if cluster_key else None
    tasks = []
    for i, task in enumerate(kw.get("tasks") or []):
        task = {"task_key": f"task_{i + 1}", **task}
        if cluster_id is not None and not any(k in task for k in _COMPUTE_KEYS):
            task["existing_cluster_id"] = cluster_id
        tasks.append(task)
    if tasks:
        kw["tasks"] = tasks
    cron = kw.pop("cron", None)
    timezone = kw.pop("timezone", None) or "UTC"
    if cron:
        kw["schedule"] = {"quartz_cron_expression": cron, "timezone_id": timezone}


def _prepare_policy(
    p: DatabricksProvider, kw: dict[str, Any], op: Operation, resolved: dict[str, ResourceState]
) -> None:
    if isinstance(kw.get("definition"), dict):
        kw["definition"] = json.dumps(kw["definition"], sort_keys=True)


_UC_SCOPE = {"catalog": "catalog_name", "schema": "schema_name"}


def _uc(type_key: str, service: str, getter: str, param: str, **kw: Any) -> tuple[str, _Kind]:
    """A Unity Catalog securable: found, and deleted, by its full name."""
    return type_key, _Kind(
        type_key=type_key,
        service=service,
        id_attr="full_name",
        created_id="full_name",
        getter=(getter, param),
        delete=("delete", param),
        **kw,
    )


def _same(*names: str) -> dict[str, str]:
    """Blueprint properties that are SDK parameters of the same name."""
    return {n: n for n in names}


def _repo_named(wanted: str, path: str) -> bool:
    """A repo named without a path is `/Repos/<any folder>/<name>`."""
    if wanted.startswith("/"):
        return path == wanted
    parts = path.split("/")
    return len(parts) == 4 and parts[1] == "Repos" and parts[3] == wanted


KINDS: dict[str, _Kind] = dict(
    [
        (
            "dbx_workspace",
            _Kind(
                type_key="dbx_workspace",
                service="workspaces",
                account=True,
                name_param="workspace_name",
                created_id="workspace_id",
                params={
                    "aws_region": "aws_region",
                    "credentials_id": "credentials_id",
                    "storage_configuration_id": "storage_configuration_id",
                    "network_id": "network_id",
                    "pricing_tier": "pricing_tier",
                },
                marks=_TagMap("custom_tags", "custom_tags"),
                lister="list",
                name_attr="workspace_name",
                id_attr="workspace_id",
                get_by_id=("get", "workspace_id"),
                delete=("delete", "workspace_id"),
                tag_update=(
                    "update",
                    "workspace_id",
                    {
                        "customer_facing_workspace": {"custom_tags": _TAGS},
                        "update_mask": "custom_tags",
                    },
                ),
            ),
        ),
        (
            "dbx_cluster",
            _Kind(
                type_key="dbx_cluster",
                service="clusters",
                name_param="cluster_name",
                created_id="cluster_id",
                params={
                    "node_type": "node_type_id",
                    "spark_version": "spark_version",
                    "autoscale": "autoscale",
                    "num_workers": "num_workers",
                    "autotermination_minutes": "autotermination_minutes",
                    "driver_node_type": "driver_node_type_id",
                    "spark_conf": "spark_conf",
                    "data_security_mode": "data_security_mode",
                    "runtime_engine": "runtime_engine",
                },
                refs={
                    "instance_pool_ref": ("instance_pool_id", "id"),
                    "policy_ref": ("policy_id", "id"),
                },
                prepare=_prepare_cluster,
                marks=_TagMap("custom_tags", "custom_tags"),
                lister="list",
                name_attr="cluster_name",
                id_attr="cluster_id",
                get_by_id=("get", "cluster_id"),
                delete=("permanent_delete", "cluster_id"),
                # terminate: the cluster and its configuration stay, and it can be started
                archive=("delete", "cluster_id"),
                tag_update=(
                    "update",
                    "cluster_id",
                    {"update_mask": "custom_tags", "cluster": {"custom_tags": _TAGS}},
                ),
            ),
        ),
        (
            "dbx_job",
            _Kind(
                type_key="dbx_job",
                service="jobs",
                created_id="job_id",
                params={
                    "tasks": "tasks",
                    "cron": "cron",
                    "timezone": "timezone",
                    "max_concurrent_runs": "max_concurrent_runs",
                    "email_notifications": "email_notifications",
                    "timeout_seconds": "timeout_seconds",
                    "description": "description",
                },
                prepare=_prepare_job,
                marks=_TagMap("tags", "settings.tags"),
                lister="list",
                list_args=lambda name: {"name": name},
                name_attr="settings.name",
                id_attr="job_id",
                get_by_id=("get", "job_id"),
                delete=("delete", "job_id"),
                tag_update=("update", "job_id", {"new_settings": {"tags": _TAGS}}),
            ),
        ),
        (
            "dbx_notebook_path",
            _Kind(
                type_key="dbx_notebook_path",
                service="workspace",
                marks=_NotebookMarks(),
                getter=("get_status", "path"),
                id_attr="path",
                delete=("delete", "path"),
                procedure="_create_notebook",
            ),
        ),
        (
            "dbx_repo",
            _Kind(
                type_key="dbx_repo",
                service="repos",
                marks=_SidecarMarks(),
                lister="list",
                list_args=lambda name: {"path_prefix": name if name.startswith("/") else "/Repos/"},
                name_attr="path",
                match=_repo_named,
                id_attr="id",
                delete=("delete", "repo_id"),
                procedure="_create_repo",
            ),
        ),
        (
            "dbx_pipeline",
            _Kind(
                type_key="dbx_pipeline",
                service="pipelines",
                created_id="pipeline_id",
                params={
                    "libraries": "libraries",
                    "continuous": "continuous",
                    "development": "development",
                    "serverless": "serverless",
                    "channel": "channel",
                    "edition": "edition",
                    "configuration": "configuration",
                    "target_schema": "schema",
                },
                refs={"catalog_ref": ("catalog", "name")},
                marks=_TagMap("tags", "spec.tags"),
                lister="list_pipelines",
                list_args=lambda name: {"filter": "name LIKE '{}'".format(name.replace("'", "''"))},
                detail=("get", "pipeline_id"),
                id_attr="pipeline_id",
                get_by_id=("get", "pipeline_id"),
                delete=("delete", "pipeline_id"),
                tag_resend=("update", "pipeline_id", "spec"),
            ),
        ),
        (
            "dbx_sql_warehouse",
            _Kind(
                type_key="dbx_sql_warehouse",
                service="warehouses",
                created_id="id",
                params={
                    "cluster_size": "cluster_size",
                    "min_num_clusters": "min_num_clusters",
                    "max_num_clusters": "max_num_clusters",
                    "auto_stop_mins": "auto_stop_mins",
                    "warehouse_type": "warehouse_type",
                    "enable_serverless_compute": "enable_serverless_compute",
                },
                defaults={"cluster_size": "2X-Small", "max_num_clusters": 1},
                marks=_TagPairs("tags", "tags.custom_tags"),
                lister="list",
                id_attr="id",
                get_by_id=("get", "id"),
                delete=("delete", "id"),
                tag_resend=("edit", "id", ""),
            ),
        ),
        _uc(
            "dbx_catalog",
            "catalogs",
            "get",
            "name",
            params={"comment": "comment", "storage_root": "storage_root"},
            marks=_PropertyMarks(),
        ),
        _uc(
            "dbx_schema",
            "schemas",
            "get",
            "full_name",
            params={"comment": "comment", "storage_root": "storage_root"},
            scope_params={"catalog": "catalog_name"},
            parents=("catalog",),
            marks=_PropertyMarks(),
        ),
        _uc(
            "dbx_table",
            "tables",
            "get",
            "full_name",
            parents=("catalog", "schema"),
            marks=_PropertyMarks(),
            procedure="_create_table",
        ),
        _uc(
            "dbx_volume",
            "volumes",
            "read",
            "name",
            parents=("catalog", "schema"),
            params={
                "volume_type": "volume_type",
                "storage_location": "storage_location",
                "comment": "comment",
            },
            defaults={"volume_type": "MANAGED"},
            scope_params=_UC_SCOPE,
            marks=_TextMarks("comment"),
        ),
        (
            "dbx_secret_scope",
            _Kind(
                type_key="dbx_secret_scope",
                service="secrets",
                marks=_ScopeMarks(),
                lister="list_scopes",
                id_attr="name",
                delete=("delete_scope", "scope"),
                procedure="_create_secret_scope",
            ),
        ),
        (
            "dbx_instance_pool",
            _Kind(
                type_key="dbx_instance_pool",
                service="instance_pools",
                name_param="instance_pool_name",
                created_id="instance_pool_id",
                params=_same(
                    "node_type_id",
                    "min_idle_instances",
                    "max_capacity",
                    "idle_instance_autotermination_minutes",
                ),
                marks=_TagMap("custom_tags", "custom_tags"),
                lister="list",
                name_attr="instance_pool_name",
                id_attr="instance_pool_id",
                get_by_id=("get", "instance_pool_id"),
                delete=("delete", "instance_pool_id"),
                tag_resend=("edit", "instance_pool_id", ""),
            ),
        ),
        (
            "dbx_policy",
            _Kind(
                type_key="dbx_policy",
                service="cluster_policies",
                created_id="policy_id",
                params={
                    "definition": "definition",
                    "max_clusters_per_user": "max_clusters_per_user",
                    "description": "description",
                },
                prepare=_prepare_policy,
                marks=_TextMarks("description"),
                lister="list",
                id_attr="policy_id",
                delete=("delete", "policy_id"),
            ),
        ),
    ]
)


# --------------------------------------------------------------------------- SDK plumbing


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _b64decode(text: str) -> str:
    return base64.b64decode(text).decode("utf-8", errors="replace")


def _b64encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _coerce(hint: Any, value: Any) -> Any:
    """A JSON-like value as the SDK parameter type `hint` wants it (dataclasses, enums)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin is typing.Union or (origin is not None and type(None) in typing.get_args(hint)):
        return _coerce(args[0], value) if len(args) == 1 else value
    if origin is list and isinstance(value, list):
        return [_coerce(args[0], v) for v in value] if args else value
    if origin is dict and isinstance(value, dict):
        return {k: _coerce(args[1], v) for k, v in value.items()} if len(args) == 2 else value
    if isinstance(hint, type):
        if issubclass(hint, Enum) and not isinstance(value, Enum):
            return hint(value)
        if hasattr(hint, "from_dict") and isinstance(value, dict):
            return hint.from_dict(value)
        if hint is int and isinstance(value, str):
            return int(value)
    return value


def _gone(exc: BaseException) -> bool:
    """The SDK error says the resource does not exist."""
    from databricks.sdk import errors

    if isinstance(exc, errors.NotFound):
        # an unknown endpoint is not a missing resource
        return getattr(exc, "error_code", None) != "ENDPOINT_NOT_FOUND"
    # the clusters and jobs APIs answer 400 INVALID_PARAMETER_VALUE "... does not exist"
    return isinstance(exc, errors.BadRequest) and "does not exist" in str(exc)


def _taken(exc: BaseException) -> bool:
    """The SDK error says the name is already taken."""
    from databricks.sdk import errors

    if isinstance(exc, _AlreadyExists):
        return True
    return isinstance(exc, errors.ResourceConflict) and not isinstance(exc, errors.Aborted)


def _refused(exc: BaseException) -> bool:
    """The SDK error says the request was refused, so nothing was created."""
    from databricks.sdk import errors

    return isinstance(exc, errors.BadRequest | errors.PermissionDenied | errors.Unauthenticated)


# --------------------------------------------------------------------------- tables


_SQL_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\s*[<(][A-Za-z0-9_ ,:<>()]*[>)])?")
#: SQL type -> (ColumnTypeName, Spark JSON type) for the create-table API
_COLUMN_TYPES = {
    "bigint": ("LONG", "long"),
    "long": ("LONG", "long"),
    "int": ("INT", "integer"),
    "integer": ("INT", "integer"),
    "smallint": ("SHORT", "short"),
    "short": ("SHORT", "short"),
    "tinyint": ("BYTE", "byte"),
    "byte": ("BYTE", "byte"),
    "string": ("STRING", "string"),
    "boolean": ("BOOLEAN", "boolean"),
    "double": ("DOUBLE", "double"),
    "float": ("FLOAT", "float"),
    "date": ("DATE", "date"),
    "timestamp": ("TIMESTAMP", "timestamp"),
    "timestamp_ntz": ("TIMESTAMP_NTZ", "timestamp_ntz"),
    "binary": ("BINARY", "binary"),
    "decimal": ("DECIMAL", "decimal"),
}


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _column_type(column: Mapping[str, Any]) -> str:
    sql_type = str(column.get("type", "")).strip()
    if not _SQL_TYPE.fullmatch(sql_type):
        raise ValueError(f"column '{column.get('name')}' has an invalid type '{sql_type}'")
    return sql_type


def create_table_sql(
    full_name: tuple[str, str, str], props: Mapping[str, Any], marks: Mapping[str, str]
) -> str:
    """The `CREATE TABLE` statement for a managed Unity Catalog table."""
    columns = props.get("columns") or []
    if not columns:
        raise ValueError(f"table {'.'.join(full_name)} needs `columns` to be created")
    cols = []
    for c in columns:
        col = f"{_ident(str(c['name']))} {_column_type(c).upper()}"
        if c.get("nullable") is False:
            col += " NOT NULL"
        if c.get("comment"):
            col += f" COMMENT {_literal(str(c['comment']))}"
        cols.append(col)
    fmt = str(props.get("data_source_format") or "DELTA")
    if not re.fullmatch(r"[A-Za-z]+", fmt):
        raise ValueError(f"invalid data_source_format '{fmt}'")
    sql = f"CREATE TABLE {'.'.join(_ident(p) for p in full_name)} ({', '.join(cols)}) USING {fmt}"
    if props.get("partition_columns"):
        sql += f" PARTITIONED BY ({', '.join(_ident(str(c)) for c in props['partition_columns'])})"
    if props.get("comment"):
        sql += f" COMMENT {_literal(str(props['comment']))}"
    pairs = ", ".join(f"{_literal(k)} = {_literal(v)}" for k, v in marks.items())
    return f"{sql} TBLPROPERTIES ({pairs})"


def _column_infos(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    partitions = [str(c) for c in props.get("partition_columns") or []]
    out = []
    for i, c in enumerate(props.get("columns") or []):
        sql_type = _column_type(c).lower()
        base = re.split(r"[<(\s]", sql_type, maxsplit=1)[0]
        if base not in _COLUMN_TYPES:
            raise ValueError(
                f"column '{c['name']}' of type '{sql_type}': the create-table API takes simple "
                "types only; leave out storage_location to create the table with SQL"
            )
        type_name, spark = _COLUMN_TYPES[base]
        spark_type = sql_type if base == "decimal" else spark
        nullable = c.get("nullable") is not False
        info: dict[str, Any] = {
            "name": c["name"],
            "position": i,
            "type_name": type_name,
            "type_text": sql_type,
            "type_json": json.dumps(
                {"name": c["name"], "type": spark_type, "nullable": nullable, "metadata": {}}
            ),
            "nullable": nullable,
        }
        if c.get("comment"):
            info["comment"] = str(c["comment"])
        if str(c["name"]) in partitions:
            info["partition_index"] = partitions.index(str(c["name"]))
        out.append(info)
    return out


# --------------------------------------------------------------------------- the provider

_GIT_PROVIDERS = {
    "github.com": "gitHub",
    "gitlab.com": "gitLab",
    "bitbucket.org": "bitbucketCloud",
    "dev.azure.com": "azureDevOpsServices",
}
_NOTEBOOK_COMMENT = {"PYTHON": "#", "R": "#", "SQL": "--", "SCALA": "//"}


#: the types that carry tags (the others keep only dpn's ownership marks)
TAG_TYPES = frozenset(k for k, kind in KINDS.items() if kind.has_tags)
#: the types `dpn delete --archive` can archive
ARCHIVE_TYPES = frozenset(k for k, kind in KINDS.items() if kind.archive is not None)
#: a secret scope gets its marks in a second call; see `providers.base.marked_after_create`
LATE_MARKED_TYPES = frozenset({"dbx_secret_scope"})


class DatabricksProvider:
    """Create, read, delete and tag the 14 Databricks resource types."""

    name = "databricks"
    tag_types = TAG_TYPES
    archive_types = ARCHIVE_TYPES
    late_marked_types = LATE_MARKED_TYPES

    def __init__(
        self,
        workspace_client: Any = None,
        account_client: Any = None,
        *,
        warehouse_id: str | None = None,
        repos_folder: str = "dpn",
        marker_root: str = DEFAULT_MARKER_ROOT,
        retry_timeout_seconds: int = 120,
        http_timeout_seconds: int = 60,
    ) -> None:
        """Clients not given are built from the standard Databricks configuration when first
        needed. `warehouse_id` runs the SQL that creates managed tables (default: the
        configuration's `warehouse_id`); a repo named without a path goes to
        `/Repos/<repos_folder>/` unless its `folder` property says otherwise."""
        self._w = workspace_client
        self._a = account_client
        self.warehouse_id = warehouse_id
        self.repos_folder = repos_folder
        self.marker_root = marker_root.rstrip("/")
        self.retry_timeout_seconds = retry_timeout_seconds
        self.http_timeout_seconds = http_timeout_seconds
        self._lock = threading.Lock()
        self._hints: dict[tuple[type, str], dict[str, Any]] = {}

    # --- clients -------------------------------------------------------------------------

    @property
    def workspace_client(self) -> Any:
        with self._lock:
            if self._w is None:
                from databricks.sdk import WorkspaceClient

                self._w = WorkspaceClient(config=self._config())
            return self._w

    @property
    def account_client(self) -> Any:
        with self._lock:
            if self._a is None:
                from databricks.sdk import AccountClient

                self._a = AccountClient(config=self._config())
            return self._a

    def _config(self) -> Any:
        from databricks.sdk.config import Config

        return Config(
            retry_timeout_seconds=self.retry_timeout_seconds,
            http_timeout_seconds=self.http_timeout_seconds,
        )

    @staticmethod
    def _sdk_service(module: str) -> Any:
        import importlib

        return importlib.import_module(f"databricks.sdk.service.{module}")

    def _call(self, kind: _Kind, method: str, kwargs: Mapping[str, Any]) -> Any:
        """Call `method` of the kind's SDK service, turning JSON-like values into the SDK's
        dataclasses and enums by the method's own type hints."""
        client = self.account_client if kind.account else self.workspace_client
        service = getattr(client, kind.service)
        fn = getattr(service, method)
        key = (type(service), method)
        if key not in self._hints:
            self._hints[key] = typing.get_type_hints(fn)
        hints = self._hints[key]
        return fn(**{k: _coerce(hints.get(k, Any), v) for k, v in kwargs.items()})

    # --- the protocol ----------------------------------------------------------------------

    def create(
        self, op: Operation, txn_id: str, resolved: dict[str, ResourceState]
    ) -> ResourceState:
        kind = _kind(op.type_key)
        existing = self.read(op.type_key, op.name, op.scope)
        if existing is not None:
            return self._ours_or_conflict(kind, op, existing, txn_id)
        marks = {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn_id}
        try:
            if kind.procedure is not None:
                state: ResourceState = getattr(self, kind.procedure)(kind, op, marks, resolved)
            else:
                state = self._create(kind, op, marks, resolved)
        except Exception as exc:
            if not _taken(exc):
                raise
            # Taken between our read and our create: by this very create, re-sent by the SDK
            # after a lost answer, or by someone else.
            found = self.read(op.type_key, op.name, op.scope)
            if found is not None and found.managed_by_dpn and found.transaction_id == txn_id:
                return self._ours_or_conflict(kind, op, found, txn_id)
            raise ResourceConflict(op.type_key, op.name, found) from exc
        kind.marks.confirm(self, state, marks)
        if kind.lister is not None:
            self._remove_own_duplicates(kind, state, txn_id)
        return state

    def read(self, type_key: str, name: str, scope: dict[str, str]) -> ResourceState | None:
        states = self._find(_kind(type_key), name, scope)
        owned = [s for s in states if s.managed_by_dpn]
        return (owned or states)[0] if states else None

    def delete(self, state: ResourceState) -> None:
        kind = _kind(state.type_key)
        method, param = kind.delete
        try:
            self._call(kind, method, {param: state.resource_id})
        except Exception as exc:
            if not _gone(exc):
                raise
        kind.marks.forget(self, state)

    def archive(self, state: ResourceState) -> None:
        """Stop the resource but keep it (a cluster is terminated, not deleted). Types in
        `archive_types` only; archiving what is already gone is success."""
        kind = _kind(state.type_key)
        if kind.archive is None:
            raise ValueError(f"archive is not supported for {state.type_key}")
        method, param = kind.archive
        try:
            self._call(kind, method, {param: state.resource_id})
        except Exception as exc:
            if not _gone(exc):
                raise

    def tag(self, state: ResourceState, tags: dict[str, str]) -> None:
        kind = _kind(state.type_key)
        if not tags or not kind.has_tags or kind.get_by_id is None:
            return
        get, get_param = kind.get_by_id
        current = self._call(kind, get, {get_param: state.resource_id})
        merged = {**kind.marks.get(self, current, state.name), **tags}
        shaped = kind.marks.shape(merged)
        if kind.tag_update is not None:
            method, id_param, template = kind.tag_update
            kwargs = {id_param: state.resource_id, **_fill(template, shaped)}
        else:
            assert kind.tag_resend is not None
            method, id_param, attr = kind.tag_resend
            definition = _attr(current, attr) if attr else current
            accepted = typing.get_type_hints(getattr(self._service(kind), method))
            kwargs = {k: v for k, v in definition.as_dict().items() if k in accepted}
            assert isinstance(kind.marks, _TagMap)
            kwargs.update({id_param: state.resource_id, kind.marks.param: shaped})
        self._call(kind, method, kwargs)

    # --- generic create and find -----------------------------------------------------------

    def _service(self, kind: _Kind) -> Any:
        client = self.account_client if kind.account else self.workspace_client
        return getattr(client, kind.service)

    def _kwargs(
        self, kind: _Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
    ) -> dict[str, Any]:
        kw: dict[str, Any] = {kind.name_param: op.name}
        for prop, param in kind.params.items():
            if op.properties.get(prop) is not None:
                kw[param] = op.properties[prop]
        for param, value in kind.defaults.items():
            kw.setdefault(param, value)
        for ref, (param, what) in kind.refs.items():
            if ref in op.refs:
                target = resolved[op.refs[ref]]
                kw[param] = target.resource_id if what == "id" else target.name
        for key, param in kind.scope_params.items():
            kw[param] = op.scope[key]
        if kind.prepare is not None:
            kind.prepare(self, kw, op, resolved)
        kind.marks.put(kw, marks, dict(op.tags))
        return kw

    def _create(
        self, kind: _Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
    ) -> ResourceState:
        answer = self._call(kind, kind.create, self._kwargs(kind, op, marks, resolved))
        answer = getattr(answer, "response", answer)  # a long-running create's `Wait`
        return self._created(kind, op, _attr(answer, kind.created_id), marks)

    def _created(
        self, kind: _Kind, op: Operation, resource_id: Any, marks: dict[str, str]
    ) -> ResourceState:
        tags = {**op.tags, **marks} if kind.has_tags else dict(marks)
        return ResourceState(op.type_key, op.name, str(resource_id), tags, dict(op.scope))

    def _find(self, kind: _Kind, name: str, scope: dict[str, str]) -> list[ResourceState]:
        """Every resource of the kind with this name (Databricks lets some names repeat)."""
        if kind.getter is not None:
            method, param = kind.getter
            try:
                objs = [self._call(kind, method, {param: kind.full_name(name, scope)})]
            except Exception as exc:
                if _gone(exc):
                    return []
                raise
        else:
            assert kind.lister is not None
            args = kind.list_args(name) if kind.list_args is not None else {}
            listed = self._call(kind, kind.lister, args)
            objs = [o for o in listed if kind.named(name, _attr(o, kind.name_attr))]
            if kind.detail is not None:
                method, param = kind.detail
                objs = [self._call(kind, method, {param: _attr(o, param)}) for o in objs]
        return [
            ResourceState(
                kind.type_key,
                name,
                str(_attr(o, kind.id_attr)),
                kind.marks.get(self, o, name),
                dict(scope),
            )
            for o in objs
        ]

    def _ours_or_conflict(
        self, kind: _Kind, op: Operation, found: ResourceState, txn_id: str
    ) -> ResourceState:
        if found.managed_by_dpn and found.transaction_id == txn_id:
            kind.marks.confirm(self, found, {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn_id})
            return found
        raise ResourceConflict(op.type_key, op.name, found)

    def _remove_own_duplicates(self, kind: _Kind, state: ResourceState, txn_id: str) -> None:
        """A create the SDK re-sent after a dropped connection may have made a twin."""
        for other in self._find(kind, state.name, state.scope):
            if other.resource_id != state.resource_id and other.transaction_id == txn_id:
                log.warning(
                    "removing %s %s (%s): a duplicate of %s made by a re-sent create",
                    kind.type_key,
                    other.name,
                    other.resource_id,
                    state.resource_id,
                )
                self.delete(other)

    # --- types with their own create -------------------------------------------------------

    def _create_notebook(
        self, kind: _Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
    ) -> ResourceState:
        props = op.properties
        language = str(props.get("language") or "PYTHON").upper()
        if language not in _NOTEBOOK_COMMENT:
            raise ValueError(f"notebook {op.name}: unknown language '{language}'")
        if str(props.get("format") or "SOURCE").upper() != "SOURCE":
            raise ValueError(
                f"notebook {op.name}: only the SOURCE format can carry dpn's ownership mark"
            )
        c = _NOTEBOOK_COMMENT[language]
        header = f"{c} Databricks notebook source"
        body = str(props.get("content") or f"{c} {posixpath.basename(op.name)}")
        if body.startswith(header):
            body = body[len(header) :].lstrip("\n")
        text = f"{header}\n{c} {mark_text(marks)}\n\n{body.rstrip()}\n"
        w = self.workspace_client
        w.workspace.mkdirs(path=posixpath.dirname(op.name) or "/")
        wsm = self._sdk_service("workspace")
        w.workspace.import_(
            path=op.name,
            content=_b64encode(text),
            format=wsm.ImportFormat.SOURCE,
            language=wsm.Language(language),
            overwrite=False,
        )
        return self._created(kind, op, op.name, marks)

    def _repo_path(self, op: Operation) -> str:
        if op.name.startswith("/"):
            return op.name
        folder = str(op.properties.get("folder") or self.repos_folder).strip("/")
        return f"/Repos/{folder}/{op.name}"

    def _create_repo(
        self, kind: _Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
    ) -> ResourceState:
        url = op.properties.get("url")
        if not url:
            raise ValueError(f"repo {op.name}: the `url` property is required")
        host = re.sub(r"^https?://([^/]+).*$", r"\1", str(url)).lower()
        provider = op.properties.get("git_provider") or _GIT_PROVIDERS.get(host)
        if not provider:
            raise ValueError(f"repo {op.name}: set `git_provider`, {host} is not a known host")
        path = self._repo_path(op)
        # The sidecar comes first, so a create whose answer is lost is still ours.
        self._write_sidecar(op.name, {**marks, "path": path})
        w = self.workspace_client
        try:
            w.workspace.mkdirs(path=posixpath.dirname(path))
            created = w.repos.create(url=url, provider=provider, path=path)
        except Exception as exc:
            if _refused(exc):
                self._delete_quietly(self._sidecar_path(op.name))
            raise
        if op.properties.get("branch"):
            w.repos.update(repo_id=created.id, branch=op.properties["branch"])
        return self._created(kind, op, created.id, marks)

    def _create_secret_scope(
        self, kind: _Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
    ) -> ResourceState:
        kw: dict[str, Any] = {"scope": op.name}
        if op.properties.get("initial_manage_principal"):
            kw["initial_manage_principal"] = op.properties["initial_manage_principal"]
        if op.properties.get("backend_type"):
            kw["scope_backend_type"] = op.properties["backend_type"]
        self._call(kind, "create_scope", kw)
        try:
            self.workspace_client.secrets.put_secret(
                scope=op.name, key=SCOPE_MARKER_KEY, string_value=mark_text(marks)
            )
        except Exception:
            # Unmarked, the scope could never be told apart from someone else's: remove it.
            try:
                self._call(kind, "delete_scope", {"scope": op.name})
            except Exception as exc:
                if not _gone(exc):
                    log.warning("could not remove unmarked secret scope %s: %s", op.name, exc)
            raise
        return self._created(kind, op, op.name, marks)

    def _create_table(
        self, kind: _Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
    ) -> ResourceState:
        full = (op.scope["catalog"], op.scope["schema"], op.name)
        props = op.properties
        if props.get("storage_location"):
            # the create-table API makes external Delta tables only
            self._call(
                kind,
                "create",
                {
                    "name": op.name,
                    "catalog_name": full[0],
                    "schema_name": full[1],
                    "table_type": "EXTERNAL",
                    "data_source_format": str(props.get("data_source_format") or "DELTA").upper(),
                    "storage_location": props["storage_location"],
                    "columns": _column_infos(props),
                    "properties": marks,
                },
            )
            return self._created(kind, op, ".".join(full), marks)
        statement = create_table_sql(full, props, marks)
        warehouse = self.warehouse_id or self.workspace_client.config.warehouse_id
        if not warehouse:
            raise ValueError(
                f"table {'.'.join(full)} is a managed table, made with SQL: give the provider "
                "a warehouse_id (or set DATABRICKS_WAREHOUSE_ID), or give the table a "
                "storage_location to make it external"
            )
        sqlm = self._sdk_service("sql")
        answer = self.workspace_client.statement_execution.execute_statement(
            statement=statement,
            warehouse_id=warehouse,
            wait_timeout="50s",
            on_wait_timeout=sqlm.ExecuteStatementRequestOnWaitTimeout.CANCEL,
        )
        status = answer.status
        state = _enum_value(status.state) if status is not None else None
        if state != "SUCCEEDED":
            message = status.error.message if status is not None and status.error else ""
            if "TABLE_OR_VIEW_ALREADY_EXISTS" in (message or ""):
                raise _AlreadyExists(message)
            raise StatementFailed(f"CREATE TABLE {'.'.join(full)} ended {state}: {message}")
        return self._created(kind, op, ".".join(full), marks)

    # --- repo sidecars ---------------------------------------------------------------------

    def _sidecar_path(self, name: str) -> str:
        return f"{self.marker_root}/dbx_repo/{name.strip('/')}.json"

    def _read_sidecar(self, name: str) -> dict[str, Any]:
        wsm = self._sdk_service("workspace")
        try:
            exported = self.workspace_client.workspace.export(
                path=self._sidecar_path(name), format=wsm.ExportFormat.AUTO
            )
        except Exception as exc:
            if _gone(exc):
                return {}
            raise
        try:
            data = json.loads(_b64decode(exported.content or ""))
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write_sidecar(self, name: str, data: dict[str, Any]) -> None:
        path = self._sidecar_path(name)
        wsm = self._sdk_service("workspace")
        w = self.workspace_client
        w.workspace.mkdirs(path=posixpath.dirname(path))
        w.workspace.import_(
            path=path,
            content=_b64encode(json.dumps(data, sort_keys=True)),
            format=wsm.ImportFormat.AUTO,
            overwrite=True,
        )

    def _delete_quietly(self, path: str) -> None:
        try:
            self.workspace_client.workspace.delete(path=path)
        except Exception as exc:
            if not _gone(exc):
                raise


def _fill(template: Any, value: Any) -> Any:
    if template is _TAGS:
        return value
    if isinstance(template, dict):
        return {k: _fill(v, value) for k, v in template.items()}
    return template


def _kind(type_key: str) -> _Kind:
    try:
        return KINDS[type_key]
    except KeyError:
        raise ValueError(f"the Databricks provider does not handle '{type_key}'") from None
