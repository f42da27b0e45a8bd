"""The Databricks provider: the 14 `dbx_*` types through databricks-sdk.

Workspace-level types go through a `WorkspaceClient`, the workspace itself through an
`AccountClient` (`a.workspaces.create`). Both are built from the standard Databricks
configuration (`DATABRICKS_HOST`, `DATABRICKS_TOKEN`, a profile in `~/.databrickscfg`, ...)
the first time they are needed, so importing this package costs nothing and `databricks.sdk`
(about 3 s to import) is only loaded by a command that really talks to Databricks: no module
of the package imports it at module level.

One module per service, assembled by a registry:

| module | what lives there |
|---|---|
| `provider` | `DatabricksProvider`: create, read, delete, archive, tag, update, alike for all |
| `registry` | the `Kind`s of the service modules, and the type sets derived from them |
| `kind` | `Kind`, the data of one type, and how changes in place are sent |
| `marks` | where dpn's ownership marks live, type by type |
| `settings` | comparing a resource's settings with the blueprint (`dpn update`) |
| `sdk` | the clients a service module is given, SDK objects from JSON, SDK errors, retries |
| `account` | workspaces (account API) |
| `compute` | clusters, instance pools, cluster policies |
| `jobs` | jobs |
| `pipelines` | Lakeflow declarative pipelines |
| `warehouses` | SQL warehouses |
| `workspace_objects` | notebooks, repos (and repo sidecars) |
| `secrets` | secret scopes |
| `unity_catalog`, `tables` | catalogs, schemas, tables, volumes; the two ways a table is made |

Each service module writes its SDK calls as plain, typed calls on the SDK's service objects,
so mypy checks them against databricks-sdk's own signatures.
"""

from __future__ import annotations

from dpn_action.providers.databricks.marks import MARK_KEYS, mark_text, parse_mark_text
from dpn_action.providers.databricks.provider import (
    DEFAULT_MARKER_ROOT,
    DatabricksProvider,
    ResourceConflict,
)
from dpn_action.providers.databricks.registry import (
    ARCHIVE_TYPES,
    HANDLED,
    KINDS,
    LATE_MARKED_TYPES,
    SETTINGS_TYPES,
    TAG_TYPES,
)
from dpn_action.providers.databricks.secrets import SCOPE_MARKER_KEY
from dpn_action.providers.databricks.tables import StatementFailed, create_table_sql

__all__ = [
    "ARCHIVE_TYPES",
    "DEFAULT_MARKER_ROOT",
    "HANDLED",
    "KINDS",
    "LATE_MARKED_TYPES",
    "MARK_KEYS",
    "SCOPE_MARKER_KEY",
    "SETTINGS_TYPES",
    "TAG_TYPES",
    "DatabricksProvider",
    "ResourceConflict",
    "StatementFailed",
    "create_table_sql",
    "mark_text",
    "parse_mark_text",
]
