"""Secret scopes (`dbx_secret_scope`), through `w.secrets`.

A scope has no tags and no text of ours: dpn's marks are a secret `dpn-marker` inside it,
written right after the scope (`secrets.put_secret`). If that fails, the scope is removed
again, since unmarked it could never be told apart from someone else's. A create killed
between the two calls leaves an unmarked scope, which recovery deals with
(`providers.base.marked_after_create`). Scope names are case-insensitive.
"""

from __future__ import annotations

import logging
from typing import Any

from dpn_action.providers.base import Operation, ResourceState
from dpn_action.providers.databricks.kind import Kind, created
from dpn_action.providers.databricks.marks import Marks, mark_text, parse_mark_text
from dpn_action.providers.databricks.sdk import Context, b64decode, build, gone

log = logging.getLogger(__name__)

#: the secret that holds a secret scope's marks
SCOPE_MARKER_KEY = "dpn-marker"


class ScopeMarks(Marks):
    """A secret inside the scope."""

    late = True

    def get(self, p: Context, obj: Any, name: str) -> dict[str, str]:
        try:
            secret = p.workspace_client.secrets.get_secret(scope=obj.name, key=SCOPE_MARKER_KEY)
        except Exception as exc:
            if gone(exc):
                return {}
            raise
        return parse_mark_text(b64decode(secret.value or ""))


def _create_secret_scope(
    c: Context, kind: Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
) -> ResourceState:
    from databricks.sdk.service.workspace import ScopeBackendType

    props = kind.properties(op)
    principal = props.get("initial_manage_principal")
    backend = props.get("backend_type")
    secrets = c.workspace_client.secrets
    secrets.create_scope(
        scope=op.name,
        initial_manage_principal=str(principal) if principal else None,
        scope_backend_type=build(ScopeBackendType, backend) if backend else None,
    )
    try:
        secrets.put_secret(scope=op.name, key=SCOPE_MARKER_KEY, string_value=mark_text(marks))
    except Exception:
        # Unmarked, the scope could never be told apart from someone else's: remove it.
        try:
            secrets.delete_scope(scope=op.name)
        except Exception as exc:
            if not gone(exc):
                log.warning("could not remove unmarked secret scope %s: %s", op.name, exc)
        raise
    return created(kind, op, op.name, marks)


SECRET_SCOPE = Kind(
    type_key="dbx_secret_scope",
    procedure=_create_secret_scope,
    own_properties=frozenset({"initial_manage_principal", "backend_type"}),
    marks=ScopeMarks(),
    lister=lambda c, name: c.workspace_client.secrets.list_scopes(),
    lists_all=True,
    id_attr="name",
    delete=lambda c, scope: c.workspace_client.secrets.delete_scope(scope=scope),
)

KINDS = (SECRET_SCOPE,)
