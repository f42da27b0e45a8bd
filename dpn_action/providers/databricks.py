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

`dpn update` changes settings in place (`update_settings`; which properties of which types:
`SETTINGS_TYPES`, from `_Kind.settings`). The wanted values are the create call's own
arguments, built by the same code from the blueprint, compared with the definition the cloud
returns, so right after a create nothing differs. A setting the blueprint leaves out goes back
to the platform's documented default where `_Kind.unset` names one (a job's
`max_concurrent_runs` 1, a warehouse's `auto_stop_mins` 120) and is otherwise left as the
cloud holds it; a cluster's runtime, picked at create time, is kept while the blueprint names
none. Only the differing fields are sent, by the same means as tags: a partial update
(`clusters.update` with an update mask, Unity Catalog `update`) or the whole definition sent
again with them replaced (`instance_pools.edit`, `warehouses.edit`, `pipelines.update`,
`cluster_policies.edit`, and `jobs.reset` for a job, whose partial update would merge task
lists). Tags and ownership marks are never among the fields changed; a policy's description
and a volume's comment keep their `[dpn ...]` suffix. A pool's node type, a catalog's storage
root, a volume's type and the types without settings (workspace, notebook, repo, secret
scope, table) cannot be changed in place.

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
from dataclasses import dataclass, field, is_dataclass, replace
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

Kw = dict[str, Any]

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


_FIELDS = object()  # where the changed fields go in a partial-update template
_MASK = object()  # where their names go (an update mask)


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


# --------------------------------------------------------------------------- changes in place


class _Change:
    """How fields of an existing resource are changed in place (tags, settings)."""

    method: str

    def kwargs(
        self, p: DatabricksProvider, kind: _Kind, resource_id: str, definition: Any, fields: Kw
    ) -> Kw:
        """The method's arguments that set `fields` (SDK parameter -> value; None clears it)
        on the resource whose current `definition` the `get_by_id` answer holds."""
        raise NotImplementedError


@dataclass(frozen=True)
class _Partial(_Change):
    """A partial update: only the changed fields are sent, where `template` has `_FIELDS`,
    and their names where it has `_MASK`. A field set to None is named in the mask and not
    sent, which clears it (google.aip.dev/161); without a mask it is not sent at all."""

    method: str
    id_param: str
    template: Any = _FIELDS

    def kwargs(
        self, p: DatabricksProvider, kind: _Kind, resource_id: str, definition: Any, fields: Kw
    ) -> Kw:
        given = {k: v for k, v in fields.items() if v is not None}
        return {self.id_param: resource_id, **_fill(self.template, given, ",".join(fields))}


@dataclass(frozen=True)
class _Resend(_Change):
    """Re-send the whole definition with the changed fields replaced; a field set to None is
    left out, which clears it. `wrap` is the parameter that takes the definition ("" when
    the definition's fields are the method's own parameters)."""

    method: str
    id_param: str
    wrap: str = ""

    def kwargs(
        self, p: DatabricksProvider, kind: _Kind, resource_id: str, definition: Any, fields: Kw
    ) -> Kw:
        body = definition.as_dict()
        if not self.wrap:
            accepted = p._hints(kind, self.method)
            body = {k: v for k, v in body.items() if k in accepted}
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        return {self.id_param: resource_id, **({self.wrap: body} if self.wrap else body)}


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
    #: read one resource by id: (method, id parameter); what a change in place starts from
    get_by_id: tuple[str, str] | None = None
    #: the attribute of the `get_by_id` answer holding the definition ("" for the answer)
    definition: str = ""
    #: how tags, and settings unless `settings_change` is given, are changed in place
    change: _Change | None = None
    #: how settings are changed, where not as `change` does it
    settings_change: _Change | None = None
    #: the blueprint properties `dpn update` changes in place (`params` keys)
    settings: tuple[str, ...] = ()
    #: where a setting's value sits, in the create kwargs and in the definition alike, when
    #: not at its `params` parameter (dotted: `schedule.timezone_id`)
    setting_paths: Mapping[str, str] = field(default_factory=dict)
    #: SDK parameter -> its value when a create does not send it (the platform's documented
    #: default; None: absent). A setting the blueprint leaves out, and `defaults` too, is
    #: brought back to this value; one without an entry is left as the cloud holds it (the
    #: platform, or a cluster policy, fills in values of its own there).
    unset: Mapping[str, Any] = field(default_factory=dict)
    #: settings whose default a create picks from what the workspace offers at the time (a
    #: cluster's newest LTS runtime): while the blueprint leaves them out, they are kept
    kept: frozenset[str] = frozenset()
    #: SDK parameters holding a JSON document as text: compared as documents
    documents: frozenset[str] = frozenset()
    #: a provider method that creates instead of the generic call
    procedure: str | None = None
    account: bool = False
    #: (method, id parameter) that archives instead of deleting: the resource stays,
    #: stopped and restorable (`dpn delete --archive`)
    archive: tuple[str, str] | None = None

    @property
    def has_tags(self) -> bool:
        return isinstance(self.marks, _TagMap) and self.change is not None

    def setting_path(self, prop: str) -> str:
        return self.setting_paths.get(prop) or self.params[prop]

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
    if "autoscale" not in kw:
        # a fixed size is sent even when it is 0 (a single-node cluster); an autoscaling
        # cluster has none, and reads back without one
        kw.setdefault("num_workers", 0)


def _target(op: Operation, resolved: Mapping[str, ResourceState], key: str) -> ResourceState:
    """The resource a reference of `op` points at."""
    if key not in resolved:
        raise ValueError(f"{op.key} refers to {key}, which does not exist")
    return resolved[key]


_COMPUTE_KEYS = ("existing_cluster_id", "new_cluster", "job_cluster_key", "environment_key")


def _prepare_job(
    p: DatabricksProvider, kw: dict[str, Any], op: Operation, resolved: dict[str, ResourceState]
) -> None:
    cluster_key = op.refs.get("cluster_ref")
    cluster_id = _target(op, resolved, cluster_key).resource_id if cluster_key else None
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
        get_by_id=(getter, param),
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
                change=_Partial(
                    "update",
                    "workspace_id",
                    {"customer_facing_workspace": _FIELDS, "update_mask": _MASK},
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
                change=_Partial("update", "cluster_id", {"update_mask": _MASK, "cluster": _FIELDS}),
                settings=(
                    "node_type",
                    "spark_version",
                    "autoscale",
                    "num_workers",
                    "autotermination_minutes",
                    "driver_node_type",
                    "spark_conf",
                    "data_security_mode",
                    "runtime_engine",
                ),
                # a fixed size and autoscaling exclude each other: giving one clears the other
                unset={"autoscale": None, "num_workers": None},
                kept=frozenset({"spark_version"}),
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
                definition="settings",
                delete=("delete", "job_id"),
                change=_Partial("update", "job_id", {"new_settings": _FIELDS}),
                # a partial update merges task lists by task key: settings are reset whole
                settings_change=_Resend("reset", "job_id", wrap="new_settings"),
                settings=(
                    "tasks",
                    "cron",
                    "timezone",
                    "max_concurrent_runs",
                    "email_notifications",
                    "timeout_seconds",
                    "description",
                ),
                setting_paths={
                    "cron": "schedule.quartz_cron_expression",
                    "timezone": "schedule.timezone_id",
                },
                unset={
                    "tasks": None,
                    "schedule": None,
                    "max_concurrent_runs": 1,
                    "email_notifications": None,
                    "timeout_seconds": 0,
                    "description": None,
                },
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
                definition="spec",
                delete=("delete", "pipeline_id"),
                change=_Resend("update", "pipeline_id"),
                settings=(
                    "libraries",
                    "continuous",
                    "development",
                    "serverless",
                    "channel",
                    "edition",
                    "configuration",
                    "target_schema",
                ),
                unset={"continuous": False, "development": False, "configuration": None},
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
                change=_Resend("edit", "id"),
                settings=(
                    "cluster_size",
                    "min_num_clusters",
                    "max_num_clusters",
                    "auto_stop_mins",
                    "warehouse_type",
                    "enable_serverless_compute",
                ),
                unset={"min_num_clusters": 1, "auto_stop_mins": 120},
            ),
        ),
        _uc(
            "dbx_catalog",
            "catalogs",
            "get",
            "name",
            params={"comment": "comment", "storage_root": "storage_root"},
            marks=_PropertyMarks(),
            change=_Partial("update", "name"),
            settings=("comment",),
            unset={"comment": ""},
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
            change=_Partial("update", "full_name"),
            settings=("comment",),
            unset={"comment": ""},
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
            change=_Partial("update", "name"),
            settings=("comment",),
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
                change=_Resend("edit", "instance_pool_id"),
                # a pool's node type is fixed when it is created
                settings=(
                    "min_idle_instances",
                    "max_capacity",
                    "idle_instance_autotermination_minutes",
                ),
                unset={"min_idle_instances": 0},
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
                get_by_id=("get", "policy_id"),
                delete=("delete", "policy_id"),
                change=_Resend("edit", "policy_id"),
                settings=("definition", "max_clusters_per_user", "description"),
                unset={"max_clusters_per_user": None},
                documents=frozenset({"definition"}),
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
#: type -> the blueprint properties `dpn update` changes in place
SETTINGS_TYPES: dict[str, frozenset[str]] = {
    k: frozenset(kind.settings) for k, kind in KINDS.items() if kind.settings
}
#: the types `dpn delete --archive` can archive
ARCHIVE_TYPES = frozenset(k for k, kind in KINDS.items() if kind.archive is not None)
#: a secret scope gets its marks in a second call; see `providers.base.marked_after_create`
LATE_MARKED_TYPES = frozenset({"dbx_secret_scope"})


class DatabricksProvider:
    """Create, read, delete and tag the 14 Databricks resource types, and change the settings
    of nine of them in place."""

    name = "databricks"
    tag_types = TAG_TYPES
    archive_types = ARCHIVE_TYPES
    late_marked_types = LATE_MARKED_TYPES
    settings_types = SETTINGS_TYPES

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
        self._hint_cache: dict[tuple[type, str], dict[str, Any]] = {}

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

    def _hints(self, kind: _Kind, method: str) -> dict[str, Any]:
        """The parameter types of `method` of the kind's SDK service."""
        service = self._service(kind)
        key = (type(service), method)
        if key not in self._hint_cache:
            self._hint_cache[key] = typing.get_type_hints(getattr(service, method))
        return self._hint_cache[key]

    def _call(self, kind: _Kind, method: str, kwargs: Mapping[str, Any]) -> Any:
        """Call `method` of the kind's SDK service, turning JSON-like values into the SDK's
        dataclasses and enums by the method's own type hints."""
        hints = self._hints(kind, method)
        fn = getattr(self._service(kind), method)
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

    def locate(self, state: ResourceState) -> ResourceState | None:
        """What holds `state`'s name now: the resource with its id when there is one (some
        names repeat: two clusters may share one), else another under the name, else None."""
        found = self._find(_kind(state.type_key), state.name, dict(state.scope))
        same = [s for s in found if s.resource_id == state.resource_id]
        return (same or found)[0] if found else None

    def identity(self) -> dict[str, str]:
        """The workspace (or, for an account-only plan, the account) this provider acts in."""
        try:
            config = self.workspace_client.config
        except Exception:
            config = self.account_client.config
        out = {"host": str(config.host or "").rstrip("/").lower()}
        if getattr(config, "account_id", None):
            out["account"] = str(config.account_id)
        return out

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
        if not tags or not kind.has_tags or kind.change is None:
            return
        assert isinstance(kind.marks, _TagMap)
        current = self._get(kind, state.resource_id)
        merged = {**kind.marks.get(self, current, state.name), **tags}
        fields = {kind.marks.param: kind.marks.shape(merged)}
        self._change(kind, kind.change, state.resource_id, current, fields)

    def update_settings(
        self,
        op: Operation,
        state: ResourceState,
        resolved: dict[str, ResourceState],
        *,
        dry_run: bool = False,
    ) -> list[str]:
        """Change, in place, the settings in which the resource differs from the blueprint.

        The wanted values are the create call's own arguments (`_kwargs`: `params`,
        `defaults`, references, `prepare`, the ownership marks as they are now), compared
        with the definition the cloud returns, both in the SDK's JSON form. Only the
        differing SDK parameters are sent, so tags and marks stay as they are.
        """
        kind = _kind(op.type_key)
        change = kind.settings_change or kind.change
        if not kind.settings or change is None:
            return []
        current = self._get(kind, state.resource_id)
        definition = _attr(current, kind.definition) if kind.definition else current
        have = _plain(definition)
        props = dict(op.properties)
        for prop in kind.kept:
            if props.get(prop) is None:
                props[prop] = _at(have, kind.setting_path(prop))
        marks = kind.marks.get(self, current, state.name)
        marks = {k: marks[k] for k in MARK_KEYS if k in marks}
        kwargs = self._kwargs(kind, replace(op, properties=props), marks, resolved)
        hints = self._hints(kind, kind.create)
        want = {k: _plain(_coerce(hints.get(k, Any), v)) for k, v in kwargs.items()}
        changed = sorted(
            p
            for p in kind.settings
            if _differs(kind, p, op.properties.get(p) is not None, hints, want, have)
        )
        if changed and not dry_run:
            params = sorted({kind.setting_path(p).split(".")[0] for p in changed})
            fields = {k: kind.unset.get(k) if _blank(kwargs.get(k)) else kwargs[k] for k in params}
            self._change(kind, change, state.resource_id, current, fields)
        return changed

    def _get(self, kind: _Kind, resource_id: str) -> Any:
        if kind.get_by_id is None:
            raise ValueError(f"{kind.type_key} cannot be read by its id")
        method, param = kind.get_by_id
        return self._call(kind, method, {param: resource_id})

    def _change(
        self, kind: _Kind, change: _Change, resource_id: str, current: Any, fields: Kw
    ) -> None:
        definition = _attr(current, kind.definition) if kind.definition else current
        kwargs = change.kwargs(self, kind, resource_id, definition, fields)
        self._call(kind, change.method, kwargs)

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
                target = _target(op, resolved, op.refs[ref])
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


def _fill(template: Any, fields: Kw, mask: str) -> Any:
    if template is _FIELDS:
        return fields
    if template is _MASK:
        return mask
    if isinstance(template, dict):
        return {k: _fill(v, fields, mask) for k, v in template.items()}
    return template


# --------------------------------------------------------------------------- comparing settings


def _blank(value: Any) -> bool:
    """Not set, as the SDK's JSON leaves it out."""
    return value is None or value == "" or value == {} or value == []


def _plain(value: Any) -> Any:
    """A value in the SDK's JSON form (what `as_dict` sends), with blanks left out."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        out = {k: _plain(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _blank(v)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _bare(hint: Any) -> Any:
    """`X` of `Optional[X]`."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if type(None) in typing.get_args(hint) and len(args) == 1 else hint


def _hint_at(hint: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        hint = _bare(hint)
        hint = typing.get_type_hints(hint).get(part, Any) if is_dataclass(hint) else Any
    return hint


def _agrees(hint: Any, want: Any, have: Any) -> bool:
    """`have` (what the cloud holds) is what `want` asks. Within an SDK object only the
    fields dpn sends count: the platform fills in others of its own (a task's `run_if`)."""
    if want == have:
        return True
    hint = _bare(hint)
    if isinstance(want, dict) and isinstance(have, dict) and is_dataclass(hint):
        fields = typing.get_type_hints(hint)
        return all(_agrees(fields.get(k, Any), v, have.get(k)) for k, v in want.items())
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        item = (typing.get_args(hint) or (Any,))[0] if typing.get_origin(hint) is list else Any
        return all(_agrees(item, w, h) for w, h in zip(want, have, strict=True))
    return False


def _document(value: Any) -> Any:
    """A JSON document given as text, parsed (text that is not JSON stays text)."""
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value


def _differs(
    kind: _Kind, prop: str, given: bool, hints: Mapping[str, Any], want: Kw, have: Kw
) -> bool:
    """The setting `prop` of the cloud's definition `have` is not what the create arguments
    `want` ask (both `_plain`; where either leaves it out, `kind.unset` says what it is).
    `given`: the blueprint gives the property (an empty value clears the setting)."""
    path = kind.setting_path(prop)
    top, _, rest = path.partition(".")
    wanted, held = _at(want, path), _at(have, path)
    if _blank(wanted) and not given and top not in kind.unset:
        return False  # the blueprint leaves it to the cloud
    unset = _at({top: _plain(kind.unset.get(top))}, path)
    wanted = unset if _blank(wanted) else wanted
    held = unset if _blank(held) else held
    if top in kind.documents:
        wanted, held = _document(wanted), _document(held)
    if _blank(wanted) and _blank(held):
        return False
    return not _agrees(_hint_at(hints.get(top, Any), rest), wanted, held)


def _kind(type_key: str) -> _Kind:
    try:
        return KINDS[type_key]
    except KeyError:
        raise ValueError(f"the Databricks provider does not handle '{type_key}'") from None
