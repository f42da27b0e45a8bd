"""One `Kind` per Databricks type: everything the provider needs to know about the type.

What differs between types is data: which blueprint property becomes which SDK parameter,
which references and defaults a create gets, how a resource is found by name, where dpn's
ownership marks live (`marks`), which settings `dpn update` changes in place, and the SDK
calls themselves. The calls are functions written in the type's service module as plain,
typed calls on the SDK's service objects (`w.clusters.create(...)`, `w.jobs.get(job_id=...)`),
so mypy checks their parameter names and types against databricks-sdk.

A create has one of two shapes. Most types build the create call's arguments from data
(`params`, `defaults`, `refs`, `scope_params`, then `prepare` and the marks) in the SDK's JSON
form, and `create` turns them into the typed call; `dpn update` builds the same arguments to
compare with what the cloud holds. A type whose create is more than one call (a notebook, a
repo, a secret scope, a table) has a `procedure` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.providers.base import Declared, Operation, ResourceState
from dpn_action.providers.databricks.marks import Marks, TagMap
from dpn_action.providers.databricks.sdk import Context, Kw, replaced

# --------------------------------------------------------------------------- changes in place


class Change:
    """How fields of an existing resource are changed in place (tags, settings)."""

    def apply(self, c: Context, resource_id: str, definition: Any, fields: Kw) -> None:
        """Set `fields` (SDK parameter -> value in JSON form; None clears it) on the resource
        whose current `definition` the type's `get_by_id` answer holds."""
        raise NotImplementedError


@dataclass(frozen=True)
class Partial(Change):
    """A partial update: only the changed fields are sent, and their names as an update mask
    where the method takes one. A field set to None is named in the mask and not sent, which
    clears it (google.aip.dev/161); without a mask it is not sent at all."""

    #: (clients, resource id, the fields to set, the update mask) -> the SDK call
    send: Callable[[Context, str, Kw, str], object]

    def apply(self, c: Context, resource_id: str, definition: Any, fields: Kw) -> None:
        given = {k: v for k, v in fields.items() if v is not None}
        self.send(c, resource_id, given, ",".join(fields))


@dataclass(frozen=True)
class Resend(Change):
    """Re-send the whole definition with the changed fields replaced; a field set to None is
    left out, which clears it."""

    #: (clients, resource id, the definition to send) -> the SDK call
    send: Callable[[Context, str, Any], object]

    def apply(self, c: Context, resource_id: str, definition: Any, fields: Kw) -> None:
        self.send(c, resource_id, replaced(definition, fields))


# --------------------------------------------------------------------------- per-type data

#: a hook that shapes create kwargs: (clients, kwargs, operation, resolved references)
Prepare = Callable[[Context, Kw, Operation, dict[str, ResourceState]], None]
#: a create of its own: (clients, kind, operation, marks, resolved references) -> the state
Procedure = Callable[
    [Context, "Kind", Operation, dict[str, str], dict[str, ResourceState]], ResourceState
]


@dataclass(frozen=True)
class Kind:
    """How dpn drives one Databricks resource type through the SDK."""

    type_key: str
    #: where the type keeps ownership marks
    marks: Marks
    #: the attribute of a found resource that is its id (what delete and tag take)
    id_attr: str
    #: deletes the resource with this id
    delete: Callable[[Context, str], object]
    #: the create call: create arguments in JSON form -> the new resource's id
    create: Callable[[Context, Kw], str] | None = None
    #: a create of its own, for a type whose create is more than one call
    procedure: Procedure | None = None
    #: the create argument that holds the name
    name_param: str = "name"
    #: blueprint property -> SDK parameter of the create method
    params: Mapping[str, str] = field(default_factory=dict)
    #: SDK parameters a create gets unless the blueprint says otherwise
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: reference field -> (SDK parameter, "id" | "name" of the resource it points at)
    refs: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: scope key -> SDK parameter (Unity Catalog parents)
    scope_params: Mapping[str, str] = field(default_factory=dict)
    prepare: Prepare | None = None
    #: blueprint properties and reference fields the type's own code (`prepare`,
    #: `procedure`) reads, beyond `params` and `refs`; it can read no others (`properties`)
    own_properties: frozenset[str] = frozenset()
    own_refs: frozenset[str] = frozenset()
    #: find by listing: (clients, the wanted name) -> candidates, and their name attribute
    lister: Callable[[Context, str], Iterable[Any]] | None = None
    #: the lister ignores the name: one (paginated) call lists every resource of the type,
    #: which decides a pre-flight of all its planned names at once (`survey`)
    lists_all: bool = False
    name_attr: str = "name"
    #: a listed object lacks the marks: fetch the whole of it
    detail: Callable[[Context, Any], Any] | None = None
    #: a listed name is the wanted one (default: equal, case-insensitively where the
    #: catalogue says names are)
    match: Callable[[str, str], bool] | None = None
    #: find by name directly, called with the full name
    getter: Callable[[Context, str], Any] | None = None
    #: scope keys that prefix the full name (`catalog.schema.table`)
    parents: tuple[str, ...] = ()
    #: read one resource by id; what a change in place starts from
    get_by_id: Callable[[Context, str], Any] | None = None
    #: the attribute of the `get_by_id` answer holding the definition ("" for the answer)
    definition: str = ""
    #: how tags, and settings unless `settings_change` is given, are changed in place
    change: Change | None = None
    #: how settings are changed, where not as `change` does it
    settings_change: Change | None = None
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
    #: stops the resource but keeps it, restorable (`dpn delete --archive`)
    archive: Callable[[Context, str], object] | None = None

    def __post_init__(self) -> None:
        if (self.create is None) == (self.procedure is None):
            raise ValueError(f"{self.type_key}: give exactly one of `create` and `procedure`")
        if (self.getter is None) == (self.lister is None):
            raise ValueError(f"{self.type_key}: give exactly one of `getter` and `lister`")

    @property
    def has_tags(self) -> bool:
        return isinstance(self.marks, TagMap) and self.change is not None

    @property
    def handled_properties(self) -> frozenset[str]:
        """The blueprint's creation properties this type takes."""
        return frozenset(self.params) | self.own_properties

    @property
    def handled_refs(self) -> frozenset[str]:
        """The blueprint's reference fields this type takes."""
        return frozenset(self.refs) | self.own_refs

    def properties(self, op: Operation) -> Mapping[str, Any]:
        """`op`'s properties as the type's own code reads them: only those it declares."""
        return Declared(self.type_key, op.properties, self.handled_properties)

    def ref(self, op: Operation, ref: str) -> str | None:
        """The key of the operation the reference field `ref` of `op` points at, if any."""
        if ref not in self.handled_refs:
            raise TypeError(f"{self.type_key} reads the reference `{ref}` it does not declare")
        return op.refs.get(ref)

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


# --------------------------------------------------------------------------- helpers


def created(kind: Kind, op: Operation, resource_id: object, marks: dict[str, str]) -> ResourceState:
    """The state of a resource `op` has just created, with dpn's marks."""
    tags = {**op.tags, **marks} if kind.has_tags else dict(marks)
    return ResourceState(op.type_key, op.name, str(resource_id), tags, dict(op.scope))


def target(op: Operation, resolved: Mapping[str, ResourceState], key: str) -> ResourceState:
    """The resource a reference of `op` points at."""
    if key not in resolved:
        raise ValueError(f"{op.key} refers to {key}, which does not exist")
    return resolved[key]


def same(*names: str) -> dict[str, str]:
    """Blueprint properties that are SDK parameters of the same name."""
    return {n: n for n in names}
