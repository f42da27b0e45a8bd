"""The one small protocol every cloud provider implements.

The transaction executor (`dpn_action.txn`) only ever talks to this protocol; it knows no
cloud by name. A provider (the `aws` and `databricks` packages) is the only place that
imports a cloud SDK, and it does so lazily.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "dpn"
TXN_TAG_KEY = "dpn-transaction"
#: the repository whose blueprints asked for a resource (`dpn_action.repository`); not an
#: ownership mark: `dpn sweep` keeps what another repository made
REPOSITORY_TAG_KEY = "dpn-repository"


#: what a `CloudAccessError` is about
ENDPOINT = "endpoint"  # the cloud's endpoint does not answer
CREDENTIALS = "credentials"  # no credentials, or credentials the cloud refuses
CONFIGURATION = "configuration"  # something else every call needs (a region, a host)


class CloudAccessError(Exception):
    """A cloud cannot be used at all: its endpoint does not answer, or there are no
    credentials, or it refuses them. The same for every call, so dpn checks each cloud once
    before a transaction begins (`identity`) and reports this once, not once per resource.

    `problem` says what is wrong, `fix` what to set; `str()` is the one line a user sees."""

    def __init__(self, cloud: str, kind: str, problem: str, fix: str) -> None:
        self.cloud = cloud
        self.kind = kind
        self.problem = problem
        self.fix = fix
        super().__init__(f"{cloud}: {problem}. {fix}; `dpn doctor` checks the whole setup")


@dataclass(frozen=True, slots=True)
class Operation:
    """One resource to create, as planned.

    `key` is stable across runs (`<type>:<scope>/<name>`), `depends_on` lists other
    operations' keys, and `refs` maps a reference field of the blueprint entry
    (`database_ref`, `cluster_ref`, ...) to the key of the operation it points at, so a
    provider can find, say, the cluster id a job must run on.
    """

    key: str
    type_key: str
    provider: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    refs: dict[str, str] = field(default_factory=dict)
    #: names of the parents the resource is named within: {"database": ...} for a Glue
    #: table, {"catalog": ..., "schema": ...} for a Unity Catalog table, {} otherwise.
    scope: dict[str, str] = field(default_factory=dict)
    #: properties whose values may carry secrets (a Lambda function's environment, inline
    #: code): a log keeps only their digests
    sensitive: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourceState:
    """What the cloud says about a resource that exists."""

    type_key: str
    name: str
    resource_id: str
    tags: dict[str, str] = field(default_factory=dict)
    scope: dict[str, str] = field(default_factory=dict)
    #: what tells this resource apart from another one made later under the same name, where
    #: the cloud says it when the resource is read: an id it assigns (an IAM role's `RoleId`,
    #: a DynamoDB table's `TableId`) or its creation time. None when unknown.
    incarnation: str | None = None

    @property
    def managed_by_dpn(self) -> bool:
        return self.tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE

    @property
    def transaction_id(self) -> str | None:
        return self.tags.get(TXN_TAG_KEY)

    @property
    def marks(self) -> dict[str, str]:
        """dpn's ownership marks on the resource (none, or `managed-by` and the transaction)."""
        return {k: self.tags[k] for k in (MANAGED_BY_KEY, TXN_TAG_KEY) if k in self.tags}


@dataclass(frozen=True, slots=True)
class Handled:
    """The blueprint inputs a provider takes for one type: its creation properties and its
    reference fields (the catalogue's `ResourceType.properties` and `.refs`)."""

    properties: frozenset[str]
    refs: frozenset[str]


class Provider(Protocol):
    """Create, read, delete and tag resources of one cloud."""

    name: str

    def create(
        self, op: Operation, txn_id: str, resolved: dict[str, ResourceState]
    ) -> ResourceState:
        """Create the resource, tagged with `managed-by: dpn` and `txn_id` where the type
        supports tags. `resolved` maps each key in `op.depends_on` to what it became."""
        ...

    def read(self, type_key: str, name: str, scope: dict[str, str]) -> ResourceState | None:
        """The resource as it exists now, or None. `scope` carries parents (database,
        catalog, schema) for types named within one."""
        ...

    def delete(self, state: ResourceState) -> None:
        """Delete the resource. Deleting what is already gone is success."""
        ...

    def tag(self, state: ResourceState, tags: dict[str, str]) -> None:
        """Add or replace tags (a no-op for types without tags)."""
        ...


@runtime_checkable
class Archiver(Protocol):
    """An optional capability of a provider: remove a resource but keep it restorable.

    `dpn delete --archive` uses it instead of `Provider.delete` for the types in
    `archive_types`; every other type is reported as "archive not supported" and kept. Like
    `delete`, `archive` must be idempotent: archiving what is already gone is success.
    """

    archive_types: frozenset[str]

    def archive(self, state: ResourceState) -> None:
        """Archive the resource (for example: back it up, then delete it; or stop it)."""
        ...


@runtime_checkable
class SettingsUpdater(Protocol):
    """An optional capability of a provider: change settings of an existing resource in place.

    `settings_types` maps each type that has such settings to the blueprint properties the
    cloud can change without replacing the resource (a Lambda function's `memory_size`, an
    SQS queue's `visibility_timeout`, a cluster's `autoscale`, ...). `dpn update` calls
    `update_settings` for every existing resource of ours of such a type; a property the
    blueprint changed that is not listed is reported as not updatable.
    """

    settings_types: Mapping[str, frozenset[str]]

    def update_settings(
        self,
        op: Operation,
        state: ResourceState,
        resolved: dict[str, ResourceState],
        *,
        dry_run: bool = False,
    ) -> list[str]:
        """Bring the resource's in-place settings to the values `op.properties` asks for
        (the type's defaults where it gives none), comparing with what the cloud holds now.

        Returns the blueprint properties that differed, sorted; with `dry_run` nothing is
        changed. Idempotent: a second call right after returns []. `resolved` maps the keys
        of `op.depends_on` that exist to what they are (a Lambda function's role, ...).
        """
        ...


@dataclass(frozen=True, slots=True)
class Listed:
    """One resource a listing found: its name, and its id as `Provider.read` gives it."""

    name: str
    resource_id: str
    #: the item as the listing gave it, for the provider that listed it
    raw: Any = field(default=None, compare=False, repr=False)


@runtime_checkable
class Surveyor(Protocol):
    """An optional capability of a provider: find out which of many names exist with one
    paginated listing per type and scope, instead of one read per name.

    `survey` answers for the names it can decide: None for a name the listing shows to be
    free, the whole `ResourceState` where the listing carries everything a read would give.
    A name it leaves out (it exists, or the type has no listing that decides, or the listing
    was longer than reading each name) is read with `Provider.read`. A listing that fails
    decides nothing: every name is then read. `listing` is the listing itself, for a search
    of every resource of a type in a scope (`dpn sweep`), with `read_tags` for each found.
    """

    survey_types: frozenset[str]

    def survey(
        self, type_key: str, scope: dict[str, str], names: list[str]
    ) -> dict[str, ResourceState | None]:
        """Of `names` (all of `type_key`, within `scope`): None for each one that is free,
        the state of each one the listing fully describes; the others are left out."""
        ...

    def listing(self, type_key: str, scope: dict[str, str], prefix: str = "") -> list[Listed]:
        """Every resource of `type_key` within `scope` whose name starts with `prefix` (a
        listing filters by it where the API can; the rest is filtered here)."""
        ...

    def read_tags(self, type_key: str, found: Listed, scope: dict[str, str]) -> dict[str, str]:
        """The tags (dpn's marks included) of a resource a listing found."""
        ...


@runtime_checkable
class Marker(Protocol):
    """An optional capability of a provider: write dpn's ownership marks on a resource dpn did
    not create (`dpn adopt`), changing nothing else about it.

    `mark_types` are the types it can mark (those whose marks live where an existing
    resource can take them: its tags). `mark` adds `managed-by: dpn` and the adopting
    transaction's id to what the resource carries and returns it as it is now.
    """

    mark_types: frozenset[str]

    def mark(self, state: ResourceState, marks: dict[str, str]) -> ResourceState:
        """Write `marks` on the resource; the resource as the cloud now has it."""
        ...


def mark_types(provider: object) -> frozenset[str]:
    """The types `provider` can mark for `dpn adopt` (none unless it implements `Marker`)."""
    return provider.mark_types if isinstance(provider, Marker) else frozenset()


class Declared(Mapping[str, Any]):
    """Properties of an operation, of which only the declared ones may be read: what a
    provider's code for a type reads is what that type declares it handles (`Handled`), so
    the catalogue coverage test can rely on the declaration."""

    def __init__(self, type_key: str, values: Mapping[str, Any], declared: frozenset[str]):
        self._type_key = type_key
        self._values = values
        self._declared = declared

    def __getitem__(self, key: str) -> Any:
        if key not in self._declared:
            # not a KeyError: `get` would turn that into a silent None
            raise TypeError(f"{self._type_key} reads the property `{key}` it does not declare")
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return (k for k in self._values if k in self._declared)

    def __len__(self) -> int:
        return sum(1 for _ in self)


_waits = threading.local()


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """Mark a stretch in which a provider only waits (a readiness waiter, a pause before a
    retry): the transaction's walk lets another call run meanwhile, so `max_parallel`
    bounds the calls in flight, not the resources waiting to be usable."""
    hooks: tuple[Callable[[], None], Callable[[], None]] | None = getattr(_waits, "hooks", None)
    if hooks is None:
        yield
        return
    hooks[0]()
    try:
        yield
    finally:
        hooks[1]()


def set_wait_hooks(hooks: tuple[Callable[[], None], Callable[[], None]] | None) -> None:
    """For the thread that runs a walk's work: what `waiting` calls on entry and exit."""
    _waits.hooks = hooks


def survey_types(provider: object) -> frozenset[str]:
    """The types `provider` can survey by listing (none unless it has `Surveyor.survey`)."""
    types: frozenset[str] = getattr(provider, "survey_types", frozenset())
    return types if callable(getattr(provider, "survey", None)) else frozenset()


def listing_types(provider: object) -> frozenset[str]:
    """The types `provider` can list whole with `Surveyor.listing` (an optional attribute
    `listing_types`; none unless it has `listing` and `read_tags`). `dpn sweep` finds the
    resources of these types by listing; it reports every other type as not swept."""
    types: frozenset[str] = getattr(provider, "listing_types", frozenset())
    has = callable(getattr(provider, "listing", None)) and callable(
        getattr(provider, "read_tags", None)
    )
    return types if has else frozenset()


def create_absent(
    provider: Provider, op: Operation, txn_id: str, resolved: dict[str, ResourceState]
) -> ResourceState:
    """`Provider.create`, saying that the transaction's own pre-flight, moments ago, found the
    name free: a provider that declares `trusts_preflight = True` then skips the read it
    would otherwise make before a create whose API answers an existing name with success
    (the name could only have been taken since, by someone racing this transaction)."""
    if getattr(provider, "trusts_preflight", False):
        state: ResourceState = provider.create(op, txn_id, resolved, absent=True)  # type: ignore[call-arg]
        return state
    return provider.create(op, txn_id, resolved)


def not_ours(recorded: ResourceState, current: ResourceState) -> str | None:
    """Why `current`, what the cloud holds now where `recorded` was, is not that resource;
    None when it provably is. Every delete path (rollback, recovery, `dpn delete`) asks this
    right before deleting, and deletes nothing for which it gives a reason.

    Provably the same resource: it carries exactly the ownership marks that were recorded
    (the same `dpn-transaction`; or none at all, for a create that was interrupted before
    its marks were written), and, where both are known, the same incarnation. A resource
    that someone else made under the name after dpn's was deleted fails the first test
    unless it copied dpn's marks, and the second where the cloud tells incarnations apart.
    """
    if current.marks != recorded.marks:
        if not current.marks:
            return "it carries no dpn ownership marks"
        if recorded.transaction_id and current.transaction_id != recorded.transaction_id:
            made = current.transaction_id or "no transaction"
            return f"it carries the mark of {made}, not of {recorded.transaction_id}"
        return "its dpn ownership marks are not the ones recorded"
    if recorded.incarnation and current.incarnation != recorded.incarnation:
        return (
            f"it is another resource under the same name ({current.incarnation or 'unknown'}, "
            f"recorded {recorded.incarnation})"
        )
    return None


def locate(provider: Provider, recorded: ResourceState) -> ResourceState | None:
    """What the cloud holds now where `recorded` was: the resource with the recorded id where
    the cloud lets names repeat (a provider's optional `locate(state)`), else by name."""
    find = getattr(provider, "locate", None)
    if callable(find):
        found: ResourceState | None = find(recorded)
        return found
    return provider.read(recorded.type_key, recorded.name, dict(recorded.scope))


def identity(provider: object) -> dict[str, str] | None:
    """Where a provider acts (an AWS account and region, a Databricks host), from its
    optional `identity()` method; None when it cannot say. A transaction records it, and
    recovery refuses to act on a log made elsewhere."""
    find = getattr(provider, "identity", None)
    if not callable(find):
        return None
    found = find()
    return {str(k): str(v) for k, v in found.items()} if found else None


def settings_of(provider: object, type_key: str) -> frozenset[str]:
    """The properties of `type_key` that `provider` can change in place (none unless it
    implements `SettingsUpdater`)."""
    if not isinstance(provider, SettingsUpdater):
        return frozenset()
    return provider.settings_types.get(type_key, frozenset())


def carries_tags(provider: object, type_key: str) -> bool:
    """Whether resources of `type_key` carry tags that `Provider.tag` can set.

    A provider may say which of its types do with an attribute `tag_types: frozenset[str]`
    (`dpn update` reads it to tell "nothing to change" from "this type has no tags");
    without it, every type is taken to carry tags.
    """
    types = getattr(provider, "tag_types", None)
    return True if types is None else type_key in types


def marked_after_create(provider: object, type_key: str) -> bool:
    """Whether the provider may write dpn's ownership marks on `type_key` in a call after the
    create call itself (an optional attribute `late_marked_types: frozenset[str]`).

    For such a type a create interrupted between the two calls leaves the resource without
    marks. Recovery then counts an unmarked resource as made by the interrupted create if the
    transaction's own pre-flight found the name free and its intent was recorded.
    """
    return type_key in getattr(provider, "late_marked_types", frozenset())


def handled(provider: object, type_key: str) -> Handled | None:
    """The properties and references of `type_key` that `provider` takes, from its optional
    attribute `handled: Mapping[str, Handled]`; None when it does not say. A test holds
    this against the catalogue, so a property the catalogue declares is never silently
    dropped on its way to the cloud."""
    found: Mapping[str, Handled] | None = getattr(provider, "handled", None)
    return None if found is None else found.get(type_key)


def archive_types(provider: object) -> frozenset[str]:
    """The types `provider` can archive (none unless it implements `Archiver`)."""
    return provider.archive_types if isinstance(provider, Archiver) else frozenset()
