"""`DatabricksProvider`: the provider protocol (`providers.base`) over the 14 `dbx_*` types.

The provider holds the clients and the machinery every type shares: create (read first;
adopt this transaction's own lost create; a name taken by someone else is a conflict; a twin
made by a re-sent create is removed), read and locate by name, delete and archive, tags, and
settings changed in place. What differs between types is the data of their `Kind`s
(`registry.KINDS`), the SDK calls included.

Timeouts. Every call waits `HTTP_TIMEOUT` to connect and for its answer (the SDK takes one
number for both; the SQL statement that creates a managed table is answered after up to
50 s) and is retried by the SDK for `RETRY_TIMEOUT` (429 and 503 with `Retry-After`,
dropped connections). Before any of that, `whoami` asks the workspace who the credentials
are (its current user) with `CHECK_*`, so a host that does not answer, or refuses the
credentials, fails within seconds, once, as a `CloudAccessError`. While the SDK resolves
its configuration it looks up the host's metadata (best effort: without it the SDK goes on
with the configuration it has); that look-up gets `PROBE_*`, or an unreachable host would
hold every command for the full retry time first.
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
    Listed,
    Operation,
    ResourceState,
)
from dpn_action.providers.databricks.access import access_error, quiet_metadata_warning
from dpn_action.providers.databricks.kind import Change, Kind, created, target
from dpn_action.providers.databricks.marks import MARK_KEYS, TagMap, attr
from dpn_action.providers.databricks.registry import (
    ARCHIVE_TYPES,
    HANDLED,
    LATE_MARKED_TYPES,
    LISTING_TYPES,
    MARK_TYPES,
    SETTINGS_TYPES,
    SURVEY_TYPES,
    TAG_TYPES,
    kind_of,
)
from dpn_action.providers.databricks.sdk import Kw, gone, refuse_unknown_keys, taken
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

#: seconds every call waits to connect and for an answer, and keeps being retried
HTTP_TIMEOUT = 60
RETRY_TIMEOUT = 120
#: the same for the access check (the current user): a try waits at most 4 s, and another
#: starts only within 2 s of the first (the SDK sleeps 1-2 s between tries), so a host that
#: never answers fails after about 5.5 s, a refused connection after at most 5 s
CHECK_HTTP_TIMEOUT = 4
CHECK_RETRY_TIMEOUT = 2
#: the same for the SDK's look-up of the host's metadata while it is configured: one try
PROBE_HTTP_TIMEOUT = 2
PROBE_RETRY_TIMEOUT = 1


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
    survey_types = SURVEY_TYPES
    listing_types = LISTING_TYPES
    #: `create(..., absent=True)`: see `providers.base.create_absent`
    trusts_preflight = True
    mark_types = MARK_TYPES

    def __init__(
        self,
        workspace_client: WorkspaceClient | None = None,
        account_client: AccountClient | None = None,
        *,
        warehouse_id: str | None = None,
        repos_folder: str = "dpn",
        marker_root: str = DEFAULT_MARKER_ROOT,
        retry_timeout_seconds: int = RETRY_TIMEOUT,
        http_timeout_seconds: int = HTTP_TIMEOUT,
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
        # clients with the access check's short timeouts (the given clients, when given)
        self._w_check = workspace_client
        self._a_check = account_client
        self._who: dict[str, str] | None = None

    # --- clients -------------------------------------------------------------------------

    @property
    def workspace_client(self) -> WorkspaceClient:
        with self._lock:
            if self._w is None:
                self._w, self._w_check = self._clients("workspace")
            return self._w

    @property
    def account_client(self) -> AccountClient:
        with self._lock:
            if self._a is None:
                self._a, self._a_check = self._clients("account")
            return self._a

    def _check_client(self, level: str) -> Any:
        """The client of `level` (workspace, account) the access check uses."""
        with self._lock:
            if level == "workspace":
                if self._w_check is None:
                    self._w, self._w_check = self._clients(level)
                return self._w_check
            if self._a_check is None:
                self._a, self._a_check = self._clients(level)
            return self._a_check

    def _clients(self, level: str) -> tuple[Any, Any]:
        """Two clients of `level` over one configuration: one for the work, one with the
        access check's short timeouts (the SDK fixes a client's timeouts when it is made)."""
        from databricks.sdk import AccountClient, WorkspaceClient

        make = WorkspaceClient if level == "workspace" else AccountClient
        config = self._config()
        config.http_timeout_seconds = CHECK_HTTP_TIMEOUT
        config.retry_timeout_seconds = CHECK_RETRY_TIMEOUT
        check = make(config=config)
        config.http_timeout_seconds = self.http_timeout_seconds
        config.retry_timeout_seconds = self.retry_timeout_seconds
        return make(config=config), check

    def _config(self) -> Config:
        """The standard Databricks configuration, resolved with the probe's timeouts."""
        from databricks.sdk.config import Config

        with quiet_metadata_warning():
            return Config(
                retry_timeout_seconds=PROBE_RETRY_TIMEOUT,
                http_timeout_seconds=PROBE_HTTP_TIMEOUT,
            )

    # --- the protocol ----------------------------------------------------------------------

    def create(
        self,
        op: Operation,
        txn_id: str,
        resolved: dict[str, ResourceState],
        *,
        absent: bool = False,
    ) -> ResourceState:
        """Read first, unless the transaction's pre-flight has just found the name free
        (`absent`): a name taken since is refused by the create (unique names), or becomes a
        second resource of that name that is not dpn's and is never touched."""
        kind = kind_of(op.type_key)
        existing = None if absent else self.read(op.type_key, op.name, op.scope)
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

    def survey(
        self, type_key: str, scope: dict[str, str], names: list[str]
    ) -> dict[str, ResourceState | None]:
        """What one listing of the type says of each of `names`: None where it holds none of
        that name, else the resource (ours first, as `read` answers)."""
        kind = kind_of(type_key)
        if not kind.lists_all or kind.lister is None:
            return {}
        listed = list(kind.lister(self, ""))
        out: dict[str, ResourceState | None] = {}
        for name in names:
            objs = [o for o in listed if kind.named(name, attr(o, kind.name_attr))]
            if objs and kind.detail is not None:
                continue  # a listed object lacks the marks: `read` fetches it whole
            states = [self._state(kind, o, name, scope) for o in objs]
            owned = [s for s in states if s.managed_by_dpn]
            out[name] = (owned or states)[0] if states else None
        return out

    def listing(self, type_key: str, scope: dict[str, str], prefix: str = "") -> list[Listed]:
        """Every resource of a type one call lists (`Kind.lists_all`) whose name starts with
        `prefix`."""
        kind = kind_of(type_key)
        if not kind.lists_all or kind.lister is None:
            raise ValueError(f"{type_key} is not listed in one call")
        out = []
        for o in kind.lister(self, prefix):
            name = attr(o, kind.name_attr)
            if isinstance(name, str) and name.startswith(prefix):
                out.append(Listed(name, str(attr(o, kind.id_attr)), o))
        return out

    def read_tags(self, type_key: str, found: Listed, scope: dict[str, str]) -> dict[str, str]:
        """The tags (or, for a type without tags, dpn's marks) of a listed resource."""
        kind = kind_of(type_key)
        obj = found.raw if found.raw is not None else self._get(kind, found.resource_id)
        if kind.detail is not None:
            obj = kind.detail(self, obj)
        return kind.marks.get(self, obj, found.name)

    def locate(self, state: ResourceState) -> ResourceState | None:
        """What holds `state`'s name now: the resource with its id when there is one (some
        names repeat: two clusters may share one), else another under the name, else None."""
        found = self._find(kind_of(state.type_key), state.name, dict(state.scope))
        same = [s for s in found if s.resource_id == state.resource_id]
        return (same or found)[0] if found else None

    def identity(self) -> dict[str, str]:
        """The workspace (or account) this provider acts in: its host, and the account id
        when one is configured. Proves first that the host answers and accepts the
        credentials (`whoami`)."""
        who = self.whoami()
        return {k: who[k] for k in ("host", "account") if who.get(k)}

    def whoami(self) -> dict[str, str]:
        """Who the credentials are, asked once with short timeouts: `host`, `account` (when
        configured) and `user`, the workspace's current user; on a host that serves only the
        account API, `user` is empty and listing the account's workspaces proves access.
        Raises `CloudAccessError` when the host does not answer as Databricks, or the
        configuration has no credentials, or the host refuses them."""
        if self._who is not None:
            return self._who
        host = ""
        try:
            w: WorkspaceClient = self._check_client("workspace")
            config = w.config
            host = str(config.host or "").rstrip("/").lower()
            user = ""
            try:
                me = w.current_user.me()
                user = str(me.user_name or me.display_name or me.id or "")
            except Exception as exc:
                from databricks.sdk.errors import NotFound

                if not config.account_id or not isinstance(exc, NotFound):
                    raise
                # a host that serves only the account API: it answers for the account
                a: AccountClient = self._check_client("account")
                list(a.workspaces.list())
        except Exception as exc:
            raise access_error(exc, host) or exc from exc
        who = {"host": host, "user": user}
        if config.account_id:
            who["account"] = str(config.account_id)
        self._who = who
        return who

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
        for k, v in kwargs.items():
            refuse_unknown_keys(op.type_key, k, hints.get(k, Any), v)
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
        return [self._state(kind, o, name, scope) for o in objs]

    def _state(self, kind: Kind, obj: Any, name: str, scope: dict[str, str]) -> ResourceState:
        tags = kind.marks.get(self, obj, name)
        return ResourceState(kind.type_key, name, str(attr(obj, kind.id_attr)), tags, dict(scope))

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
