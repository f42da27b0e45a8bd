"""`dpn sweep`: find what dpn made that no blueprint describes any more, and, when asked,
delete it.

Where it looks. One AWS account and region and one Databricks workspace: the ones the
configuration points at, as for every other command. What it lists there:

* every type of each cloud the repository's blueprints use (with an environment: that
  environment's blueprints), or the transactions in the WAL directory and the WAL mirror
  planned for: a type no blueprint uses any more may still have leftovers, and after a
  lost log only the tags tell. Or the types given, with the type each is named within
  (a Glue table: its database) and the types named within it (a database cannot go while
  tables are in it);
* of those, every type a provider lists whole (`providers.base.listing_types`): one
  paginated listing per type and scope, then each resource's tags; a type named within
  another is listed within every parent that carries dpn's mark. A type it cannot list
  (Databricks jobs, notebooks, Unity Catalog objects, ...) is reported as not swept, never
  silently passed over. S3's listing holds the account's buckets of every region.

What it reports. Every listed resource that carries `managed-by: dpn`, with a verdict: an
orphan (no blueprint describes it, no unfinished transaction owns it, no person retained
it, its transaction began longer than `older_than` ago, and nothing that stays is in it),
or kept and why. Its age is that of the transaction in its `dpn-transaction` tag (ids sort
by start time: `txn.wal.new_txn_id`). Resources without dpn's mark are only counted.

The delete (`delete`) is a logged delete transaction (`txn.sweep`) that reads each orphan
again holding the locks and deletes only what still carries the marks the listing saw.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.plan import PlannedResource
from dpn_action.providers.base import (
    REPOSITORY_TAG_KEY,
    Listed,
    Operation,
    Provider,
    ResourceState,
    listing_types,
    locate,
)
from dpn_action.txn.lock.file import DEFAULT_LOCK_TIMEOUT
from dpn_action.txn.model import DEFAULT_MAX_PARALLEL, Cancel, ProgressCallback, TxnResult

if TYPE_CHECKING:
    from dpn_action.txn.lock import Shared
    from dpn_action.txn.sweep import Logs

#: what the sweep skips unless told otherwise: resources whose transaction began less than
#: this long ago (a run applying right now, or a checkout older than the last merge)
DEFAULT_OLDER_THAN = 6 * 3600.0

#: verdicts: the one that is swept, and why others are kept
ORPHAN = "orphan"
DESCRIBED = "described"  # a blueprint of the repository describes it
OPEN = "open"  # an unfinished transaction owns it
RETAINED = "retained"  # a person kept it (continue-rollback --retain)
YOUNG = "young"  # its transaction began less than `older_than` ago
UNDATED = "undated"  # its dpn-transaction tag is not a transaction id: its age is unknown
HOLDS = "holds"  # something that stays is in it (a table in a database)
ELSEWHERE = "elsewhere"  # another repository made it (its dpn-repository tag)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_TXN_TIME = re.compile(r"(\d{8}T\d{12})Z-[0-9a-f]+")


def parse_age(text: str) -> float:
    """`6h`, `30m`, `2d`, `1w`, `90s` or `0` as seconds; `ValueError` otherwise."""
    m = _AGE.fullmatch(text.strip().lower())
    if m is None or (not m.group(2) and float(m.group(1)) != 0):
        raise ValueError(
            f"{text!r} is not an age: give a number and a unit, s, m, h, d or w (6h, 2d), or 0"
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def format_age(seconds: float | None) -> str:
    """An age as a person reads it: `45m`, `6h`, `3.5d`; `?` when unknown."""
    if seconds is None:
        return "?"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            value = seconds / size
            return (
                f"{value:.0f}{unit}" if value >= 10 or value == int(value) else f"{value:.1f}{unit}"
            )
    return f"{seconds:.0f}s"


def started(txn_id: str | None) -> datetime | None:
    """When a transaction began, from its id (`20250101T120000123456Z-1a2b3c4d`)."""
    m = _TXN_TIME.fullmatch(txn_id or "")
    if m is None:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Found:
    """A resource the listing found that carries dpn's mark, and what the sweep says of it."""

    key: str
    provider: str
    state: ResourceState
    verdict: str
    note: str
    #: seconds since its transaction began (None: unknown)
    age: float | None

    @property
    def parent_key(self) -> str | None:
        """The key of the resource it is named within (a Glue table's database)."""
        parent = parent_type(self.state.type_key)
        if parent is None or not self.state.scope:
            return None
        return f"{parent}:{'.'.join(self.state.scope.values())}"

    def as_dict(self) -> dict[str, Any]:
        s = self.state
        return {
            "key": self.key,
            "type": s.type_key,
            "name": s.name,
            "scope": s.scope,
            "resource_id": s.resource_id,
            "transaction": s.transaction_id,
            "age_seconds": None if self.age is None else round(self.age),
            "verdict": self.verdict,
            "note": self.note,
        }


@dataclass(slots=True)
class Report:
    """What a sweep found."""

    #: where each cloud's provider acts (`provision.where`)
    places: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the types listed
    types: list[str] = field(default_factory=list)
    #: every resource found that carries dpn's mark
    found: list[Found] = field(default_factory=list)
    #: type -> why it was not swept
    not_swept: dict[str, str] = field(default_factory=dict)
    #: a listing or tag read that failed: what -> why
    errors: dict[str, str] = field(default_factory=dict)
    older_than: float = DEFAULT_OLDER_THAN
    #: resources the listings found without dpn's mark (never touched)
    unmarked: int = 0
    #: the providers it listed with (the delete uses them too)
    providers: Mapping[str, Provider] = field(default_factory=dict, repr=False)
    #: the transactions known to be finished when the listing began: the delete keeps what
    #: any other transaction names (one unfinished then, or begun since), which the listing
    #: may not reflect
    finished_then: frozenset[str] = frozenset()

    @property
    def orphans(self) -> list[Found]:
        return [f for f in self.found if f.verdict == ORPHAN]

    def as_dict(self) -> dict[str, Any]:
        return {
            "places": self.places,
            "types": self.types,
            "older_than_seconds": self.older_than,
            "orphans": [f.as_dict() for f in self.orphans],
            "kept": [f.as_dict() for f in self.found if f.verdict != ORPHAN],
            "not_swept": self.not_swept,
            "errors": self.errors,
            "unmarked": self.unmarked,
        }


def parent_type(type_key: str) -> str | None:
    """The type `type_key` is named within (a Glue table: its database), if any."""
    t = CATALOGUE[type_key]
    if t.parent is not None:
        return t.parent
    return t.refs.get(t.parent_ref) if t.parent_ref else None


def _scope_key(type_key: str) -> str:
    """The key a parent of this type has in its children's scope (`plan._scope`)."""
    return type_key.rsplit("_", 1)[-1]


def chosen_types(
    items: Iterable[PlannedResource], logs: Logs, given: Collection[str] = ()
) -> list[str]:
    """The types to sweep: every type of each cloud that `items` use or the logs planned
    for (a type no blueprint uses any more may still have leftovers); or the `given` types,
    with the types they are named within and the types named within them."""
    if not given:
        used = {p.type for p in items} | (logs.types & set(CATALOGUE))
        clouds = {CATALOGUE[t].provider for t in used}
        return sorted(t for t, rt in CATALOGUE.items() if rt.provider in clouds)
    wanted = set(given) & set(CATALOGUE)
    changed = True
    while changed:
        changed = False
        for t in list(wanted):
            family = {parent_type(t)} | {c for c in CATALOGUE if parent_type(c) == t}
            new = {x for x in family if x is not None} - wanted
            if new:
                wanted |= new
                changed = True
    return sorted(wanted)


def scan(
    items: list[PlannedResource],
    *,
    wal_dir: Path | str,
    type_items: list[PlannedResource] | None = None,
    types: Collection[str] = (),
    older_than: float = DEFAULT_OLDER_THAN,
    shared: Shared | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    providers: Mapping[str, Provider] | None = None,
    now: datetime | None = None,
    repository: str | None = None,
) -> Report:
    """List, read the tags, and judge every resource of the types to sweep. Changes nothing.

    `items` are every blueprint's planned resources (what the repository describes);
    `type_items` those whose types are swept (default: `items`); `types` names the types
    instead. `repository` is the one the sweep runs for (`dpn_action.repository`): what
    another repository made is kept. Raises `provision.ProviderSetupError` when a cloud
    cannot be used at all.
    """
    from dpn_action import provision
    from dpn_action.txn.sweep import read_logs

    logs = read_logs(Path(wal_dir), shared.mirror if shared is not None else None)
    chosen = chosen_types(type_items if type_items is not None else items, logs, types)
    report = Report(older_than=older_than, finished_then=frozenset(logs.finished))
    clouds = {CATALOGUE[t].provider for t in chosen}
    if providers is None:
        regions = provision.aws_regions(type_items if type_items is not None else items)
        providers = provision.LazyProviders(provision.build_providers(clouds, plan_regions=regions))
    elif not isinstance(providers, provision.LazyProviders):
        # a cloud only the logs name is set up when first asked for
        providers = provision.LazyProviders(providers)
    report.providers = providers
    report.places = provision.where({c: providers[c] for c in sorted(clouds)})
    listable = {t for t in chosen if t in listing_types(providers[CATALOGUE[t].provider])}
    for t in chosen:
        if t not in listable:
            report.not_swept[t] = (
                "dpn cannot list every resource of the type (it finds them name by name): "
                "look for leftovers by hand"
            )
        elif (p := parent_type(t)) is not None and p not in listable:
            report.not_swept[t] = f"listed within each {p}, which dpn cannot list"
    report.types = sorted(t for t in listable if t not in report.not_swept)
    found = _listed(report, providers, max_parallel)
    _judge(report, found, items, logs, now or datetime.now(UTC), repository)
    return report


@dataclass(frozen=True, slots=True)
class _Item:
    key: str
    provider: str
    state: ResourceState


def _listed(report: Report, providers: Mapping[str, Provider], max_parallel: int) -> list[_Item]:
    """Every resource of the report's types, with its tags: parents first, then what is
    named within the parents that carry dpn's mark."""
    from dpn_action.txn.runner import describe

    out: list[_Item] = []
    todo = list(report.types)
    failed: set[str] = set()
    with ThreadPoolExecutor(max_workers=max(1, max_parallel)) as pool:
        while todo:
            level = [t for t in todo if parent_type(t) not in todo]
            todo = [t for t in todo if t not in level]
            jobs: list[tuple[str, dict[str, str]]] = []
            for t in level:
                parent = parent_type(t)
                if parent is None:
                    jobs.append((t, {}))
                    continue
                if parent in failed:
                    report.errors[t] = f"not listed: listing the {parent} it is in failed"
                    failed.add(t)
                    continue
                for item in out:
                    s = item.state
                    if s.type_key == parent and s.managed_by_dpn:
                        jobs.append((t, {**s.scope, _scope_key(parent): s.name}))

            def list_one(job: tuple[str, dict[str, str]]) -> list[Listed]:
                t, scope = job
                provider: Any = providers[CATALOGUE[t].provider]
                listed: list[Listed] = provider.listing(t, dict(scope))
                return listed

            listings = list(pool.map(_catching(list_one), jobs))
            reads: list[tuple[str, dict[str, str], Listed]] = []
            for (t, scope), (ok, value) in zip(jobs, listings, strict=True):
                if not ok:
                    where = f" in {'.'.join(scope.values())}" if scope else ""
                    report.errors[f"{t}{where}"] = f"listing failed: {describe(value)}"
                    failed.add(t)
                    continue
                reads.extend((t, scope, x) for x in value)

            def tags_of(read: tuple[str, dict[str, str], Listed]) -> dict[str, str] | None:
                t, scope, x = read
                provider: Any = providers[CATALOGUE[t].provider]
                try:
                    tags: dict[str, str] = provider.read_tags(t, x, dict(scope))
                    return tags
                except Exception as first:
                    # gone since it was listed (None), or read whole; else the first error
                    listed = ResourceState(t, x.name, x.resource_id, {}, dict(scope))
                    try:
                        now = locate(provider, listed)
                    except Exception:
                        raise first from None
                    if now is not None and now.resource_id != x.resource_id:
                        raise first from None
                    return None if now is None else dict(now.tags)

            for (t, scope, x), (ok, value) in zip(
                reads, pool.map(_catching(tags_of), reads), strict=True
            ):
                key = f"{t}:{'.'.join([*scope.values(), x.name])}"
                if not ok:
                    report.errors[key] = f"reading its tags failed: {describe(value)}"
                    continue
                if value is None:
                    continue  # deleted since the listing
                state = ResourceState(t, x.name, x.resource_id, dict(value), dict(scope))
                out.append(_Item(key, CATALOGUE[t].provider, state))
    return out


def _catching(fn: Any) -> Any:
    def run(arg: Any) -> tuple[bool, Any]:
        try:
            return True, fn(arg)
        except Exception as exc:
            return False, exc

    return run


def _fold(type_key: str, key: str) -> str:
    return key.lower() if CATALOGUE[type_key].case_insensitive else key


def _elsewhere(made_for: str, repository: str | None) -> str:
    if repository is None:
        return (
            f"repository {made_for} made it, and this run cannot tell which repository it "
            "sweeps for (set DPN_REPOSITORY)"
        )
    return f"repository {made_for} made it, not {repository}"


def _judge(
    report: Report,
    listed: list[_Item],
    items: list[PlannedResource],
    logs: Logs,
    now: datetime,
    repository: str | None = None,
) -> None:
    described = {_fold(p.type, p.key) for p in items}
    counts: dict[str, int] = {}
    for item in listed:
        counts[item.key] = counts.get(item.key, 0) + 1
    report.unmarked = sum(1 for i in listed if not i.state.managed_by_dpn)
    verdicts: dict[int, tuple[str, str, float | None]] = {}
    for n, item in enumerate(listed):
        s = item.state
        if not s.managed_by_dpn:
            continue
        txn = s.transaction_id
        began = started(txn)
        age = (now - began).total_seconds() if began is not None else None
        made_for = s.tags.get(REPOSITORY_TAG_KEY)
        if _fold(s.type_key, item.key) in described:
            verdicts[n] = (DESCRIBED, "a blueprint of the repository describes it", age)
        elif made_for is not None and made_for != repository:
            verdicts[n] = (ELSEWHERE, _elsewhere(made_for, repository), age)
        elif txn in logs.open:
            verdicts[n] = (OPEN, f"transaction {txn} owns it: {logs.open[txn]}", age)
        elif (item.key, txn or "") in logs.retained:
            verdicts[n] = (RETAINED, logs.retained[(item.key, txn or "")], age)
        elif report.older_than > 0 and age is None:
            verdicts[n] = (UNDATED, f"its dpn-transaction tag {txn!r} tells no age", age)
        elif report.older_than > 0 and age is not None and age < report.older_than:
            limit = format_age(report.older_than)
            verdicts[n] = (YOUNG, f"its transaction began {format_age(age)} ago (< {limit})", age)
        else:
            verdicts[n] = (ORPHAN, "no blueprint describes it", age)
    # A parent stays while anything in it stays, with dpn's mark or without: deleting it
    # would take what is in it along (or be refused).
    where = {(i.state.type_key, i.key): n for n, i in enumerate(listed)}
    inside: dict[int, list[int]] = {}
    for n, item in enumerate(listed):
        parent = parent_type(item.state.type_key)
        if parent is not None and item.state.scope:
            at = where.get((parent, f"{parent}:{'.'.join(item.state.scope.values())}"))
            if at is not None:
                inside.setdefault(at, []).append(n)
    # What is in another repository's resource is that repository's too (a Glue table, which
    # has no tags of its own, in its database).
    for n in sorted(inside):
        if n in verdicts and verdicts[n][0] == ELSEWHERE:
            for c in inside[n]:
                if c in verdicts and verdicts[c][0] not in (DESCRIBED, ELSEWHERE):
                    note = f"it is in {listed[n].key}: {verdicts[n][1]}"
                    verdicts[c] = (ELSEWHERE, note, verdicts[c][2])
    changed = True
    while changed:
        changed = False
        for n, children in inside.items():
            if n not in verdicts or verdicts[n][0] != ORPHAN:
                continue
            staying = [c for c in children if c not in verdicts or verdicts[c][0] != ORPHAN]
            if staying:
                note = f"{listed[staying[0]].key} is in it and stays"
                verdicts[n] = (HOLDS, note, verdicts[n][2])
                changed = True
    for n, (verdict, note, age) in sorted(verdicts.items()):
        item = listed[n]
        key = item.key if counts[item.key] == 1 else f"{item.key}#{item.state.resource_id}"
        report.found.append(Found(key, item.provider, item.state, verdict, note, age))


def delete(
    report: Report,
    *,
    items: list[PlannedResource],
    wal_dir: Path | str,
    keys: Collection[str] | None = None,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    on_progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> TxnResult:
    """Delete the report's orphans (with `keys`, those of them) as one logged delete
    transaction (`txn.sweep.sweep`); what is named within another goes first."""
    from dpn_action.provision import LazyProviders, context
    from dpn_action.txn.sweep import sweep

    chosen = [f for f in report.orphans if keys is None or f.key in keys]
    present = {f.key for f in chosen}
    ops = [
        Operation(
            key=f.key,
            type_key=f.state.type_key,
            provider=f.provider,
            name=f.state.name,
            scope=dict(f.state.scope),
            depends_on=tuple(k for k in [f.parent_key] if k is not None and k in present),
        )
        for f in chosen
    ]
    # recovering an earlier transaction first may need a cloud the sweep does not
    providers = report.providers
    if not isinstance(providers, LazyProviders):
        providers = LazyProviders(providers)
    return sweep(
        ops,
        {f.key: f.state for f in chosen},
        providers,
        wal_dir=wal_dir,
        max_parallel=max_parallel,
        on_progress=on_progress,
        context={**context(items), "older_than_seconds": report.older_than},
        cancel=cancel,
        shared=shared,
        lock_timeout=lock_timeout,
        known=report.finished_then,
    )
