"""One `Api` per AWS type: everything the provider needs to know about the type, as data.

An entry says which service the type lives in and how to create, find, tag and delete it,
which blueprint properties and references it takes, what to wait for, what to clear before
a delete, and which settings `dpn update` changes in place. Each callable takes the
service's boto3 client first and makes exactly the calls it names; the code around the
entries (`provider.py`) is shared, so adding a type is adding one entry in the module of its
service (and, where the cloud asks for more than one call, a small builder next to it).

The callables work with two records: a `Target` (one resource as the calls address it) and,
for a create or an update, a `New` (the operation, the tags to apply, what its references
became). A `New` gives a type's code only the properties and references its entry declares:
reading any other is a `TypeError`, so what an entry declares (`Api.handled`, held against
the catalogue by `tests/test_provider_coverage.py`) is what its code can read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from dpn_action.providers.aws.errors import AwsInputError
from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    TXN_TAG_KEY,
    Declared,
    Handled,
    Operation,
    ResourceState,
)

if TYPE_CHECKING:
    from dpn_action.providers.aws.listing import Listing

Tags = dict[str, str]
Kw = dict[str, Any]
Client = Any  # a boto3 client; boto3 ships no type hints


def words(text: str) -> frozenset[str]:
    """Names given as one space-separated string."""
    return frozenset(text.split())


# --- what an entry works with --------------------------------------------------------------


class Place(Protocol):
    """Where the provider acts: what an ARN is made of."""

    @property
    def region(self) -> str: ...

    @property
    def account_id(self) -> str: ...

    @property
    def partition(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Target:
    """One resource as the calls address it: name, parents, id once known."""

    aws: Place
    name: str
    scope: Mapping[str, str]
    id: str = ""

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.aws.region if regional else ""
        account = self.aws.account_id if service != "s3" else ""
        return f"arn:{self.aws.partition}:{service}:{region}:{account}:{resource}"

    @property
    def database(self) -> str:
        try:
            return self.scope["database"]
        except KeyError:
            raise AwsInputError(f"Glue table {self.name}: scope has no 'database'") from None


@dataclass(frozen=True, slots=True)
class New:
    """A create (or update) request: the operation, the tags to apply, what its references
    became, and what the type takes of the operation (its entry's `handled`)."""

    t: Target
    op: Operation
    tags: Tags
    resolved: Mapping[str, ResourceState]
    handled: Handled

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def region(self) -> str:
        """Where the resource is made: the region its own `region` property names, for a
        type that takes one (an S3 bucket), else the configured region."""
        own = self.props.get("region") if "region" in self.handled.properties else None
        return str(own or self.t.aws.region)

    @property
    def props(self) -> Mapping[str, Any]:
        """The operation's properties, of which the type's code may read only the declared."""
        return Declared(self.op.type_key, self.op.properties, self.handled.properties)

    def ref(self, field: str) -> ResourceState | None:
        if field not in self.handled.refs:
            raise TypeError(f"{self.op.type_key} reads the reference `{field}` it does not declare")
        key = self.op.refs.get(field)
        return None if key is None else self.resolved.get(key)

    def need(self, field: str) -> ResourceState:
        state = self.ref(field)
        if state is None:
            raise AwsInputError(
                f"{self.op.type_key} {self.name}: needs {field} (a resource created before it)"
            )
        return state


#: a botocore waiter: its name, and its parameters for a target
Waiter = tuple[str, Callable[[Target], Kw]]


@dataclass(frozen=True, slots=True)
class Settings:
    """What `dpn update` changes in place for one type.

    `wanted` (from the blueprint, the cloud's defaults where it is silent) and `current`
    (from `find`'s answer, plus reads where that answer lacks something) give the same
    blueprint properties, valued in the API's own terms so they compare exactly; `apply`
    makes the differing ones true. The create path builds its request from the same
    helpers, so an update compares with what a create would have sent.
    """

    names: frozenset[str]
    wanted: Callable[[New], Kw]
    current: Callable[[Client, New, Target, Kw], Kw]
    apply: Callable[[Client, New, Target, Kw], None]
    #: waiter after apply, until the resource accepts the next change
    settled: Waiter | None = None


def settings(
    names: str,
    wanted: Callable[[New], Kw],
    current: Callable[[Client, New, Target, Kw], Kw],
    apply: Callable[[Client, New, Target, Kw], None],
    settled: Waiter | None = None,
) -> Settings:
    return Settings(words(names), wanted, current, apply, settled)


@dataclass(frozen=True, slots=True)
class Api:
    """How one resource type is created, found, tagged and deleted. Each callable takes the
    service's client first and makes exactly the calls it names."""

    service: str
    create: Callable[[Client, New], Kw]
    find: Callable[[Client, Target], Kw]  # describe by name; raises "not found"
    ident: Callable[[Kw, Target], str | None]  # id from find's answer; None: being deleted
    tags: Callable[[Client, Target, Kw], Tags]  # current tags (find's answer at hand)
    tag: Callable[[Client, Target, Tags], object] | None  # add/replace; None: no tags
    delete: Callable[[Client, Target], object]
    #: the blueprint's creation properties the type takes (the catalogue's
    #: `ResourceType.properties`); its code can read no others
    properties: frozenset[str]
    #: the blueprint's reference fields the type takes (the catalogue's `ResourceType.refs`)
    refs: frozenset[str] = field(default_factory=frozenset)
    created: Callable[[Kw, Target], str] | None = None  # id from create's answer, if it has it
    #: create fails on an existing name; where it answers one with success instead (a
    #: callable: for some requests), `create` reads first, unless the transaction's
    #: pre-flight has just found the name free and no call after the create writes marks
    exclusive: bool | Callable[[New], bool] = True
    whole_tag_set: bool = False  # `tag` replaces all tags, so merge with the current ones
    #: some endpoints drop create-time tags: the first create per service and region reads
    #: them back, and where they are missing every create tags again
    retag: bool = False
    #: waiter until usable. Run only when someone needs it: before `configure` does
    #: anything, before a create of a type that lists the reference in `needs_ready`, and
    #: before a delete the cloud refuses while the resource is still being made
    ready: Waiter | None = None
    gone: Waiter | None = None  # waiter after delete
    #: reference fields whose resource must be usable (its `ready`) before this create
    needs_ready: frozenset[str] = field(default_factory=frozenset)
    #: a resource other services use only once IAM has propagated it (a role): a create
    #: that assumes one made in this run waits as `propagation` says
    propagates: bool = False
    configure: Callable[[Client, New, Target], None] | None = None  # idempotent, after create
    #: whether `configure` has anything to do for a request (None: always); it runs only
    #: then, after `ready`
    configure_when: Callable[[New], bool] | None = None
    #: how the type is listed (`listing.Listing`); None: it is read name by name
    listing: Listing | None = None
    clear: Callable[[Client, Target, ResourceState], None] | None = None  # before delete
    #: keeps a restorable copy before an archiving delete (`dpn delete --archive`)
    archive: Callable[[Client, Target], object] | None = None
    #: settings `dpn update` changes in place; None: none
    settings: Settings | None = None
    #: what tells this resource from a later one under the same name, from find's answer:
    #: an id the service assigns, or the creation time (`ResourceState.incarnation`)
    incarnation: Callable[[Kw], Any] | None = None

    def __post_init__(self) -> None:
        if self.settings is not None and not self.settings.names <= self.properties:
            extra = sorted(self.settings.names - self.properties)
            raise ValueError(f"settings {extra} are not properties the type takes")
        if not self.needs_ready <= self.refs:
            raise ValueError(f"needs_ready {sorted(self.needs_ready - self.refs)} are not refs")

    def exclusive_for(self, new: New) -> bool:
        return self.exclusive(new) if callable(self.exclusive) else self.exclusive

    @property
    def handled(self) -> Handled:
        return Handled(self.properties, self.refs)


# --- tag shapes ----------------------------------------------------------------------------


def kv(tags: Mapping[str, str], k: str = "Key", v: str = "Value") -> list[dict[str, str]]:
    return [{k: key, v: value} for key, value in tags.items()]


def from_kv(items: list[dict[str, str]] | None, k: str = "Key", v: str = "Value") -> Tags:
    return {item[k]: item[v] for item in items or ()}


def markers(values: Mapping[str, str]) -> Tags:
    return {k: values[k] for k in (MANAGED_BY_KEY, TXN_TAG_KEY) if k in values}


def incarnation_text(value: Any) -> str | None:
    """An id or a creation time as text (times in UTC, so every reader gives the same)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return str(value)


def alive(status: str | None) -> bool:
    """False for a resource the cloud is deleting: for dpn it is already gone."""
    return status != "DELETING"
