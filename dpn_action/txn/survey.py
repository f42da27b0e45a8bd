"""What the cloud holds for many planned resources: one listing per type and scope where a
provider can list, one read per resource elsewhere.

A provider that implements `providers.base.Surveyor` decides, for each group of planned
names of one type within one scope, with one paginated listing, which names are free; only
the names it shows to exist are read one by one (their tags, dpn's marks among them). A
type it cannot list, a group of one name, and a listing that fails fall back to one read
per name: a listing only ever saves calls, never adds a way to fail.

A resource named within a planned parent (a Glue table in a planned database, a Unity
Catalog schema in a planned catalog) is free without any call when the parent is: its group
is listed, or its name read, only after the parent was found to exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dpn_action.providers.base import Operation, Provider, ResourceState, survey_types
from dpn_action.txn.graph import walk

_LIST, _READ = "list|", "read|"


@dataclass(slots=True)
class Survey:
    """What the cloud holds for each planned key: its state (None: free), or why it could
    not be read."""

    found: dict[str, ResourceState | None] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Group:
    provider: str
    type_key: str
    scope: dict[str, str]
    keys: tuple[str, ...]


class ParentUnreadError(Exception):
    """A resource was not read because the parent it is named within could not be."""


def survey(
    ops: list[Operation],
    providers: Mapping[str, Provider],
    *,
    max_parallel: int,
    on_start: Callable[[str], None] | None = None,
    on_finish: Callable[[str, BaseException | None, ResourceState | None], None] | None = None,
) -> Survey:
    """Find every operation's resource, at most `max_parallel` calls at a time.

    `on_start` and `on_finish` are called (on the calling thread) once per operation key,
    as its resource is looked up and once it is known (with the error, or what was found).
    """
    by_key = {op.key: op for op in ops}
    by_name: dict[str, list[str]] = {}
    for op in ops:
        by_name.setdefault(op.name, []).append(op.key)
    parents = {op.key: _scoped_parents(op, by_name) for op in ops}
    groups = _groups(ops, providers)
    group_of = {k: gid for gid, g in groups.items() for k in g.keys}
    out = Survey()

    def free_parent(key: str) -> bool:
        return any(p in out.found and out.found[p] is None for p in parents[key])

    def list_group(gid: str) -> None:
        g = groups[gid]
        if free_parent(g.keys[0]):
            out.found.update(dict.fromkeys(g.keys, None))
            return
        names = [by_key[k].name for k in g.keys]
        provider = providers[g.provider]
        try:
            decided = provider.survey(g.type_key, dict(g.scope), names)  # type: ignore[attr-defined]
        except Exception:
            return  # a listing only saves calls: each name is read instead
        for key in g.keys:
            name = by_key[key].name
            if name in decided:
                out.found[key] = decided[name]

    def read(key: str) -> None:
        if key in out.found:
            return
        if free_parent(key):
            out.found[key] = None
            return
        op = by_key[key]
        out.found[key] = providers[op.provider].read(op.type_key, op.name, dict(op.scope))

    prereqs: dict[str, list[str]] = {}
    for gid, g in groups.items():
        prereqs[_LIST + gid] = sorted({_READ + p for k in g.keys for p in parents[k]})
    for op in ops:
        before = [_READ + p for p in parents[op.key]]
        if op.key in group_of:
            before.append(_LIST + group_of[op.key])
        prereqs[_READ + op.key] = before

    def work(task: str) -> None:
        if task.startswith(_LIST):
            list_group(task.removeprefix(_LIST))
        else:
            read(task.removeprefix(_READ))

    def started(task: str) -> None:
        if on_start and task.startswith(_READ):
            on_start(task.removeprefix(_READ))

    def finished(task: str, exc: BaseException | None) -> None:
        if on_finish and task.startswith(_READ):
            key = task.removeprefix(_READ)
            on_finish(key, exc, out.found.get(key))

    tasks = [_LIST + gid for gid in groups] + [_READ + op.key for op in ops]
    walked = walk(
        tasks,
        prereqs,
        work,
        max_parallel=max_parallel,
        stop_on_failure=False,
        on_start=started,
        on_finish=finished,
    )
    for task, exc in walked.failed.items():
        if task.startswith(_READ):
            out.failed[task.removeprefix(_READ)] = exc
    for task in walked.not_started:
        if task.startswith(_READ):
            key = task.removeprefix(_READ)
            unread = [p for p in parents[key] if p in out.failed or p not in out.found]
            exc = ParentUnreadError(f"not read: {', '.join(unread)}, which it is in, could not be")
            out.failed[key] = exc
            if on_finish:
                on_finish(key, exc, None)
    return out


def _scoped_parents(op: Operation, by_name: Mapping[str, list[str]]) -> list[str]:
    """The planned operations `op` depends on and is named within (its scope names them)."""
    named = set(op.scope.values())
    return [d for d in op.depends_on if any(d in by_name.get(n, ()) for n in named)]


def _groups(ops: list[Operation], providers: Mapping[str, Provider]) -> dict[str, _Group]:
    """The operations a listing can decide, by provider, type and scope; groups of one name
    are left out (one read costs no more than one listing)."""
    keys: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[str]] = {}
    for op in ops:
        if op.type_key in survey_types(providers[op.provider]):
            where = (op.provider, op.type_key, tuple(sorted(op.scope.items())))
            keys.setdefault(where, []).append(op.key)
    return {
        f"{i}": _Group(provider, type_key, dict(scope), tuple(members))
        for i, ((provider, type_key, scope), members) in enumerate(sorted(keys.items()))
        if len(members) > 1
    }
