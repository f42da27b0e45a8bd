"""A loopback Databricks workspace and account API for tests.

`DatabricksTestServer` answers, on 127.0.0.1, exactly the REST endpoints that the
databricks-sdk methods used by `dpn_action.providers.databricks` call, and keeps its state in
memory. It is strict where the real service is strict, so a wrong request fails here as it
would in a workspace:

* Every request body and query string is checked against the SDK's own contract for that
  method. Current databricks-sdk releases no longer ship one request dataclass per method
  (`compute.CreateCluster`, `jobs.CreateJob`, ...): the generated method itself builds the body
  from its typed parameters (`if spark_version is not None: body["spark_version"] = ...`). The
  server reads that contract from the installed SDK (the method's source says which parameter
  becomes which body or query key, `typing.get_type_hints` gives its type) and checks values
  recursively: nested objects against the SDK dataclass of that field (`dataclasses.fields` +
  `get_type_hints`, unknown keys rejected, required fields enforced, a `from_dict`/`as_dict`
  round trip must keep the value), enums against their values, JSON scalar types exactly. A
  violation is `400 INVALID_PARAMETER_VALUE`.
* Answers are SDK response dataclasses (`ClusterDetails.from_dict(...).as_dict()`, ...).
* Errors are the platform's bodies, `{"error_code": ..., "message": ...}`, with the status the
  platform uses (409 RESOURCE_ALREADY_EXISTS, 404 RESOURCE_DOES_NOT_EXIST, 400
  INVALID_PARAMETER_VALUE). Two quirks of the real service are kept because clients must cope
  with them: the clusters and jobs APIs report a missing cluster or job as `400
  INVALID_PARAMETER_VALUE "... does not exist"` (the SDK itself maps that message to
  `ResourceDoesNotExist` on `get`), and a failed SQL statement is a `200` whose status is
  `FAILED`.
* A bearer token is required on every API call (401 otherwise); it is never logged.
* Changes in place keep the platform's semantics: a cluster update changes exactly the fields
  its mask names (a named field left out is cleared, an unknown name is refused), a job
  reset, a policy edit and a pipeline update replace the whole definition, a Unity Catalog
  update replaces only the fields it gives.

Faults are injected from the test through Python methods (`throttle`, `unavailable`,
`lose_response`, `fail_always`), never over HTTP.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import fnmatch
import inspect
import itertools
import json
import re
import secrets
import threading
import time
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from databricks.sdk.oauth import HostMetadata
from databricks.sdk.service import (
    catalog,
    compute,
    iam,
    jobs,
    pipelines,
    provisioning,
    sql,
    workspace,
)

Json = dict[str, Any]


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answer of the API: HTTP status, `error_code`, message."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def missing(message: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def exists(message: str) -> ApiError:
    return ApiError(409, "RESOURCE_ALREADY_EXISTS", message)


# --------------------------------------------------------------------------- request contract

# `if cluster_name is not None:\n    body["cluster_name"] = cluster_name` in a generated method
_ASSIGN = re.compile(r'if (\w+) is not None:\s*\n\s*(body|query)\["(\w+)"\]')
_WHOLE_BODY = re.compile(r"body = (\w+)\.as_dict\(\)")


@dataclass(frozen=True)
class RequestContract:
    """What one SDK method may send: body and query keys with their types."""

    sdk_method: str
    body: dict[str, Any]
    query: dict[str, Any]
    required: frozenset[str]
    #: the SDK sends one dataclass as the whole body (`body = workspace.as_dict()`)
    whole_body: Any = None

    @classmethod
    def of(cls, api: type, method: str) -> RequestContract:
        fn = getattr(api, method)
        source = inspect.getsource(fn)
        hints = typing.get_type_hints(fn)
        params = inspect.signature(fn).parameters
        body: dict[str, Any] = {}
        query: dict[str, Any] = {}
        required: set[str] = set()
        for param, where, key in _ASSIGN.findall(source):
            (body if where == "body" else query)[key] = hints[param]
            if where == "body" and params[param].default is inspect.Parameter.empty:
                required.add(key)
        whole = _WHOLE_BODY.search(source)
        return cls(
            sdk_method=f"{api.__name__}.{method}",
            body=body,
            query=query,
            required=frozenset(required),
            whole_body=hints[whole.group(1)] if whole else None,
        )

    def check_body(self, value: Any) -> None:
        if self.whole_body is not None:
            check_value(self.whole_body, value, "body")
            return
        if not self.body:
            if value not in (None, {}):
                raise invalid(f"{self.sdk_method} takes no request body")
            return
        if not isinstance(value, dict):
            raise invalid("the request body must be a JSON object")
        _check_object(self.body, self.required, value, "", self.sdk_method)

    def check_query(self, query: dict[str, list[str]]) -> None:
        for key, values in query.items():
            top = key.split(".", 1)[0]
            if top not in self.query:
                raise invalid(f"unknown query parameter '{key}' for {self.sdk_method}")
            hint = _strip_optional(self.query[top])
            if "." in key:
                continue  # a flattened nested object (filter_by.user_ids=...)
            for raw in values:
                if hint is int and not re.fullmatch(r"-?\d+", raw):
                    raise invalid(f"query parameter '{key}' must be an integer, got '{raw}'")
                if hint is bool and raw not in ("true", "false"):
                    raise invalid(f"query parameter '{key}' must be true or false, got '{raw}'")


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _check_object(
    hints: dict[str, Any], required: frozenset[str], value: Json, where: str, owner: str
) -> None:
    unknown = sorted(set(value) - set(hints))
    if unknown:
        raise invalid(f"unknown field '{where}{unknown[0]}' for {owner}")
    for key in sorted(required - set(value)):
        raise invalid(f"missing required field '{where}{key}' for {owner}")
    for key, item in value.items():
        check_value(hints[key], item, f"{where}{key}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _prune(value: Any) -> Any:
    """A JSON value as an SDK `as_dict` would write it back: no nulls, no empty containers."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def check_value(hint: Any, value: Any, where: str) -> None:
    """Raise `invalid` unless `value` (decoded JSON) is what the SDK type `hint` describes."""
    hint = _strip_optional(hint)
    origin = typing.get_origin(hint)
    wrong = invalid(f"field '{where}' has the wrong type: {_json_type(value)}")
    if hint is Any or hint is object:
        return
    if origin is list or hint is list:
        if not isinstance(value, list):
            raise wrong
        (item,) = typing.get_args(hint) or (Any,)
        for i, v in enumerate(value):
            check_value(item, v, f"{where}[{i}]")
        return
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise wrong
        _, item = typing.get_args(hint) or (str, Any)
        for k, v in value.items():
            check_value(item, v, f"{where}.{k}")
        return
    if hint is bool:
        if not isinstance(value, bool):
            raise wrong
        return
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return
    if hint is str:
        if not isinstance(value, str):
            raise wrong
        return
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [e.value for e in hint]
        if value not in allowed:
            raise invalid(f"field '{where}' must be one of {allowed}, got {value!r}")
        return
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise wrong
        field_hints = typing.get_type_hints(hint)
        required = frozenset(
            f.name
            for f in dataclasses.fields(hint)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        _check_object(field_hints, required, value, f"{where}.", hint.__name__)
        if hasattr(hint, "from_dict"):
            again = hint.from_dict(value).as_dict()
            if _prune(again) != _prune(value):
                raise invalid(f"field '{where}' does not survive {hint.__name__}.from_dict")
        return
    raise invalid(f"field '{where}': the server has no check for type {hint!r}")


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    kind: str  # throttle | unavailable | lose | fail
    path: str  # fnmatch pattern over the request path
    method: str | None
    remaining: int | None  # None: every matching request
    status: int = 500
    retry_after: int | None = None
    drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return fnmatch.fnmatchcase(path, self.path)


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    contract: RequestContract | None
    handler: str
    response: Any  # an SDK dataclass, or None for an empty answer


@dataclass
class Request:
    method: str
    path: str
    body: Any
    query: dict[str, str]
    params: dict[str, str]


def _routes() -> list[Route]:
    a = r"/api/2\.0/accounts/(?P<account>[^/]+)"
    uc = r"/api/2\.1/unity-catalog"
    # fmt: off
    table: list[tuple[str, str, type | None, str | None, str, Any]] = [
        # account: workspaces
        ("POST", a + "/workspaces", provisioning.WorkspacesAPI, "create", "ws_create",
         provisioning.Workspace),
        ("GET", a + "/workspaces", provisioning.WorkspacesAPI, "list", "ws_list",
         provisioning.Workspace),
        ("GET", a + r"/workspaces/(?P<id>\d+)", provisioning.WorkspacesAPI, "get", "ws_get",
         provisioning.Workspace),
        ("PATCH", a + r"/workspaces/(?P<id>\d+)", provisioning.WorkspacesAPI, "update",
         "ws_update", provisioning.Workspace),
        ("DELETE", a + r"/workspaces/(?P<id>\d+)", provisioning.WorkspacesAPI, "delete",
         "ws_delete", provisioning.Workspace),
        # clusters
        ("GET", r"/api/2\.0/preview/scim/v2/Me", iam.CurrentUserAPI, "me", "me", iam.User),
        ("POST", r"/api/2\.1/clusters/create", compute.ClustersAPI, "create", "cluster_create",
         compute.CreateClusterResponse),
        ("GET", r"/api/2\.1/clusters/get", compute.ClustersAPI, "get", "cluster_get",
         compute.ClusterDetails),
        ("GET", r"/api/2\.1/clusters/list", compute.ClustersAPI, "list", "cluster_list",
         compute.ListClustersResponse),
        ("POST", r"/api/2\.1/clusters/update", compute.ClustersAPI, "update", "cluster_update",
         compute.UpdateClusterResponse),
        ("POST", r"/api/2\.1/clusters/permanent-delete", compute.ClustersAPI,
         "permanent_delete", "cluster_delete", compute.PermanentDeleteClusterResponse),
        ("GET", r"/api/2\.1/clusters/spark-versions", compute.ClustersAPI, "spark_versions",
         "spark_versions", compute.GetSparkVersionsResponse),
        # jobs
        ("POST", r"/api/2\.2/jobs/create", jobs.JobsAPI, "create", "job_create",
         jobs.CreateResponse),
        ("GET", r"/api/2\.2/jobs/get", jobs.JobsAPI, "get", "job_get", jobs.Job),
        ("GET", r"/api/2\.2/jobs/list", jobs.JobsAPI, "list", "job_list", jobs.ListJobsResponse),
        ("POST", r"/api/2\.2/jobs/update", jobs.JobsAPI, "update", "job_update", None),
        ("POST", r"/api/2\.2/jobs/reset", jobs.JobsAPI, "reset", "job_reset", None),
        ("POST", r"/api/2\.2/jobs/delete", jobs.JobsAPI, "delete", "job_delete", None),
        # workspace objects
        ("POST", r"/api/2\.0/workspace/mkdirs", workspace.WorkspaceAPI, "mkdirs", "ws_mkdirs",
         workspace.MkdirsResponse),
        ("POST", r"/api/2\.0/workspace/import", workspace.WorkspaceAPI, "import_", "ws_import",
         workspace.ImportResponse),
        ("GET", r"/api/2\.0/workspace/get-status", workspace.WorkspaceAPI, "get_status",
         "ws_status", workspace.ObjectInfo),
        ("GET", r"/api/2\.0/workspace/export", workspace.WorkspaceAPI, "export", "ws_export",
         workspace.ExportResponse),
        ("POST", r"/api/2\.0/workspace/delete", workspace.WorkspaceAPI, "delete", "ws_obj_delete",
         None),
        # repos
        ("POST", r"/api/2\.0/repos", workspace.ReposAPI, "create", "repo_create",
         workspace.CreateRepoResponse),
        ("GET", r"/api/2\.0/repos", workspace.ReposAPI, "list", "repo_list",
         workspace.ListReposResponse),
        ("GET", r"/api/2\.0/repos/(?P<id>\d+)", workspace.ReposAPI, "get", "repo_get",
         workspace.GetRepoResponse),
        ("PATCH", r"/api/2\.0/repos/(?P<id>\d+)", workspace.ReposAPI, "update", "repo_update",
         None),
        ("DELETE", r"/api/2\.0/repos/(?P<id>\d+)", workspace.ReposAPI, "delete", "repo_delete",
         None),
        # pipelines
        ("POST", r"/api/2\.0/pipelines", pipelines.PipelinesAPI, "create", "pipe_create",
         pipelines.CreatePipelineResponse),
        ("GET", r"/api/2\.0/pipelines", pipelines.PipelinesAPI, "list_pipelines", "pipe_list",
         pipelines.ListPipelinesResponse),
        ("GET", r"/api/2\.0/pipelines/(?P<id>[^/]+)", pipelines.PipelinesAPI, "get", "pipe_get",
         pipelines.GetPipelineResponse),
        ("PUT", r"/api/2\.0/pipelines/(?P<id>[^/]+)", pipelines.PipelinesAPI, "update",
         "pipe_update", None),
        ("DELETE", r"/api/2\.0/pipelines/(?P<id>[^/]+)", pipelines.PipelinesAPI, "delete",
         "pipe_delete", None),
        # SQL warehouses and statements
        ("POST", r"/api/2\.0/sql/warehouses", sql.WarehousesAPI, "create", "wh_create",
         sql.CreateWarehouseResponse),
        ("GET", r"/api/2\.0/sql/warehouses", sql.WarehousesAPI, "list", "wh_list",
         sql.ListWarehousesResponse),
        ("GET", r"/api/2\.0/sql/warehouses/(?P<id>[^/]+)", sql.WarehousesAPI, "get", "wh_get",
         sql.GetWarehouseResponse),
        ("POST", r"/api/2\.0/sql/warehouses/(?P<id>[^/]+)/edit", sql.WarehousesAPI, "edit",
         "wh_edit", None),
        ("DELETE", r"/api/2\.0/sql/warehouses/(?P<id>[^/]+)", sql.WarehousesAPI, "delete",
         "wh_delete", None),
        ("POST", r"/api/2\.0/sql/statements", sql.StatementExecutionAPI, "execute_statement",
         "sql_execute", sql.StatementResponse),
        # Unity Catalog
        ("POST", uc + "/catalogs", catalog.CatalogsAPI, "create", "uc_catalog_create",
         catalog.CatalogInfo),
        ("GET", uc + r"/catalogs/(?P<name>[^/]+)", catalog.CatalogsAPI, "get", "uc_catalog_get",
         catalog.CatalogInfo),
        ("PATCH", uc + r"/catalogs/(?P<name>[^/]+)", catalog.CatalogsAPI, "update",
         "uc_catalog_update", catalog.CatalogInfo),
        ("DELETE", uc + r"/catalogs/(?P<name>[^/]+)", catalog.CatalogsAPI, "delete",
         "uc_catalog_delete", None),
        ("POST", uc + "/schemas", catalog.SchemasAPI, "create", "uc_schema_create",
         catalog.SchemaInfo),
        ("GET", uc + r"/schemas/(?P<name>[^/]+)", catalog.SchemasAPI, "get", "uc_schema_get",
         catalog.SchemaInfo),
        ("PATCH", uc + r"/schemas/(?P<name>[^/]+)", catalog.SchemasAPI, "update",
         "uc_schema_update", catalog.SchemaInfo),
        ("DELETE", uc + r"/schemas/(?P<name>[^/]+)", catalog.SchemasAPI, "delete",
         "uc_schema_delete", None),
        ("POST", uc + "/tables", catalog.TablesAPI, "create", "uc_table_create",
         catalog.TableInfo),
        ("GET", uc + r"/tables/(?P<name>[^/]+)", catalog.TablesAPI, "get", "uc_table_get",
         catalog.TableInfo),
        ("DELETE", uc + r"/tables/(?P<name>[^/]+)", catalog.TablesAPI, "delete",
         "uc_table_delete", None),
        ("POST", uc + "/volumes", catalog.VolumesAPI, "create", "uc_volume_create",
         catalog.VolumeInfo),
        ("GET", uc + r"/volumes/(?P<name>[^/]+)", catalog.VolumesAPI, "read", "uc_volume_get",
         catalog.VolumeInfo),
        ("PATCH", uc + r"/volumes/(?P<name>[^/]+)", catalog.VolumesAPI, "update",
         "uc_volume_update", catalog.VolumeInfo),
        ("DELETE", uc + r"/volumes/(?P<name>[^/]+)", catalog.VolumesAPI, "delete",
         "uc_volume_delete", None),
        # secrets
        ("POST", r"/api/2\.0/secrets/scopes/create", workspace.SecretsAPI, "create_scope",
         "scope_create", None),
        ("GET", r"/api/2\.0/secrets/scopes/list", workspace.SecretsAPI, "list_scopes",
         "scope_list", workspace.ListScopesResponse),
        ("POST", r"/api/2\.0/secrets/scopes/delete", workspace.SecretsAPI, "delete_scope",
         "scope_delete", None),
        ("POST", r"/api/2\.0/secrets/put", workspace.SecretsAPI, "put_secret", "secret_put",
         None),
        ("GET", r"/api/2\.0/secrets/get", workspace.SecretsAPI, "get_secret", "secret_get",
         workspace.GetSecretResponse),
        # instance pools
        ("POST", r"/api/2\.0/instance-pools/create", compute.InstancePoolsAPI, "create",
         "pool_create", compute.CreateInstancePoolResponse),
        ("GET", r"/api/2\.0/instance-pools/list", compute.InstancePoolsAPI, "list", "pool_list",
         compute.ListInstancePools),
        ("GET", r"/api/2\.0/instance-pools/get", compute.InstancePoolsAPI, "get", "pool_get",
         compute.GetInstancePool),
        ("POST", r"/api/2\.0/instance-pools/edit", compute.InstancePoolsAPI, "edit", "pool_edit",
         None),
        ("POST", r"/api/2\.0/instance-pools/delete", compute.InstancePoolsAPI, "delete",
         "pool_delete", None),
        # cluster policies
        ("POST", r"/api/2\.0/policies/clusters/create", compute.ClusterPoliciesAPI, "create",
         "policy_create", compute.CreatePolicyResponse),
        ("GET", r"/api/2\.0/policies/clusters/list", compute.ClusterPoliciesAPI, "list",
         "policy_list", compute.ListPoliciesResponse),
        ("GET", r"/api/2\.0/policies/clusters/get", compute.ClusterPoliciesAPI, "get",
         "policy_get", compute.Policy),
        ("POST", r"/api/2\.0/policies/clusters/edit", compute.ClusterPoliciesAPI, "edit",
         "policy_edit", None),
        ("POST", r"/api/2\.0/policies/clusters/delete", compute.ClusterPoliciesAPI, "delete",
         "policy_delete", None),
    ]
    # fmt: on
    return [
        Route(
            method,
            re.compile(pattern + "$"),
            RequestContract.of(api, sdk) if api is not None and sdk is not None else None,
            handler,
            response,
        )
        for method, pattern, api, sdk, handler, response in table
    ]


ROUTES = _routes()


# --------------------------------------------------------------------------- helpers


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _like(pattern: str, value: str) -> bool:
    """SQL LIKE: `%` any run, `_` one character, case-sensitive."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.DOTALL) is not None


def _page(items: list[Json], token: str | None, size: int) -> tuple[list[Json], str | None]:
    start = int(token) if token else 0
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


_UPDATABLE_CLUSTER_FIELDS = frozenset(
    f.name for f in dataclasses.fields(compute.UpdateClusterResource)
)
_SCOPE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_UC_NAME = re.compile(r"[^\s./]{1,255}")


# --------------------------------------------------------------------------- the server


class DatabricksTestServer:
    """An in-memory Databricks workspace + account API on 127.0.0.1 (a free port)."""

    def __init__(
        self, token: str = "dapi-test", account_id: str = "acc-test", page_size: int = 25
    ) -> None:
        self.token = token
        self.account_id = account_id
        self.page_size = page_size
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        #: (method, path, status) of every API request, in order; no headers, no token
        self.requests: list[tuple[str, str, int]] = []
        #: (method, path, JSON body) of every request that reached a route, in order
        self.bodies: list[tuple[str, str, Json]] = []
        #: requests that matched no route (a client calling an endpoint the server lacks)
        self.unrouted: list[tuple[str, str]] = []
        self._ids = itertools.count(1001)
        self.reset()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # --- life cycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DatabricksTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> DatabricksTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource, fault and logged request."""
        with self.lock:
            self.faults.clear()
            self.requests.clear()
            self.bodies.clear()
            self.unrouted.clear()
            self.workspaces: dict[int, Json] = {}
            self.clusters: dict[str, Json] = {}
            self.jobs: dict[int, Json] = {}
            self.objects: dict[str, Json] = {"/": {"object_type": "DIRECTORY", "object_id": 0}}
            self.repos: dict[int, Json] = {}
            self.pipelines: dict[str, Json] = {}
            self.warehouses: dict[str, Json] = {}
            self.catalogs: dict[str, Json] = {}
            self.schemas: dict[str, Json] = {}
            self.tables: dict[str, Json] = {}
            self.volumes: dict[str, Json] = {}
            self.scopes: dict[str, Json] = {}
            self.pools: dict[str, Json] = {}
            self.policies: dict[str, Json] = {}

    # --- fault injection (test side) -------------------------------------------------------

    def throttle(
        self, times: int, path: str = "*", *, retry_after: int = 0, method: str | None = None
    ) -> None:
        """The next `times` matching requests get `429` with `Retry-After: retry_after`."""
        self._fault(Fault("throttle", path, method, times, 429, retry_after))

    def unavailable(
        self,
        times: int,
        path: str = "*",
        *,
        status: int = 503,
        retry_after: int | None = 0,
        method: str | None = None,
    ) -> None:
        """A burst: the next `times` matching requests get a 5xx (`503` by default)."""
        self._fault(Fault("unavailable", path, method, times, status, retry_after))

    def lose_response(
        self, path: str, *, times: int = 1, drop: bool = False, method: str | None = "POST"
    ) -> None:
        """Perform the next `times` matching requests, then answer `500` instead of the result
        (or, with `drop`, close the connection without any answer)."""
        self._fault(Fault("lose", path, method, times, 500, drop=drop))

    def fail_always(self, path: str, *, status: int = 500, method: str | None = None) -> None:
        """Every matching request fails with `status` until `clear_faults`."""
        self._fault(Fault("fail", path, method, None, status))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def _fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path) and fault.remaining != 0:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    # --- dispatch --------------------------------------------------------------------------

    def dispatch(self, method: str, path: str, raw_query: str, raw_body: bytes) -> Any:
        """Route one request; return the JSON answer or raise `ApiError`."""
        for route in ROUTES:
            m = route.pattern.match(path)
            if m is None or route.method != method:
                continue
            params = {k: unquote(v) for k, v in m.groupdict().items()}
            if params.get("account", self.account_id) != self.account_id:
                raise missing(f"account {params['account']} does not exist")
            try:
                body = json.loads(raw_body) if raw_body else None
            except json.JSONDecodeError as exc:
                raise ApiError(400, "MALFORMED_REQUEST", f"invalid JSON: {exc}") from None
            with self.lock:
                self.bodies.append((method, path, body if isinstance(body, dict) else {}))
            query_lists = parse_qs(raw_query, keep_blank_values=True)
            if route.contract is not None:
                route.contract.check_body(body)
                route.contract.check_query(query_lists)
            query = {k: v[-1] for k, v in query_lists.items()}
            req = Request(method, path, body if isinstance(body, dict) else {}, query, params)
            with self.lock:
                answer = getattr(self, route.handler)(req)
            return _shape(route.response, answer)
        with self.lock:
            self.unrouted.append((method, path))
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    def _next_id(self) -> int:
        return next(self._ids)

    # --- the current user -------------------------------------------------------------------

    #: who the token is (`GET /api/2.0/preview/scim/v2/Me`)
    user_name = "dpn-tests@example.com"

    def me(self, r: Request) -> Json:
        return {
            "id": "4242",
            "userName": self.user_name,
            "displayName": "dpn tests",
            "active": True,
        }

    # --- account: workspaces -----------------------------------------------------------------

    def ws_create(self, r: Request) -> Json:
        name = r.body.get("workspace_name")
        if not name:
            raise invalid("workspace_name is required")
        if any(w["workspace_name"] == name for w in self.workspaces.values()):
            raise exists(f"Workspace name {name} already exists in this account")
        wid = self._next_id()
        ws = {
            **r.body,
            "workspace_id": wid,
            "account_id": self.account_id,
            "workspace_status": "PROVISIONING",
            "deployment_name": r.body.get("deployment_name", name),
            "creation_time": int(time.time() * 1000),
        }
        self.workspaces[wid] = ws
        return ws

    def _workspace(self, r: Request) -> Json:
        wid = int(r.params["id"])
        if wid not in self.workspaces:
            raise missing(f"Workspace {wid} does not exist")
        return self.workspaces[wid]

    def ws_list(self, r: Request) -> list[Json]:
        return list(self.workspaces.values())

    def ws_get(self, r: Request) -> Json:
        return self._workspace(r)

    def ws_update(self, r: Request) -> Json:
        ws = self._workspace(r)
        mask = r.query.get("update_mask", "")
        for key in filter(None, mask.split(",")):
            if key in r.body:
                ws[key] = r.body[key]
        return ws

    def ws_delete(self, r: Request) -> Json:
        ws = self._workspace(r)
        del self.workspaces[ws["workspace_id"]]
        return ws

    # --- clusters ------------------------------------------------------------------------------

    def _cluster(self, cluster_id: str | None) -> Json:
        if cluster_id not in self.clusters:
            # the clusters API reports a missing cluster this way, not with a 404
            raise invalid(f"Cluster {cluster_id} does not exist")
        return self.clusters[cluster_id]

    def cluster_create(self, r: Request) -> Json:
        for ref, store in (("instance_pool_id", self.pools), ("policy_id", self.policies)):
            if ref in r.body and r.body[ref] not in store:
                raise invalid(f"{ref} {r.body[ref]} does not exist")
        cid = f"0101-{self._next_id():06d}-{secrets.token_hex(4)}"
        self.clusters[cid] = {
            **r.body,
            "cluster_id": cid,
            "state": "PENDING",
            "cluster_source": "API",
        }
        return {"cluster_id": cid}

    def cluster_get(self, r: Request) -> Json:
        return self._cluster(r.query.get("cluster_id"))

    def cluster_list(self, r: Request) -> Json:
        items, token = _page(
            list(self.clusters.values()), r.query.get("page_token"), self.page_size
        )
        return {"clusters": items, "next_page_token": token}

    def cluster_update(self, r: Request) -> Json:
        """A field mask as google.aip.dev/161 has it: only the fields it names change; one it
        names that `cluster` leaves out is cleared; `*` names them all."""
        c = self._cluster(r.body["cluster_id"])
        fields = r.body.get("cluster", {})
        mask = r.body["update_mask"]
        names = sorted(_UPDATABLE_CLUSTER_FIELDS) if mask == "*" else mask.split(",")
        for key in names:
            if key not in _UPDATABLE_CLUSTER_FIELDS:
                raise invalid(f"update_mask names '{key}', which is not an updatable cluster field")
        for key in names:
            if key in fields:
                c[key] = fields[key]
            else:
                c.pop(key, None)
        return {}

    def cluster_delete(self, r: Request) -> Json:
        self._cluster(r.body["cluster_id"])
        del self.clusters[r.body["cluster_id"]]
        return {}

    def spark_versions(self, r: Request) -> Json:
        lts = "LTS (includes Apache Spark"
        return {
            "versions": [
                {"key": "15.4.x-scala2.12", "name": f"15.4 {lts} 3.5.0, Scala 2.12)"},
                {"key": "16.4.x-scala2.12", "name": f"16.4 {lts} 3.5.2, Scala 2.12)"},
                {
                    "key": "17.0.x-scala2.13",
                    "name": "17.0 (includes Apache Spark 4.0.0, Scala 2.13)",
                },
            ]
        }

    # --- jobs ----------------------------------------------------------------------------------

    def _job(self, job_id: Any) -> Json:
        try:
            key = int(job_id)
        except (TypeError, ValueError):
            raise invalid(f"Invalid job_id {job_id}") from None
        if key not in self.jobs:
            raise invalid(f"Job {key} does not exist.")  # the jobs API's own answer
        return self.jobs[key]

    def _tasks_run_on_known_clusters(self, settings: Json) -> None:
        for task in settings.get("tasks", []):
            cid = task.get("existing_cluster_id")
            if cid is not None and cid not in self.clusters:
                raise invalid(f"Cluster {cid} does not exist")

    def job_create(self, r: Request) -> Json:
        self._tasks_run_on_known_clusters(r.body)
        jid = self._next_id()
        self.jobs[jid] = {"job_id": jid, "settings": r.body, "created_time": int(time.time())}
        return {"job_id": jid}

    def job_get(self, r: Request) -> Json:
        return self._job(r.query.get("job_id"))

    def job_list(self, r: Request) -> Json:
        name = r.query.get("name")
        found = [j for j in self.jobs.values() if name is None or j["settings"].get("name") == name]
        items, token = _page(found, r.query.get("page_token"), self.page_size)
        return {"jobs": items, "next_page_token": token, "has_more": token is not None}

    def job_update(self, r: Request) -> Json:
        job = self._job(r.body["job_id"])
        job["settings"].update(r.body.get("new_settings", {}))
        for key in r.body.get("fields_to_remove", []):
            job["settings"].pop(key, None)
        return {}

    def job_reset(self, r: Request) -> Json:
        """Every setting is replaced: one the new settings leave out is gone."""
        job = self._job(r.body["job_id"])
        self._tasks_run_on_known_clusters(r.body["new_settings"])
        job["settings"] = r.body["new_settings"]
        return {}

    def job_delete(self, r: Request) -> Json:
        self._job(r.body["job_id"])
        del self.jobs[int(r.body["job_id"])]
        return {}

    # --- workspace objects ---------------------------------------------------------------------

    @staticmethod
    def _clean_path(path: str) -> str:
        if not path.startswith("/") or "//" in path or (len(path) > 1 and path.endswith("/")):
            raise invalid(f"Path ({path}) is not a valid absolute workspace path")
        return path

    def _object(self, path: str) -> Json:
        if path not in self.objects:
            raise missing(f"Path ({path}) doesn't exist.")
        return self.objects[path]

    def _parent_must_be_directory(self, path: str) -> None:
        parent = path.rsplit("/", 1)[0] or "/"
        obj = self.objects.get(parent)
        if obj is None:
            raise missing(f"The parent folder ({parent}) does not exist.")
        if obj["object_type"] != "DIRECTORY":
            raise invalid(f"The parent ({parent}) is not a directory")

    def ws_mkdirs(self, r: Request) -> Json:
        path = self._clean_path(r.body["path"])
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/" + "/".join(parts[:i])
            obj = self.objects.get(sub)
            if obj is None:
                self.objects[sub] = {"object_type": "DIRECTORY", "object_id": self._next_id()}
            elif obj["object_type"] != "DIRECTORY":
                raise exists(f"Node named '{parts[i - 1]}' already exists")
        return {}

    def ws_import(self, r: Request) -> Json:
        path = self._clean_path(r.body["path"])
        fmt = r.body.get("format", "SOURCE")
        try:
            content = base64.b64decode(r.body.get("content", ""), validate=True)
        except ValueError:
            raise invalid("content is not valid base64") from None
        if fmt == "SOURCE" and "language" not in r.body:
            raise invalid("The language parameter is required for the SOURCE format")
        if fmt not in ("SOURCE", "AUTO"):
            raise invalid(f"the server only imports SOURCE and AUTO, got {fmt}")
        self._parent_must_be_directory(path)
        if path in self.objects and not r.body.get("overwrite", False):
            raise exists(f"Path ({path}) already exists.")
        old = self.objects.get(path)
        if old is not None and old["object_type"] in ("DIRECTORY", "REPO"):
            raise exists(f"Path ({path}) already exists and is a {old['object_type']}.")
        notebook = fmt == "SOURCE"
        self.objects[path] = {
            "object_type": "NOTEBOOK" if notebook else "FILE",
            "language": r.body.get("language") if notebook else None,
            "content": content.decode(),
            "object_id": self._next_id(),
        }
        return {}

    def ws_status(self, r: Request) -> Json:
        path = r.query.get("path", "")
        obj = self._object(path)
        return {
            "path": path,
            "object_type": obj["object_type"],
            "object_id": obj["object_id"],
            "language": obj.get("language"),
        }

    def ws_export(self, r: Request) -> Json:
        obj = self._object(r.query.get("path", ""))
        if obj["object_type"] not in ("NOTEBOOK", "FILE"):
            raise invalid(f"{obj['object_type']} cannot be exported")
        return {"content": _b64(obj["content"]), "file_type": "py"}

    def ws_obj_delete(self, r: Request) -> Json:
        path = r.body["path"]
        obj = self._object(path)
        children = [p for p in self.objects if p.startswith(path.rstrip("/") + "/")]
        if obj["object_type"] == "REPO":
            raise invalid(f"{path} is a repo; delete it with the repos API")
        if children and not r.body.get("recursive", False):
            raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty")
        for p in [path, *children]:
            self.objects.pop(p, None)
        return {}

    # --- repos -----------------------------------------------------------------------------------

    def _repo(self, r: Request) -> Json:
        rid = int(r.params["id"])
        if rid not in self.repos:
            raise missing(f"Repo {rid} does not exist")
        return self.repos[rid]

    def repo_create(self, r: Request) -> Json:
        path = self._clean_path(r.body.get("path") or f"/Repos/me/{r.body['url'].rsplit('/')[-1]}")
        if not r.body["url"].startswith("https://"):
            raise invalid(f"Invalid Git URL {r.body['url']}")
        self._parent_must_be_directory(path)
        if path in self.objects:
            raise exists(f"Path ({path}) already exists.")
        rid = self._next_id()
        repo = {
            "id": rid,
            "path": path,
            "url": r.body["url"],
            "provider": r.body["provider"],
            "branch": "main",
            "head_commit_id": secrets.token_hex(20),
        }
        self.repos[rid] = repo
        self.objects[path] = {"object_type": "REPO", "object_id": rid}
        return repo

    def repo_list(self, r: Request) -> Json:
        prefix = r.query.get("path_prefix", "")
        found = [x for x in self.repos.values() if x["path"].startswith(prefix)]
        items, token = _page(found, r.query.get("next_page_token"), self.page_size)
        return {"repos": items, "next_page_token": token}

    def repo_get(self, r: Request) -> Json:
        return self._repo(r)

    def repo_update(self, r: Request) -> Json:
        repo = self._repo(r)
        if "branch" in r.body:
            repo["branch"] = r.body["branch"]
        return {}

    def repo_delete(self, r: Request) -> Json:
        repo = self._repo(r)
        del self.repos[repo["id"]]
        self.objects.pop(repo["path"], None)
        return {}

    # --- pipelines -------------------------------------------------------------------------------

    def _pipeline(self, r: Request) -> Json:
        pid = r.params["id"]
        if pid not in self.pipelines:
            raise missing(f"Pipeline {pid} does not exist")
        return self.pipelines[pid]

    def pipe_create(self, r: Request) -> Json:
        if r.body.get("dry_run"):
            return {"effective_settings": r.body}
        pid = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-" + (
            secrets.token_hex(6)
        )
        self.pipelines[pid] = {"spec": {**r.body, "id": pid}, "state": "IDLE"}
        return {"pipeline_id": pid, "effective_settings": self.pipelines[pid]["spec"]}

    def pipe_list(self, r: Request) -> Json:
        rule = r.query.get("filter")
        like = None
        if rule is not None:
            m = re.fullmatch(r"\s*name\s+LIKE\s+'((?:[^']|'')*)'\s*", rule)
            if m is None:
                raise invalid(f"unsupported filter expression: {rule}")
            like = m.group(1).replace("''", "'")
        found = [
            {"pipeline_id": pid, "name": p["spec"].get("name"), "state": p["state"]}
            for pid, p in self.pipelines.items()
            if like is None or _like(like, p["spec"].get("name", ""))
        ]
        items, token = _page(found, r.query.get("page_token"), self.page_size)
        return {"statuses": items, "next_page_token": token}

    def pipe_get(self, r: Request) -> Json:
        p = self._pipeline(r)
        return {
            "pipeline_id": r.params["id"],
            "name": p["spec"].get("name"),
            "spec": p["spec"],
            "state": p["state"],
        }

    def pipe_update(self, r: Request) -> Json:
        p = self._pipeline(r)
        p["spec"] = {**r.body, "id": r.params["id"]}
        return {}

    def pipe_delete(self, r: Request) -> Json:
        self._pipeline(r)
        del self.pipelines[r.params["id"]]
        return {}

    # --- SQL warehouses and statements -----------------------------------------------------------

    def _warehouse(self, r: Request) -> Json:
        wid = r.params["id"]
        if wid not in self.warehouses:
            raise missing(f"SQL warehouse {wid} does not exist")
        return self.warehouses[wid]

    def wh_create(self, r: Request) -> Json:
        for key in ("name", "cluster_size", "max_num_clusters"):
            if key not in r.body:
                raise invalid(f"{key} is required")
        name = r.body["name"]
        if any(w["name"] == name for w in self.warehouses.values()):
            raise exists(f"SQL warehouse with name '{name}' already exists")
        wid = secrets.token_hex(8)
        self.warehouses[wid] = {**r.body, "id": wid, "state": "STARTING"}
        return {"id": wid}

    def wh_list(self, r: Request) -> Json:
        items, token = _page(
            list(self.warehouses.values()), r.query.get("page_token"), self.page_size
        )
        return {"warehouses": items, "next_page_token": token}

    def wh_get(self, r: Request) -> Json:
        return self._warehouse(r)

    def wh_edit(self, r: Request) -> Json:
        self._warehouse(r).update(r.body)
        return {}

    def wh_delete(self, r: Request) -> Json:
        self._warehouse(r)
        del self.warehouses[r.params["id"]]
        return {}

    def sql_execute(self, r: Request) -> Json:
        if r.body["warehouse_id"] not in self.warehouses:
            raise missing(f"SQL warehouse {r.body['warehouse_id']} does not exist")
        sid = f"01ef-{secrets.token_hex(8)}"
        try:
            self._run_sql(r.body["statement"])
        except SqlFailure as failure:
            return {
                "statement_id": sid,
                "status": {
                    "state": "FAILED",
                    "sql_state": failure.sql_state,
                    "error": {"error_code": "BAD_REQUEST", "message": str(failure)},
                },
            }
        return {"statement_id": sid, "status": {"state": "SUCCEEDED"}}

    def _run_sql(self, statement: str) -> None:
        parsed = parse_create_table(statement)
        catalog_name, schema_name, name = parsed["full_name"]
        full = f"{catalog_name}.{schema_name}.{name}"
        if f"{catalog_name}.{schema_name}" not in self.schemas:
            raise SqlFailure(
                f"[SCHEMA_NOT_FOUND] The schema `{catalog_name}`.`{schema_name}` cannot be found.",
                "42704",
            )
        if full in self.tables:
            raise SqlFailure(
                f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view `{catalog_name}`."
                f"`{schema_name}`.`{name}` because it already exists.",
                "42P07",
            )
        self.tables[full] = {
            "name": name,
            "catalog_name": catalog_name,
            "schema_name": schema_name,
            "full_name": full,
            "table_type": "MANAGED",
            "data_source_format": parsed["format"],
            "columns": parsed["columns"],
            "comment": parsed.get("comment"),
            "properties": parsed["properties"],
            "table_id": secrets.token_hex(8),
        }

    # --- Unity Catalog ---------------------------------------------------------------------------

    @staticmethod
    def _uc_name(name: str) -> str:
        if not _UC_NAME.fullmatch(name):
            raise invalid(f"Invalid name '{name}'")
        return name.lower()  # Unity Catalog keeps names in lower case

    def uc_catalog_create(self, r: Request) -> Json:
        name = self._uc_name(r.body["name"])
        if name in self.catalogs:
            raise exists(f"Catalog '{name}' already exists")
        self.catalogs[name] = {
            **r.body,
            "name": name,
            "full_name": name,
            "catalog_type": "MANAGED_CATALOG",
        }
        return self.catalogs[name]

    def _uc_get(self, store: dict[str, Json], what: str, name: str) -> Json:
        if name.lower() not in store:
            raise missing(f"{what} '{name}' does not exist.")
        return store[name.lower()]

    def uc_catalog_get(self, r: Request) -> Json:
        return self._uc_get(self.catalogs, "Catalog", r.params["name"])

    def _not_empty(self, prefix: str, what: str, force: bool) -> None:
        inner = [k for k in [*self.schemas, *self.tables, *self.volumes] if k.startswith(prefix)]
        if inner and not force:
            raise invalid(f"{what} is not empty; it contains {inner[0]}")
        for store in (self.schemas, self.tables, self.volumes):
            for k in [k for k in store if k.startswith(prefix)]:
                del store[k]

    def _uc_update(self, store: dict[str, Json], what: str, r: Request) -> Json:
        """The fields the request gives replace the stored ones; the others stay."""
        info = self._uc_get(store, what, r.params["name"])
        if "new_name" in r.body:
            raise invalid(f"this server does not rename a {what.lower()}")
        info.update(r.body)
        return info

    def uc_catalog_update(self, r: Request) -> Json:
        return self._uc_update(self.catalogs, "Catalog", r)

    def uc_catalog_delete(self, r: Request) -> Json:
        cat = self._uc_get(self.catalogs, "Catalog", r.params["name"])
        self._not_empty(
            cat["name"] + ".", f"Catalog '{cat['name']}'", r.query.get("force") == "true"
        )
        del self.catalogs[cat["name"]]
        return {}

    def uc_schema_create(self, r: Request) -> Json:
        cat = self._uc_get(self.catalogs, "Catalog", r.body["catalog_name"])
        name = self._uc_name(r.body["name"])
        full = f"{cat['name']}.{name}"
        if full in self.schemas:
            raise exists(f"Schema '{full}' already exists")
        self.schemas[full] = {
            **r.body,
            "name": name,
            "catalog_name": cat["name"],
            "full_name": full,
        }
        return self.schemas[full]

    def uc_schema_get(self, r: Request) -> Json:
        return self._uc_get(self.schemas, "Schema", r.params["name"])

    def uc_schema_update(self, r: Request) -> Json:
        return self._uc_update(self.schemas, "Schema", r)

    def uc_schema_delete(self, r: Request) -> Json:
        sch = self._uc_get(self.schemas, "Schema", r.params["name"])
        self._not_empty(
            sch["full_name"] + ".", f"Schema '{sch['full_name']}'", r.query.get("force") == "true"
        )
        del self.schemas[sch["full_name"]]
        return {}

    def _uc_child(self, r: Request, what: str, store: dict[str, Json]) -> tuple[str, Json]:
        parent = self._uc_get(
            self.schemas, "Schema", f"{r.body['catalog_name']}.{r.body['schema_name']}"
        )
        name = self._uc_name(r.body["name"])
        full = f"{parent['full_name']}.{name}"
        if full in self.tables or full in self.volumes:
            raise exists(f"{what} '{full}' already exists")
        info = {
            **r.body,
            "name": name,
            "catalog_name": parent["catalog_name"],
            "schema_name": parent["name"],
            "full_name": full,
        }
        return full, info

    def uc_table_create(self, r: Request) -> Json:
        # The public create-table API makes external Delta tables only.
        if r.body["table_type"] != "EXTERNAL" or r.body["data_source_format"] != "DELTA":
            raise invalid("Only EXTERNAL tables in DELTA format can be created with this API")
        full, info = self._uc_child(r, "Table", self.tables)
        self.tables[full] = {**info, "table_id": secrets.token_hex(8)}
        return self.tables[full]

    def uc_table_get(self, r: Request) -> Json:
        return self._uc_get(self.tables, "Table", r.params["name"])

    def uc_table_delete(self, r: Request) -> Json:
        t = self._uc_get(self.tables, "Table", r.params["name"])
        del self.tables[t["full_name"]]
        return {}

    def uc_volume_create(self, r: Request) -> Json:
        external = r.body["volume_type"] == "EXTERNAL"
        if external != ("storage_location" in r.body):
            raise invalid("storage_location is required for EXTERNAL volumes and only for them")
        full, info = self._uc_child(r, "Volume", self.volumes)
        self.volumes[full] = {**info, "volume_id": secrets.token_hex(8)}
        return self.volumes[full]

    def uc_volume_get(self, r: Request) -> Json:
        return self._uc_get(self.volumes, "Volume", r.params["name"])

    def uc_volume_update(self, r: Request) -> Json:
        return self._uc_update(self.volumes, "Volume", r)

    def uc_volume_delete(self, r: Request) -> Json:
        v = self._uc_get(self.volumes, "Volume", r.params["name"])
        del self.volumes[v["full_name"]]
        return {}

    # --- secrets ---------------------------------------------------------------------------------

    def _scope(self, name: str) -> Json:
        if name.lower() not in self.scopes:
            raise missing(f"Scope {name} does not exist!")
        return self.scopes[name.lower()]

    def scope_create(self, r: Request) -> Json:
        name = r.body["scope"]
        if not _SCOPE_NAME.fullmatch(name):
            raise invalid(f"Scope name '{name}' is invalid")
        if name.lower() in self.scopes:
            raise exists(f"Scope {name} already exists!")
        backend = r.body.get("scope_backend_type", "DATABRICKS")
        self.scopes[name.lower()] = {"name": name, "backend_type": backend, "secrets": {}}
        return {}

    def scope_list(self, r: Request) -> Json:
        return {
            "scopes": [
                {"name": s["name"], "backend_type": s["backend_type"]} for s in self.scopes.values()
            ]
        }

    def scope_delete(self, r: Request) -> Json:
        del self.scopes[self._scope(r.body["scope"])["name"].lower()]
        return {}

    def secret_put(self, r: Request) -> Json:
        scope = self._scope(r.body["scope"])
        if ("string_value" in r.body) == ("bytes_value" in r.body):
            raise invalid("exactly one of string_value and bytes_value is required")
        value = r.body.get("string_value")
        scope["secrets"][r.body["key"]] = (
            _b64(value) if value is not None else r.body["bytes_value"]
        )
        return {}

    def secret_get(self, r: Request) -> Json:
        scope = self._scope(r.query.get("scope", ""))
        key = r.query.get("key", "")
        if key not in scope["secrets"]:
            raise missing(f"Secret {key} does not exist in scope {scope['name']}")
        return {"key": key, "value": scope["secrets"][key]}

    # --- instance pools --------------------------------------------------------------------------

    def _pool(self, pool_id: str | None) -> Json:
        if pool_id not in self.pools:
            raise missing(f"Instance pool {pool_id} does not exist")
        return self.pools[pool_id]

    def pool_create(self, r: Request) -> Json:
        name = r.body["instance_pool_name"]
        if any(p["instance_pool_name"] == name for p in self.pools.values()):
            raise exists(f"Instance pool with name '{name}' already exists")
        pid = f"0101-{self._next_id():06d}-pool-{secrets.token_hex(4)}"
        self.pools[pid] = {**r.body, "instance_pool_id": pid, "state": "ACTIVE"}
        return {"instance_pool_id": pid}

    def pool_list(self, r: Request) -> Json:
        return {"instance_pools": list(self.pools.values())}

    def pool_get(self, r: Request) -> Json:
        return self._pool(r.query.get("instance_pool_id"))

    def pool_edit(self, r: Request) -> Json:
        pool = self._pool(r.body["instance_pool_id"])
        if r.body["node_type_id"] != pool["node_type_id"]:
            raise invalid("node_type_id cannot be changed")
        pool.update(r.body)
        return {}

    def pool_delete(self, r: Request) -> Json:
        self._pool(r.body["instance_pool_id"])
        del self.pools[r.body["instance_pool_id"]]
        return {}

    # --- cluster policies ------------------------------------------------------------------------

    def _policy(self, policy_id: str | None) -> Json:
        if policy_id not in self.policies:
            raise missing(f"Policy {policy_id} does not exist")
        return self.policies[policy_id]

    def _check_policy(self, body: Json, policy_id: str | None) -> None:
        name = body.get("name")
        if not name:
            raise invalid("name is required")
        if any(p["name"] == name and pid != policy_id for pid, p in self.policies.items()):
            raise exists(f"Policy with name {name} already exists")
        try:
            json.loads(body.get("definition", "{}"))
        except json.JSONDecodeError:
            raise invalid("definition is not a JSON document") from None

    def policy_create(self, r: Request) -> Json:
        self._check_policy(r.body, None)
        pid = secrets.token_hex(8).upper()
        self.policies[pid] = {**r.body, "policy_id": pid}
        return {"policy_id": pid}

    def policy_list(self, r: Request) -> Json:
        return {"policies": list(self.policies.values())}

    def policy_get(self, r: Request) -> Json:
        return self._policy(r.query.get("policy_id"))

    def policy_edit(self, r: Request) -> Json:
        """An edit replaces the policy: a field it leaves out is gone."""
        pid = r.body["policy_id"]
        self._policy(pid)
        self._check_policy(r.body, pid)
        self.policies[pid] = dict(r.body)
        return {}

    def policy_delete(self, r: Request) -> Json:
        self._policy(r.body["policy_id"])
        del self.policies[r.body["policy_id"]]
        return {}


def _shape(response: Any, answer: Any) -> Any:
    """Pass an answer through the SDK's own response dataclass."""
    if response is None:
        return {}
    if isinstance(answer, list):
        return [response.from_dict(a).as_dict() for a in answer]
    return response.from_dict(answer).as_dict()


# --------------------------------------------------------------------------- SQL (a small subset)


class SqlFailure(Exception):
    def __init__(self, message: str, sql_state: str) -> None:
        super().__init__(message)
        self.sql_state = sql_state


_TOKEN = re.compile(
    r"\s*(?:(?P<ident>`(?:[^`]|``)*`)|(?P<string>'(?:[^'\\]|\\.)*')|(?P<word>[A-Za-z_][\w]*)"
    r"|(?P<number>\d+)|(?P<punct>[(),.<>:=]))"
)


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise SqlFailure(
                f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{text[pos:]}'", "42601"
            )
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "ident":
            raw = raw[1:-1].replace("``", "`")
        elif kind == "string":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        yield kind, raw
        pos = m.end()


def parse_create_table(statement: str) -> Json:
    """`CREATE TABLE c.s.t (col TYPE [COMMENT '...'], ...) [USING fmt] [PARTITIONED BY (...)]
    [COMMENT '...'] [TBLPROPERTIES ('k' = 'v', ...)]`: the statements a client sends to make a
    managed Unity Catalog table."""
    toks = list(_tokens(statement))
    pos = 0

    def peek() -> tuple[str, str]:
        return toks[pos] if pos < len(toks) else ("end", "")

    def take(kind: str | None = None, word: str | None = None) -> str:
        nonlocal pos
        k, v = peek()
        if (kind and k != kind) or (word and v.upper() != word):
            raise SqlFailure(f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{v}'", "42601")
        pos += 1
        return v

    def name() -> str:
        k, _ = peek()
        return take("ident" if k == "ident" else "word")

    take("word", "CREATE")
    take("word", "TABLE")
    parts = [name()]
    while peek() == ("punct", "."):
        take()
        parts.append(name())
    if len(parts) != 3:
        raise SqlFailure("[REQUIRES_SINGLE_PART_NAMESPACE] use catalog.schema.table", "42K05")
    out: Json = {"full_name": [p.lower() for p in parts], "format": "DELTA", "properties": {}}
    columns: list[Json] = []
    take("punct", "(")
    while True:
        col = name()
        depth, type_text = 0, ""
        while True:
            k, v = peek()
            if k == "end" or (depth == 0 and (v in (",", ")") or v.upper() in ("COMMENT", "NOT"))):
                break
            depth += {"<": 1, "(": 1, ">": -1, ")": -1}.get(v, 0) if k == "punct" else 0
            type_text += take()
        entry: Json = {
            "name": col,
            "type_text": type_text.lower(),
            "position": len(columns),
            "type_name": type_text.split("<")[0].split("(")[0].upper(),
            "nullable": True,
        }
        if peek()[1].upper() == "NOT":
            take()
            take("word", "NULL")
            entry["nullable"] = False
        if peek()[1].upper() == "COMMENT":
            take()
            entry["comment"] = take("string")
        columns.append(entry)
        if take("punct") == ")":
            break
    out["columns"] = columns
    while peek()[0] != "end":
        word = take("word").upper()
        if word == "USING":
            out["format"] = take("word").upper()
        elif word == "PARTITIONED":
            take("word", "BY")
            take("punct", "(")
            while take() != ")":
                pass
        elif word == "COMMENT":
            out["comment"] = take("string")
        elif word == "TBLPROPERTIES":
            take("punct", "(")
            while True:
                key = take("string")
                take("punct", "=")
                out["properties"][key] = take("string")
                if take("punct") == ")":
                    break
        else:
            raise SqlFailure(f"[PARSE_SYNTAX_ERROR] Syntax error at or near '{word}'", "42601")
    return out


# --------------------------------------------------------------------------- HTTP


def _handler_for(server: DatabricksTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # one write per answer: headers and body leave together

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are kept in `server.requests`, never with their headers

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, e: ApiError, headers: dict[str, str] | None = None) -> None:
            self._send(e.status, {"error_code": e.error_code, "message": e.message}, headers)

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            if url.path == "/.well-known/databricks-config":
                meta = HostMetadata(oidc_endpoint="", account_id=server.account_id)
                self._send(200, {k: v for k, v in meta.as_dict().items() if v is not None})
                return
            if self.headers.get("Authorization") != f"Bearer {server.token}":
                self._log(url.path, 401)
                self._error(ApiError(401, "UNAUTHENTICATED", "Invalid access token."))
                return
            fault = server._take_fault(self.command, url.path)
            if fault is not None and fault.kind != "lose":
                self._log(url.path, fault.status)
                codes = {429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE"}
                headers = (
                    {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                )
                err = ApiError(
                    fault.status,
                    codes.get(fault.status, "INTERNAL_ERROR"),
                    f"injected {fault.kind} fault",
                )
                self._error(err, headers)
                return
            try:
                answer: Any = server.dispatch(self.command, url.path, url.query, raw_body)
                status = 200
            except ApiError as e:
                answer, status = e, e.status
            if fault is not None:  # the call was performed; its answer is lost
                self._log(url.path, 0 if fault.drop else 500)
                if fault.drop:
                    self.close_connection = True
                    return
                self._error(ApiError(500, "INTERNAL_ERROR", "injected lost response"))
                return
            self._log(url.path, status)
            if isinstance(answer, ApiError):
                self._error(answer)
            else:
                self._send(200, answer)

        def _log(self, path: str, status: int) -> None:
            with server.lock:
                server.requests.append((self.command, path, status))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
