"""`DatabricksProvider`: the provider protocol (`providers.base`) over the 14 `dbx_*` types.

The provider holds the clients and the machinery every type shares: create (read first;
adopt this transaction's own lost create; a name taken by someone else is a conflict; a twin
made by a re-sent create is removed), read and locate by name, delete and archive, tags, and
settings changed in place. What differs between types is the data of their `Kind`s
(`registry.KINDS`), the SDK calls included.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Operation,
    ResourceState,
)
from dpn_action.providers.databricks.kind import Change, Kind, created, target
from dpn_action.providers.databricks.marks import MARK_KEYS, TagMap, attr
from dpn_action.providers.databricks.registry import (
    ARCHIVE_TYPES,
    HANDLED,
    LATE_MARKED_TYPES,
    MARK_TYPES,
    SETTINGS_TYPES,
    TAG_TYPES,
    kind_of,
)
from dpn_action.providers.databricks.sdk import Kw, gone, taken
from dpn_action.providers.databricks.settings import (
    at,
    blank,
    coerce,
    differs,
    field_hints,
    plain,
)

if TYPE_CHECKING:
    from databricks.sdk import AccountClient, WorkspaceClient
    from databricks.sdk.config import Config

log = logging.getLogger("dpn_action.providers.databricks")

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


class DatabricksProvider:
    """Create, read, delete and tag the 14 Databricks resource types, and change the settings
    of nine of them in place."""

    name = "databricks"
    tag_types = TAG_TYPES
    archive_types = ARCHIVE_TYPES
    late_marked_types = LATE_MARKED_TYPES
    settings_types = SETTINGS_TYPES
    handled = HANDLED
    mark_types = MARK_TYPES

    def __init__(
        self,
        workspace_client: WorkspaceClient | None = None,
        account_client: AccountClient | None = None,
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

    # --- clients -------------------------------------------------------------------------

    @property
    def workspace_client(self) -> WorkspaceClient:
        with self._lock:
            if self._w is None:
                from databricks.sdk import WorkspaceClient

                self._w = WorkspaceClient(config=self._config())
            return self._w

    @property
    def account_client(self) -> AccountClient:
        with self._lock:
            if self._a is None:
                from databricks.sdk import AccountClient

                self._a = AccountClient(config=self._config())
            return self._a

    def _config(self) -> Config:
        from databricks.sdk.config import Config

        return Config(
            retry_timeout_seconds=self.retry_timeout_seconds,
            http_timeout_seconds=self.http_timeout_seconds,
        )

    # --- the protocol ----------------------------------------------------------------------

    def create(
        self, op: Operation, txn_id: str, resolved: dict[str, ResourceState]
    ) -> ResourceState:
        kind = kind_of(op.type_key)
        existing = self.read(op.type_key, op.name, op.scope)
        if existing is not None:
            return self._ours_or_conflict(kind, op, existing, txn_id)
        marks = {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn_id}
        try:
            if kind.procedure is not None:
                state = kind.procedure(self, kind, op, marks, resolved)
            else:
                assert kind.create is not None
                resource_id = kind.create(self, self._kwargs(kind, op, marks, resolved))
                state = created(kind, op, resource_id, marks)
        except Exception as exc:
            if not taken(exc):
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
        states = self._find(kind_of(type_key), name, scope)
        owned = [s for s in states if s.managed_by_dpn]
        return (owned or states)[0] if states else None

    def locate(self, state: ResourceState) -> ResourceState | None:
        """What holds `state`'s name now: the resource with its id when there is one (some
        names repeat: two clusters may share one), else another under the name, else None."""
        found = self._find(kind_of(state.type_key), state.name, dict(state.scope))
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
        kind = kind_of(state.type_key)
        try:
            kind.delete(self, state.resource_id)
        except Exception as exc:
            if not gone(exc):
                raise
        kind.marks.forget(self, state)

    def archive(self, state: ResourceState) -> None:
        """Stop the resource but keep it (a cluster is terminated, not deleted). Types in
        `archive_types` only; archiving what is already gone is success."""
        kind = kind_of(state.type_key)
        if kind.archive is None:
            raise ValueError(f"archive is not supported for {state.type_key}")
        try:
            kind.archive(self, state.resource_id)
        except Exception as exc:
            if not gone(exc):
                raise

    def tag(self, state: ResourceState, tags: dict[str, str]) -> None:
        kind = kind_of(state.type_key)
        if not tags or not kind.has_tags or kind.change is None:
            return
        assert isinstance(kind.marks, TagMap)
        current = self._get(kind, state.resource_id)
        merged = {**kind.marks.get(self, current, state.name), **tags}
        fields = {kind.marks.param: kind.marks.shape(merged)}
        self._change(kind, kind.change, state.resource_id, current, fields)

    def mark(self, state: ResourceState, marks: dict[str, str]) -> ResourceState:
        """Add dpn's ownership marks to an existing resource's tags (`dpn adopt`); the other
        tags and every setting stay as they are."""
        if state.type_key not in self.mark_types:
            raise ValueError(f"{state.type_key} keeps no tags dpn can add marks to")
        self.tag(state, {k: marks[k] for k in MARK_KEYS if k in marks})
        found = self.locate(state)
        if found is None:
            raise ValueError(f"{state.type_key} {state.name}: gone while it was marked")
        return found

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
        kind = kind_of(op.type_key)
        change = kind.settings_change or kind.change
        if not kind.settings or change is None:
            return []
        current = self._get(kind, state.resource_id)
        definition = attr(current, kind.definition) if kind.definition else current
        have = plain(definition)
        props = dict(op.properties)
        for prop in kind.kept:
            if props.get(prop) is None:
                props[prop] = at(have, kind.setting_path(prop))
        marks = kind.marks.get(self, current, state.name)
        marks = {k: marks[k] for k in MARK_KEYS if k in marks}
        kwargs = self._kwargs(kind, replace(op, properties=props), marks, resolved)
        hints = field_hints(type(definition))
        want = {k: plain(coerce(hints.get(k, Any), v)) for k, v in kwargs.items()}
        changed = sorted(
            p
            for p in kind.settings
            if differs(kind, p, op.properties.get(p) is not None, hints, want, have)
        )
        if changed and not dry_run:
            params = sorted({kind.setting_path(p).split(".")[0] for p in changed})
            fields = {k: kind.unset.get(k) if blank(kwargs.get(k)) else kwargs[k] for k in params}
            self._change(kind, change, state.resource_id, current, fields)
        return changed

    def _get(self, kind: Kind, resource_id: str) -> Any:
        if kind.get_by_id is None:
            raise ValueError(f"{kind.type_key} cannot be read by its id")
        return kind.get_by_id(self, resource_id)

    def _change(
        self, kind: Kind, change: Change, resource_id: str, current: Any, fields: Kw
    ) -> None:
        definition = attr(current, kind.definition) if kind.definition else current
        change.apply(self, resource_id, definition, fields)

    # --- create arguments and finding by name ----------------------------------------------

    def _kwargs(
        self, kind: Kind, op: Operation, marks: dict[str, str], resolved: dict[str, ResourceState]
    ) -> Kw:
        """The create call's arguments, in the SDK's JSON form."""
        kw: Kw = {kind.name_param: op.name}
        for prop, param in kind.params.items():
            if op.properties.get(prop) is not None:
                kw[param] = op.properties[prop]
        for param, value in kind.defaults.items():
            kw.setdefault(param, value)
        for ref, (param, what) in kind.refs.items():
            if ref in op.refs:
                found = target(op, resolved, op.refs[ref])
                kw[param] = found.resource_id if what == "id" else found.name
        for key, param in kind.scope_params.items():
            kw[param] = op.scope[key]
        if kind.prepare is not None:
            kind.prepare(self, kw, op, resolved)
        kind.marks.put(kw, marks, dict(op.tags))
        return kw

    def _find(self, kind: Kind, name: str, scope: dict[str, str]) -> list[ResourceState]:
        """Every resource of the kind with this name (Databricks lets some names repeat)."""
        if kind.getter is not None:
            try:
                objs = [kind.getter(self, kind.full_name(name, scope))]
            except Exception as exc:
                if gone(exc):
                    return []
                raise
        else:
            assert kind.lister is not None
            listed = kind.lister(self, name)
            objs = [o for o in listed if kind.named(name, attr(o, kind.name_attr))]
            if kind.detail is not None:
                objs = [kind.detail(self, o) for o in objs]
        return [
            ResourceState(
                kind.type_key,
                name,
                str(attr(o, kind.id_attr)),
                kind.marks.get(self, o, name),
                dict(scope),
            )
            for o in objs
        ]

    def _ours_or_conflict(
        self, kind: Kind, op: Operation, found: ResourceState, txn_id: str
    ) -> ResourceState:
        if found.managed_by_dpn and found.transaction_id == txn_id:
            kind.marks.confirm(self, found, {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn_id})
            return found
        raise ResourceConflict(op.type_key, op.name, found)

    def _remove_own_duplicates(self, kind: Kind, state: ResourceState, txn_id: str) -> None:
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
