"""Desired resources -> planned operations; canonical JSON, the plan hash, and renderers.

The plan hash is the SHA-256 of the canonical JSON of the planned operations (sorted keys,
no whitespace, operations sorted by key), so the same blueprints and configs give the same
hash on any machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TextIO, TypeVar

from dpn_action.blueprint.expand import Resource, topological
from dpn_action.blueprint.files import replace_at
from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.engine import Sourced, Values

_CHILD_KEYS = frozenset({"schemas", "tables", "volumes"})
T = TypeVar("T")


def resource_key(r: Resource) -> str:
    """Stable identity of a planned resource: `<type>:<full name>`."""
    return f"{r.type.key}:{r.full_name or r.name}"


def properties(r: Resource) -> dict[str, Any]:
    """The creation properties of an entry (everything the cloud needs besides the name).

    A file the entry names (`LocalFile`) is given relative to the repository root, so the
    plan is the same wherever the repository is checked out."""
    wanted = _property_keys(r.type.key)
    out = {k: v for k, v in r.entry.items() if k in wanted}
    if r.files:
        for keys, rel in r.files.items():
            out = replace_at(out, keys, _Const(rel))
    return out


@cache
def _property_keys(type_key: str) -> frozenset[str]:
    return frozenset(CATALOGUE[type_key].properties) - _CHILD_KEYS


class _Const:
    def __init__(self, value: str) -> None:
        self.value = value

    def __call__(self, _old: Any) -> str:
        return self.value


#: naming values that become tags on every resource that supports them
TAGGED_VALUES = ("project", "environment", "team", "cost_center", "data_classification")


def tags(r: Resource) -> dict[str, str]:
    """Tags from the naming values (project, environment, team, ...) and the entry's `tags`."""
    values: Mapping[str, Sourced] = r.result.values if r.result is not None else {}
    if type(values) is Values and values.own.keys().isdisjoint(TAGGED_VALUES):
        out = dict(_shared_tags(values.below))  # all from values many resources share
    else:
        out = _tagged(values)
    extra = r.entry.get("tags")
    if isinstance(extra, dict):
        out.update({str(k): str(v) for k, v in extra.items()})
    return out


def _tagged(values: Mapping[str, Sourced]) -> dict[str, str]:
    """The tags the naming values give: those of `TAGGED_VALUES` that have a value."""
    out: dict[str, str] = {}
    for k in TAGGED_VALUES:
        sv = values.get(k)
        if sv is not None and sv.value:
            out[k] = sv.value
    return out


def _shared_tags(below: Mapping[str, Sourced]) -> dict[str, str]:
    """`_tagged` of values shared by many resources (`Values.below`, never changed),
    worked out once."""
    hit = _SHARED_TAGS.get(id(below))
    if hit is not None and hit[0] is below:
        return hit[1]
    out = _tagged(below)
    if len(_SHARED_TAGS) < 1024:
        _SHARED_TAGS[id(below)] = (below, out)  # held with them, so the id stays theirs
    return out


#: id of shared naming values -> (the values, their tags)
_SHARED_TAGS: dict[int, tuple[Mapping[str, Sourced], dict[str, str]]] = {}


def _scope(r: Resource) -> dict[str, str]:
    """Parents by role: a Glue table's database, a UC table's catalog and schema."""
    out: dict[str, str] = {}
    c = r.container
    while c is not None and c.name is not None:
        out[c.type.key.rsplit("_", 1)[-1]] = c.name
        c = c.container
    return out


def _region(r: Resource) -> str:
    if r.type.provider != "aws" or r.result is None:
        return ""
    sv = r.result.values.get("region")
    return sv.value if sv is not None and sv.value else ""


@dataclass(frozen=True)
class PlannedResource:
    key: str
    type: str
    provider: str
    name: str
    full_name: str
    environment: str
    file: str
    pointer: str
    depends_on: tuple[str, ...]
    properties: dict[str, Any]
    #: reference field -> key of the planned resource it points at
    refs: dict[str, str] = field(default_factory=dict)
    #: names of the parents this resource is named within ({"catalog": ..., "schema": ...})
    scope: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: the AWS region the names were made for (the `region` naming value); "" for Databricks
    region: str = ""
    #: the repository root of the blueprint (absolute), which the files named in
    #: `properties` are relative to; not part of the plan (`canonical`)
    root: str = field(default="", compare=False)

    def canonical(self) -> dict[str, Any]:
        return _canonical(
            self.key,
            self.type,
            self.name,
            self.full_name,
            self.environment,
            self.depends_on,
            self.properties,
            self.refs,
            self.scope,
            self.tags,
            self.region,
        )


def _canonical(
    key: str,
    type_: str,
    name: str,
    full_name: str,
    environment: str,
    depends_on: Sequence[str],
    properties: dict[str, Any],
    refs: dict[str, str],
    scope: dict[str, str],
    tags: dict[str, str],
    region: str,
) -> dict[str, Any]:
    """A planned resource as the plan hash sees it (`PlannedResource.canonical`)."""
    out = {
        "key": key,
        "type": type_,
        "name": name,
        "full_name": full_name,
        "environment": environment,
        "depends_on": sorted(depends_on),
        "properties": properties,
        "refs": refs,
        "scope": scope,
        "tags": tags,
    }
    if region:
        out["region"] = region
    return out


def plan_order(resources: Iterable[Resource]) -> list[Resource]:
    """The resources `planned` plans: named and in scope, in dependency order."""
    return [
        r
        for r in topological([r for r in resources if r.in_scope])
        if r.name is not None and r.in_scope
    ]


def planned(resources: list[Resource]) -> list[PlannedResource]:
    """Named, in-scope resources in dependency order."""
    return planned_in_order(plan_order(resources))


def planned_in_order(order: Iterable[Resource]) -> list[PlannedResource]:
    """The planned resource of each of `order` (from `plan_order`), in that order."""
    planner = _Planner()
    return [planner.planned(r) for r in order]


class _Planner:
    """Makes planned resources, working out each resource's key and each blueprint's
    environment, file and root once."""

    def __init__(self) -> None:
        self._keys: dict[int, str] = {}
        self._where: dict[int, tuple[str, str, str]] = {}
        self._tags_text: dict[int, tuple[dict[str, str], str]] = {}

    def key(self, r: Resource) -> str:
        k = self._keys.get(id(r))
        if k is None:
            k = self._keys[id(r)] = resource_key(r)
        return k

    def where(self, r: Resource) -> tuple[str, str, str]:
        """The environment, file and repository root of the resource's blueprint."""
        bp = r.blueprint
        hit = self._where.get(id(bp))
        if hit is None:
            hit = self._where[id(bp)] = (bp.environment, bp.doc.path, str(bp.root or ""))
        return hit

    def depends_on(self, r: Resource) -> tuple[str, ...]:
        if not r.deps:
            return ()
        return tuple([self.key(d) for d in r.deps if d.name is not None])

    def refs(self, r: Resource) -> dict[str, str]:
        if not r.refs:
            return {}
        return {f: self.key(d) for f, d in r.refs.items() if d.name is not None}

    def planned(self, r: Resource) -> PlannedResource:
        assert r.name is not None
        environment, file, root = self.where(r)
        t = r.type
        return PlannedResource(
            key=self.key(r),
            type=t.key,
            provider=t.provider,
            name=r.name,
            full_name=r.full_name or r.name,
            environment=environment,
            file=file,
            pointer=r.pointer,
            depends_on=self.depends_on(r),
            properties=properties(r),
            refs=self.refs(r),
            scope=_scope(r),
            tags=tags(r),
            region=_region(r),
            root=root,
        )

    def canonical(self, r: Resource) -> dict[str, Any]:
        """`self.planned(r).canonical()`, without making the planned resource."""
        assert r.name is not None
        return _canonical(
            self.key(r),
            r.type.key,
            r.name,
            r.full_name or r.name,
            self.where(r)[0],
            self.depends_on(r),
            properties(r),
            self.refs(r),
            _scope(r),
            tags(r),
            _region(r),
        )

    def canonical_text(self, r: Resource) -> str:
        """`_CANONICAL.encode(self.canonical(r))`, written directly: the members in their
        sorted order, the strings by the encoder `json.dumps` uses, each mapping by
        `_CANONICAL` (tags that many resources share once). Anything the direct way cannot
        write (a value that is no string) is encoded the plain way."""
        name = r.name
        assert name is not None
        props = properties(r)
        refs = self.refs(r)
        scope = _scope(r)
        region = _region(r)
        e = _STRING
        try:
            return (
                '{"depends_on":[' + ",".join([e(d) for d in sorted(self.depends_on(r))])
                + '],"environment":' + e(self.where(r)[0])
                + ',"full_name":' + e(r.full_name or name)
                + ',"key":' + e(self.key(r)) + ',"name":' + e(name)
                + ',"properties":' + (_CANONICAL.encode(props) if props else "{}")
                + ',"refs":' + (_CANONICAL.encode(refs) if refs else "{}")
                + (',"region":' + e(region) if region else "")
                + ',"scope":' + (_CANONICAL.encode(scope) if scope else "{}")
                + ',"tags":' + self.tags_text(r) + ',"type":' + e(r.type.key) + "}"
            )  # fmt: skip
        except TypeError:
            return _CANONICAL.encode(self.canonical(r))

    def tags_text(self, r: Resource) -> str:
        """`_CANONICAL.encode(tags(r))`, once for tags that come whole from naming values
        many resources share."""
        values: Mapping[str, Sourced] = r.result.values if r.result is not None else {}
        if (
            type(values) is Values
            and values.own.keys().isdisjoint(TAGGED_VALUES)
            and not isinstance(r.entry.get("tags"), dict)
        ):
            shared = _shared_tags(values.below)  # what `tags(r)` copies
            hit = self._tags_text.get(id(shared))
            if hit is None or hit[0] is not shared:
                hit = self._tags_text[id(shared)] = (shared, _CANONICAL.encode(shared))
            return hit[1]
        return _CANONICAL.encode(tags(r))

    def entry_line(self, r: Resource) -> str:
        """The preview line of `self.planned(r)` (`_entry_line`), from the fields it needs."""
        assert r.name is not None
        environment, file, _ = self.where(r)
        return _line(
            r.type.key,
            r.name,
            r.full_name or r.name,
            environment,
            file,
            r.pointer,
            self.depends_on(r),
        )


#: what happens to a resource a change stops describing (a removed or renamed-from entry)
ON_REMOVED = ("keep", "delete", "archive")


def canonical_json(
    items: list[PlannedResource],
    removing: Sequence[PlannedResource] = (),
    on_removed: str = "keep",
) -> str:
    """The planned operations as canonical JSON. Resources to be deleted or archived
    (`removing`, with `on_removed` delete or archive) are part of it: the keys, and the
    mode; with `keep`, or nothing to remove, it is the operations alone."""
    ops = sorted((p.canonical() for p in items), key=lambda d: d["key"])
    doc: Any = ops
    if on_removed != "keep" and removing:
        doc = {
            "operations": ops,
            "on_removed": on_removed,
            "remove": sorted(removal_keys(removing)),
        }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plan_hash(
    items: list[PlannedResource],
    removing: Sequence[PlannedResource] = (),
    on_removed: str = "keep",
) -> str:
    """The SHA-256 of `canonical_json(items, removing, on_removed)`. The operations alone
    are hashed as they are encoded, a batch at a time, so that the canonical JSON of a large
    plan is never held whole."""
    if on_removed != "keep" and removing:
        return hashlib.sha256(
            canonical_json(items, removing, on_removed).encode("utf-8")
        ).hexdigest()
    # sorted stably, as `canonical_json` sorts
    return _operations_hash(p.canonical() for p in sorted(items, key=_by_key))


def _operations_hash(ordered: Iterable[dict[str, Any]]) -> str:
    """The SHA-256 of the canonical JSON list of the operations `ordered` (their canonical
    form, sorted by key), encoded a batch at a time."""
    return _texts_hash(_CANONICAL.encode(batch)[1:-1] for batch in _batches(ordered))


def _texts_hash(parts: Iterable[str]) -> str:
    """The SHA-256 of the JSON list whose items, comma-separated, are `parts`."""
    digest = hashlib.sha256(b"[")
    for n, part in enumerate(parts):
        if n:
            digest.update(b",")
        digest.update(part.encode("utf-8"))
    digest.update(b"]")
    return digest.hexdigest()


def _batches(items: Iterable[T]) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _by_key(p: PlannedResource) -> str:
    return p.key


#: operations encoded at a time by `plan_hash`, preview lines written at a time
_BATCH = 2048
#: how `canonical_json` encodes (`json.dumps(..., sort_keys=True, separators=(",", ":"),
#: ensure_ascii=False)`), without the watch for a list or mapping inside itself, which a
#: plan, made from parsed files, never has (the text is the same)
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)


def removals(
    old: Iterable[PlannedResource], new: Iterable[PlannedResource]
) -> list[PlannedResource]:
    """What `old` plans that `new` no longer does: removed entries, and the old names of
    renamed ones (in `old`'s order)."""
    planned_now = {p.key for p in new}
    return [p for p in old if p.key not in planned_now]


def removal_keys(items: Iterable[PlannedResource]) -> list[str]:
    return [p.key for p in items]


def preview_entry(p: PlannedResource) -> dict[str, Any]:
    """One resource of a preview (`preview_json`)."""
    return {
        "type": p.type,
        "name": p.name,
        "full_name": p.full_name,
        "environment": p.environment,
        "file": p.file,
        "pointer": p.pointer,
        "depends_on": list(p.depends_on),
    }


def preview_summary(items: Sequence[PlannedResource]) -> dict[str, Any]:
    by_type: dict[str, int] = {}
    for p in items:
        by_type[p.type] = by_type.get(p.type, 0) + 1
    return {"total": len(items), "by_type": dict(sorted(by_type.items()))}


def preview_json(items: list[PlannedResource]) -> dict[str, Any]:
    return {
        "plan_hash": plan_hash(items),
        "resources": [preview_entry(p) for p in items],
        "summary": preview_summary(items),
    }


def write_preview_json(
    out: TextIO,
    items: list[PlannedResource],
    *,
    cloud: Mapping[str, str] | None = None,
    findings: Sequence[dict[str, Any]] = (),
) -> None:
    """`preview_json(items)` (each resource with its `cloud` status when `cloud` is given,
    then the `findings`) as JSON with one list item per line, written as it is made."""
    _write_preview(
        out,
        plan_hash(items),
        (_entry_line(p, cloud) for p in items),
        preview_summary(items),
        findings,
    )


def write_plan_preview(
    out: TextIO, order: list[Resource], *, findings: Sequence[dict[str, Any]] = ()
) -> None:
    """What `write_preview_json(out, planned_in_order(order), findings=findings)` writes,
    without holding the planned resources: the plan hash is taken with each one made in
    turn, and the lines are written from the analysed resources."""
    planner = _Planner()
    texts = map(planner.canonical_text, sorted(order, key=planner.key))
    digest = _texts_hash(",".join(batch) for batch in _batches(texts))
    by_type: dict[str, int] = {}
    for r in order:
        by_type[r.type.key] = by_type.get(r.type.key, 0) + 1
    summary = {"total": len(order), "by_type": dict(sorted(by_type.items()))}
    _write_preview(out, digest, map(planner.entry_line, order), summary, findings)


def _write_preview(
    out: TextIO,
    digest: str,
    lines: Iterable[str],
    summary: dict[str, Any],
    findings: Sequence[dict[str, Any]],
) -> None:
    """JSON with one list item per line (`plan_hash`, `resources`, `summary`, `findings`),
    the resources' lines written a batch at a time."""
    out.write('{\n  "plan_hash": ' + json.dumps(digest) + ",\n")
    first = True
    for batch in _batches(lines):
        out.write(('  "resources": [\n    ' if first else ",\n    ") + ",\n    ".join(batch))
        first = False
    out.write('  "resources": [],\n' if first else "\n  ],\n")
    out.write('  "summary": ' + _dumps(summary) + ",\n")
    if findings:
        out.write('  "findings": [\n    ' + ",\n    ".join(map(_dumps, findings)) + "\n  ]")
    else:
        out.write('  "findings": []')
    out.write("\n}\n")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


#: how `json.dumps(..., ensure_ascii=False)` writes a string
_STRING: Callable[[str], str] = json.encoder.encode_basestring

#: no `cloud` status in a preview line
_NO_STATUS = object()


def _entry_line(p: PlannedResource, cloud: Mapping[str, str] | None) -> str:
    """`_dumps(preview_entry(p))`, with its `cloud` status when `cloud` is given."""
    status = _NO_STATUS if cloud is None else cloud.get(p.key)
    return _line(
        p.type, p.name, p.full_name, p.environment, p.file, p.pointer, p.depends_on, status
    )


def _line(
    type_: str,
    name: str,
    full_name: str,
    environment: str,
    file: str,
    pointer: str,
    depends_on: tuple[str, ...],
    status: object = _NO_STATUS,
) -> str:
    """The JSON of one preview entry (`preview_entry`, then `cloud` unless no status is
    given) as `json.dumps(..., ensure_ascii=False)` writes it: the strings by the encoder
    it uses, laid out as it lays them out."""
    e = _STRING
    try:
        line = (
            '{"type": ' + e(type_) + ', "name": ' + e(name) + ', "full_name": '
            + e(full_name) + ', "environment": ' + e(environment) + ', "file": '
            + e(file) + ', "pointer": ' + e(pointer) + ', "depends_on": ['
            + ", ".join([e(d) for d in depends_on]) + "]"
        )  # fmt: skip
    except TypeError:  # not a string somewhere: the general encoder
        entry: dict[str, Any] = {
            "type": type_,
            "name": name,
            "full_name": full_name,
            "environment": environment,
            "file": file,
            "pointer": pointer,
            "depends_on": list(depends_on),
        }
        if status is not _NO_STATUS:
            entry["cloud"] = status
        return _dumps(entry)
    if status is _NO_STATUS:
        return line + "}"
    return line + ', "cloud": ' + (e(status) if isinstance(status, str) else _dumps(status)) + "}"


def type_title(key: str) -> str:
    return CATALOGUE[key].title


# ------------------------------------------------------------------------------ name diffs
@dataclass
class EnvDiff:
    """What a change does to one environment's names."""

    environment: str
    added: list[PlannedResource]
    removed: list[PlannedResource]
    renamed: list[tuple[PlannedResource, PlannedResource]]
    unchanged: int
    plan_hash: str

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.renamed)


def _identity(p: PlannedResource) -> tuple[str, str, str]:
    return (p.file, p.type, p.pointer)


def diff(base: list[PlannedResource], head: list[PlannedResource]) -> dict[str, EnvDiff]:
    """Per environment: names added, removed and renamed between two plans.

    Resources are matched first by (type, full name), so moving an entry within a file is
    not a change; what is left is paired by its place (file, type, entry pointer), so a
    config change that alters a name shows as a rename old -> new.
    """
    envs = sorted({p.environment for p in base} | {p.environment for p in head})
    out: dict[str, EnvDiff] = {}
    for env in envs:
        b = [p for p in base if p.environment == env]
        h = [p for p in head if p.environment == env]
        b_by_key = {p.key: p for p in b}
        h_keys = {p.key for p in h}
        unchanged = sum(1 for p in h if p.key in b_by_key)
        rest_b = {_identity(p): p for p in b if p.key not in h_keys}
        added: list[PlannedResource] = []
        renamed: list[tuple[PlannedResource, PlannedResource]] = []
        for p in h:
            if p.key in b_by_key:
                continue
            old = rest_b.pop(_identity(p), None)
            if old is not None:
                renamed.append((old, p))
            else:
                added.append(p)
        out[env] = EnvDiff(env, added, list(rest_b.values()), renamed, unchanged, plan_hash(h))
    return out


#: Lines of a plan difference printed in the log and the comment.
MAX_DIFF_LINES = 200


def combined_hash(hashes: Mapping[str, str]) -> str:
    """One environment: its plan hash. Several: the SHA-256 of their sorted JSON map."""
    if not hashes:
        return ""
    if len(hashes) == 1:
        return next(iter(hashes.values()))
    raw = json.dumps(dict(sorted(hashes.items())), separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def plan_difference(old: list[PlannedResource], new: list[PlannedResource]) -> list[str]:
    """Lines `- key`, `+ key`, `~ key (what changed)` between two plans."""
    a = {p.key: p.canonical() for p in old}
    b = {p.key: p.canonical() for p in new}
    lines = [f"- {k}" for k in sorted(set(a) - set(b))]
    lines += [f"+ {k}" for k in sorted(set(b) - set(a))]
    for k in sorted(set(a) & set(b)):
        if a[k] != b[k]:
            fields = sorted(f for f in set(a[k]) | set(b[k]) if a[k].get(f) != b[k].get(f))
            lines.append(f"~ {k} ({', '.join(fields)} changed)")
    if not lines:
        lines.append("(the same resources; the difference is in their order or encoding)")
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... and {len(lines) - MAX_DIFF_LINES} more"]
    return lines
