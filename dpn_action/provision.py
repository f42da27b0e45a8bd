"""Planned resources -> provider operations -> transactions; reading and updating them.

The glue between the naming core (what to create, in which order) and the transaction
core (how to create and delete it safely). Cloud SDKs are imported only when a provider of
that cloud is actually needed.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from dpn_action.findings import Finding, plural
from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.plan import PlannedResource
from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    REPOSITORY_TAG_KEY,
    TXN_TAG_KEY,
    Operation,
    Provider,
    ResourceState,
    SettingsUpdater,
    carries_tags,
    settings_of,
)
from dpn_action.txn.lock.file import DEFAULT_LOCK_TIMEOUT
from dpn_action.txn.model import DEFAULT_MAX_PARALLEL, Cancel, ProgressCallback, TxnResult

if TYPE_CHECKING:
    from dpn_action.source import Document
    from dpn_action.txn.history import Planned
    from dpn_action.txn.lock import Shared

#: tags dpn writes itself (its ownership marks, the repository): `dpn update` never
#: changes them, nor reports them as tags the blueprint no longer lists
MARKS = frozenset({MANAGED_BY_KEY, TXN_TAG_KEY, REPOSITORY_TAG_KEY})


def to_operations(
    items: Iterable[PlannedResource], repository: str | None = None
) -> list[Operation]:
    """The cloud operations of planned resources; with `repository`, each resource is
    tagged with it (`REPOSITORY_TAG_KEY`) where its type takes tags."""
    extra = {REPOSITORY_TAG_KEY: repository} if repository else {}
    return [
        Operation(
            key=p.key,
            type_key=p.type,
            provider=p.provider,
            name=p.name,
            properties=_absolute_files(p),
            tags={**p.tags, **extra},
            depends_on=tuple(p.depends_on),
            refs=dict(p.refs),
            scope=dict(p.scope),
            sensitive=CATALOGUE[p.type].sensitive,
        )
        for p in items
    ]


def context(items: Iterable[PlannedResource]) -> dict[str, list[str]]:
    """What a plan was made from, for its transaction's log: environments and blueprints."""
    items = list(items)
    return {
        "environments": sorted({p.environment for p in items if p.environment}),
        "blueprints": sorted({p.file for p in items}),
    }


def _absolute_files(p: PlannedResource) -> dict[str, Any]:
    """The properties, with each file they name (relative to the repository root in the
    plan) as an absolute path, which the provider can read from any directory. The path,
    never the file's content, goes into the operation (and so into the WAL)."""
    from dpn_action.blueprint.files import replace_at
    from dpn_action.naming.catalogue import CATALOGUE

    props = dict(p.properties)
    t = CATALOGUE.get(p.type)
    if t is None or not p.root:
        return props
    for spec in t.local_files:

        def absolute(rel: Any, label: str = spec.label) -> Any:
            if not isinstance(rel, str):
                return rel
            if not rel or PurePosixPath(rel).is_absolute() or ".." in PurePosixPath(rel).parts:
                # only a plan with findings holds such a value, and no face applies one
                raise ProviderSetupError(
                    f"{p.key}: {label} {rel!r} is not a path inside the repository "
                    "(dpn lint reports it)"
                )
            return os.path.join(p.root, rel)

        props = replace_at(props, spec.keys, absolute)
    return props


def origin(p: PlannedResource) -> str:
    """The blueprint entry a planned resource comes from: `file#pointer`, the file relative
    to its repository's root (so the same wherever dpn runs)."""
    return f"{_root_relative(p)}#{p.pointer}"


def _root_relative(p: PlannedResource) -> str:
    if not p.root:
        return p.file
    path = os.path.abspath(p.file)
    root = os.path.abspath(p.root)
    if path == root or not path.startswith(root.rstrip(os.sep) + os.sep):
        return p.file
    return Path(os.path.relpath(path, root)).as_posix()


def stale_operations(items: list[PlannedResource], wal_dir: Path | str) -> list[Operation]:
    """What committed create transactions in `wal_dir` made from the blueprint files of
    `items` that these files no longer describe (removed entries, the old names of renamed
    ones), newest record per resource; as operations a delete transaction can take."""
    from dpn_action.txn.history import committed_operations

    files = {_root_relative(p) for p in items}
    planned_now = {p.key for p in items}
    found: dict[str, Operation] = {}
    for h in committed_operations(wal_dir):
        file = (h.origin or "").partition("#")[0]
        if file not in files or h.key in planned_now:
            continue
        found[h.key] = Operation(
            key=h.key,
            type_key=h.type_key,
            provider=CATALOGUE[h.type_key].provider,
            name=h.name,
            scope=dict(h.scope),
            depends_on=tuple(h.depends_on),
        )
    keys = set(found)
    return [
        replace(op, depends_on=tuple(d for d in op.depends_on if d in keys))
        for op in found.values()
    ]


def remove_operations(
    ops: list[Operation],
    *,
    wal_dir: Path | str,
    only: Iterable[str] | None = None,
    archive: bool = False,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    dry_run: bool = False,
    providers: Mapping[str, Provider] | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    items: list[PlannedResource] | None = None,
    shared: Shared | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> TxnResult:
    """Delete (or archive) the resources of `ops` that exist and are dpn's (and, with
    `only`, are listed there), as one delete transaction
    (`dpn_action.txn.executor.destroy`). `items`, the planned resources `ops` come from
    when there are some, are checked for their region and recorded in the log. `shared`:
    team mode (`dpn_action.team.shared_from`)."""
    from dpn_action.txn.executor import destroy

    return destroy(
        ops,
        providers_for(ops, Path(wal_dir), providers, items or ()),
        wal_dir=wal_dir,
        only=None if only is None else set(only),
        archive=archive,
        max_parallel=max_parallel,
        dry_run=dry_run,
        on_progress=on_progress,
        context=context(items) if items else None,
        cancel=cancel,
        shared=shared,
        lock_timeout=lock_timeout,
    )


class ProviderSetupError(Exception):
    """A cloud's provider could not be set up (no region configured, say), or a cloud cannot
    be used at all (its endpoint does not answer, its credentials are missing or refused):
    one line per cloud."""


def build_providers(
    names: Iterable[str], *, plan_regions: Collection[str] = ()
) -> dict[str, Provider]:
    """One provider per cloud named, from the standard configuration of that cloud.

    `plan_regions` are the regions the plan's AWS names were made for
    (`PlannedResource.region`): when no AWS region is configured and they name one, the AWS
    provider works there; when they name several, that is an error naming them.

    Raises `extras.MissingExtra` (naming the extra to install) when a cloud's SDK is not
    installed, before any provider is set up."""
    from dpn_action.extras import require
    from dpn_action.providers.base import CloudAccessError

    out: dict[str, Provider] = {}
    regions = sorted(set(plan_regions) - {""})
    names = sorted(set(names))
    require(names)
    for name in names:
        try:
            if name == "aws":
                from dpn_action.providers.aws import AwsConfigError, AwsProvider

                fallback = regions[0] if len(regions) == 1 else None
                try:
                    out[name] = AwsProvider(fallback_region=fallback)
                except AwsConfigError:
                    if len(regions) < 2:
                        raise
                    raise ProviderSetupError(
                        "no AWS region is configured, and the blueprints' AWS names were made "
                        f"for several: {', '.join(regions)}. dpn works in one region per run: "
                        f"set AWS_REGION to one of them (and plan the others in runs of their "
                        "own)"
                    ) from None
            elif name == "databricks":
                from dpn_action.providers.databricks import DatabricksProvider

                out[name] = DatabricksProvider()
            else:  # pragma: no cover - the catalogue only names these two
                raise ValueError(f"unknown provider {name!r}")
        except (ProviderSetupError, CloudAccessError) as exc:
            raise ProviderSetupError(str(exc)) from exc
        except Exception as exc:
            raise ProviderSetupError(f"cannot set up the {name} provider: {exc}") from exc
    return out


class LazyProviders(Mapping[str, Provider]):
    """Every cloud's provider, each set up (`build_providers`) when first asked for: a
    transaction recovered from the WAL mirror may name a cloud no plan here does."""

    KNOWN = ("aws", "databricks")

    def __init__(self, built: Mapping[str, Provider] | None = None) -> None:
        self._built = dict(built or {})

    @property
    def built(self) -> dict[str, Provider]:
        """The providers set up so far."""
        return dict(self._built)

    def __getitem__(self, name: str) -> Provider:
        if name not in self.KNOWN:
            raise KeyError(name)
        if name not in self._built:
            self._built.update(build_providers([name]))
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.KNOWN)

    def __len__(self) -> int:
        return len(self.KNOWN)


def where(providers: Mapping[str, Provider]) -> dict[str, dict[str, str]]:
    """Where each provider acts (an AWS account and region, a Databricks host), as a
    transaction records it (`providers.base.identity`). Asking is each cloud's access check:
    it proves that the endpoint answers and accepts the credentials. Every cloud is asked, at
    the same time; those that fail are reported together, one line each, as one
    `ProviderSetupError`."""
    from concurrent.futures import ThreadPoolExecutor

    from dpn_action.providers.base import CloudAccessError, identity
    from dpn_action.txn.runner import describe

    out: dict[str, dict[str, str]] = {}
    failed: list[str] = []
    names = sorted(providers)
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        asked = {name: pool.submit(identity, providers[name]) for name in names}
    for name in names:
        try:
            found = asked[name].result()
        except CloudAccessError as exc:
            failed.append(str(exc))
            continue
        except Exception as exc:
            failed.append(
                f"{name}: cannot tell where the provider acts: {describe(exc)}; "
                "`dpn doctor` checks the whole setup"
            )
            continue
        if found:
            out[name] = found
    if failed:
        raise ProviderSetupError("\n".join(failed))
    return out


def scope_label(places: Mapping[str, Mapping[str, str]]) -> str:
    """A short, stable label for where a run acts, one part per cloud: `aws.<12 hex>`,
    `databricks.<12 hex>` (the start of the SHA-256 of that cloud's identity from `where`),
    joined by `_`. WAL artifacts carry it, so a log is found again only by a run that acts
    in the same places (`same_places`)."""
    import hashlib
    import json

    parts = []
    for cloud, found in sorted(places.items()):
        text = json.dumps(found, sort_keys=True, separators=(",", ":"))
        parts.append(f"{cloud}.{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}")
    return "_".join(parts) or "none"


def same_places(label: str, other: str) -> bool:
    """Whether two `scope_label`s name the same places: at least one cloud in common, and
    every cloud they have in common in the same place. (A run whose blueprints stopped using
    one cloud still finds the log of an earlier run that used both.)"""

    def parts(text: str) -> dict[str, str]:
        return dict(p.split(".", 1) for p in text.split("_") if "." in p)

    a, b = parts(label), parts(other)
    common = set(a) & set(b)
    return bool(common) and all(a[c] == b[c] for c in common)


def check_regions(items: Iterable[PlannedResource], providers: Mapping[str, Provider]) -> None:
    """Refuse to act when AWS resources were named for a region other than the one the AWS
    configuration points at: each is created (and looked for) in the configured region, so
    `...-euw1` would otherwise land in us-east-1. An S3 bucket with its own `region`
    property is created in that region and is not checked."""
    items = list(items)
    if not any(p.provider == "aws" for p in items):
        return
    configured = getattr(providers.get("aws"), "region", None)
    if not isinstance(configured, str):
        return
    elsewhere: dict[str, list[PlannedResource]] = {}
    for p in items:
        if p.region and p.region != configured and not p.properties.get("region"):
            elsewhere.setdefault(p.region, []).append(p)
    if not elsewhere:
        return
    lines = [
        f"{plural(len(found), 'AWS resource')} of {', '.join(sorted({p.file for p in found}))} "
        f"{'is' if len(found) == 1 else 'are'} named for region {region} "
        f"(e.g. {found[0].full_name})"
        for region, found in sorted(elsewhere.items())
    ]
    wanted = sorted(elsewhere)[0]
    raise ProviderSetupError(
        "; ".join(lines)
        + f", but the AWS configuration's region is {configured}: dpn works in the configured "
        f"region, so run it with AWS_REGION={wanted} (one region per run)"
    )


def providers_for(
    ops: list[Operation],
    wal_dir: Path,
    given: Mapping[str, Provider] | None,
    items: Iterable[PlannedResource] = (),
) -> Mapping[str, Provider]:
    """The given providers, or those the operations and any unfinished transaction need;
    checked against the regions `items` were named for, then each cloud's access is checked
    (`where`), all before a transaction begins."""
    items = list(items)
    if given is None:
        wanted = {o.provider for o in ops} | providers_in_wal(wal_dir, unfinished=True)
        # what the plan needs now and what an unfinished transaction here needs; one only
        # the mirror has (read under the lock) is set up when it is recovered first
        given = LazyProviders(build_providers(wanted, plan_regions=aws_regions(items)))
    check_regions(items, given)
    where(given.built if isinstance(given, LazyProviders) else given)
    return given


def aws_regions(items: Iterable[PlannedResource]) -> set[str]:
    """The regions the AWS names of a plan were made for."""
    return {p.region for p in items if p.provider == "aws" and p.region}


def apply_plan(
    items: list[PlannedResource],
    *,
    wal_dir: Path | str,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    dry_run: bool = False,
    providers: Mapping[str, Provider] | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    repository: str | None = None,
) -> TxnResult:
    """Create every planned resource as one transaction (see `dpn_action.txn.executor`),
    each tagged with the `repository` it is made for, when there is one."""
    from dpn_action.txn.executor import apply

    ops = to_operations(items, repository)
    return apply(
        ops,
        providers_for(ops, Path(wal_dir), providers, items),
        wal_dir=wal_dir,
        max_parallel=max_parallel,
        dry_run=dry_run,
        on_progress=on_progress,
        origins={p.key: origin(p) for p in items},
        context=context(items),
        cancel=cancel,
        shared=shared,
        lock_timeout=lock_timeout,
    )


def delete_plan(
    items: list[PlannedResource],
    *,
    wal_dir: Path | str,
    only: Iterable[str] | None = None,
    archive: bool = False,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    dry_run: bool = False,
    providers: Mapping[str, Provider] | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> TxnResult:
    """Delete (or archive) the planned resources that are ours, as one delete transaction
    (`remove_operations`)."""
    return remove_operations(
        to_operations(items),
        wal_dir=wal_dir,
        only=only,
        archive=archive,
        max_parallel=max_parallel,
        dry_run=dry_run,
        providers=providers,
        on_progress=on_progress,
        cancel=cancel,
        items=items,
        shared=shared,
        lock_timeout=lock_timeout,
    )


def recover(
    *,
    wal_dir: Path | str,
    forward: bool = False,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    providers: Mapping[str, Provider] | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> list[TxnResult]:
    """Finish every unfinished transaction in `wal_dir` with the providers its WAL names
    (with a WAL mirror in `shared`, also those only the mirror has: a lost runner's)."""
    from dpn_action.txn.recovery import recover as txn_recover

    return txn_recover(
        providers if providers is not None else LazyProviders(wal_providers(Path(wal_dir))),
        wal_dir=wal_dir,
        forward=forward,
        max_parallel=max_parallel,
        on_progress=on_progress,
        cancel=cancel,
        shared=shared,
        lock_timeout=lock_timeout,
    )


def wal_providers(wal_dir: Path) -> dict[str, Provider]:
    """The providers the transactions in `wal_dir` need, with the access of those that an
    unfinished one needs checked (`where`): recovery and continue-rollback act on them. With
    no AWS region configured, the AWS provider works in the region the unfinished
    transactions recorded, when they recorded one."""
    unfinished = providers_in_wal(wal_dir, unfinished=True)
    recorded = {
        str(target.get("region", ""))
        for begin in _begins(wal_dir, unfinished=True)
        if isinstance(target := (begin.get("target") or {}).get("aws"), dict)
    }
    provs = build_providers(providers_in_wal(wal_dir), plan_regions=recorded)
    where({k: v for k, v in provs.items() if k in unfinished})
    return provs


def providers_in_wal(wal_dir: Path, *, unfinished: bool = False) -> set[str]:
    """The clouds the operations of the transactions in `wal_dir` belong to (with
    `unfinished`, only of those that are not finished yet)."""
    out = {
        str(op.get("provider", ""))
        for begin in _begins(wal_dir, unfinished=unfinished)
        for op in begin.get("ops", [])
    }
    out.discard("")
    return out


def _begins(wal_dir: Path, *, unfinished: bool) -> Iterator[dict[str, Any]]:
    """The begin records of the transactions in `wal_dir` (with `unfinished`, of those that
    are not finished yet)."""
    from dpn_action.txn.model import FINAL
    from dpn_action.txn.wal import list_wal_files, read_wal

    for path in list_wal_files(Path(wal_dir)):
        records = read_wal(path).records
        if unfinished and any(
            r.get("type") == "end" and r.get("status") in FINAL for r in records[-1:]
        ):
            continue
        for rec in records[:1]:
            if rec.get("type") == "begin":
                yield rec


# ------------------------------------------------------------------------------------ read


@dataclass(frozen=True, slots=True)
class Observed:
    """What the cloud holds for one planned resource."""

    item: PlannedResource
    state: ResourceState | None
    error: str | None = None

    @property
    def exists(self) -> bool:
        return self.state is not None

    @property
    def ours(self) -> bool:
        return self.state is not None and self.state.managed_by_dpn

    def as_dict(self) -> dict[str, Any]:
        s = self.state
        return {
            "key": self.item.key,
            "type": self.item.type,
            "name": self.item.full_name,
            "exists": self.exists if self.error is None else None,
            "ours": self.ours if self.error is None else None,
            "transaction": s.transaction_id if s is not None else None,
            "resource_id": s.resource_id if s is not None else None,
            "error": self.error,
        }


def read_plan(
    items: list[PlannedResource],
    *,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    providers: Mapping[str, Provider] | None = None,
) -> list[Observed]:
    """Read every planned resource (by listing where a provider can, in parallel); a failed
    read is reported, not raised."""
    from dpn_action.txn.runner import describe
    from dpn_action.txn.survey import survey

    provs = providers
    if provs is None:
        provs = build_providers({p.provider for p in items}, plan_regions=aws_regions(items))
    check_regions(items, provs)
    where(provs)
    # what a read needs of each (its properties are not read, so no file is resolved)
    ops = [
        Operation(p.key, p.type, p.provider, p.name, depends_on=tuple(p.depends_on), scope=p.scope)
        for p in items
    ]
    walked = survey(ops, provs, max_parallel=max_parallel)
    return [
        Observed(p, walked.found.get(p.key), describe(walked.failed[p.key]))
        if p.key in walked.failed
        else Observed(p, walked.found.get(p.key))
        for p in items
    ]


# ----------------------------------------------------------------------------- cloud check

#: what a cloud check says of a planned resource
NEW, ADOPT, CONFLICT, UNKNOWN = "new", "adopt", "conflict", "unknown"


def cloud_check(
    items: list[PlannedResource],
    docs: Mapping[str, Document],
    *,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    providers: Mapping[str, Provider] | None = None,
) -> tuple[dict[str, str], list[Finding]]:
    """Read every planned resource (read-only) and say what a merge would do with it: new
    (the name is free), adopt (it exists and is dpn's), or conflict (the name is held by
    something that is not dpn's, an S3 name another account owns included: DPN140, at the
    entry); a failed read is DPN141. `docs` maps a blueprint's path to its document."""
    statuses: dict[str, str] = {}
    findings: list[Finding] = []
    for o in read_plan(items, max_parallel=max_parallel, providers=providers):
        p = o.item
        doc = docs.get(p.file)
        if o.error is not None:
            statuses[p.key] = UNKNOWN
            message = f"could not read {p.full_name} in the cloud: {o.error}"
            hint = "check the credentials: `dpn doctor`, and the read-only policy in docs"
            if doc is not None:
                findings.append(doc.finding("DPN141", message, p.pointer, hint=hint))
            continue
        if o.state is None:
            statuses[p.key] = NEW
        elif o.ours:
            statuses[p.key] = ADOPT
        else:
            statuses[p.key] = CONFLICT
            message = f"{p.full_name} already exists and is not dpn's (no managed-by: dpn mark)"
            hint = (
                "pick another name (change a naming value), or bring the resource under dpn "
                "first (`dpn adopt`) if it is yours"
            )
            if doc is not None:
                findings.append(doc.finding("DPN140", message, p.pointer, hint=hint))
    return statuses, findings


# ---------------------------------------------------------------------------------- update

#: what `dpn update` found for one resource
UPDATED = "updated"  # tags or settings changed
UNCHANGED = "unchanged"
MISSING = "missing"  # does not exist: `dpn create` makes it
RENAME = "rename"  # an old name of the same entry exists; the cloud cannot rename
NOT_OURS = "not-ours"
ERROR = "error"


@dataclass(slots=True)
class UpdateOutcome:
    item: PlannedResource
    action: str
    message: str = ""
    #: tags set (or, in a dry run, to be set)
    tags: dict[str, str] = field(default_factory=dict)
    #: tags on the resource that the blueprint no longer lists (left in place)
    extra_tags: list[str] = field(default_factory=list)
    #: settings changed in place (or, in a dry run, to be changed): blueprint properties
    settings: list[str] = field(default_factory=list)
    #: creation properties changed in the blueprint since the resource was created that
    #: the cloud cannot change in place
    not_updatable: list[str] = field(default_factory=list)
    #: for RENAME: the key of the existing resource under the old name
    old_key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.item.key,
            "action": self.action,
            "message": self.message,
            "tags": self.tags,
            "extra_tags": self.extra_tags,
            "settings": self.settings,
            "not_updatable": self.not_updatable,
            "old_key": self.old_key,
        }


def update_plan(
    items: list[PlannedResource],
    *,
    wal_dir: Path | str,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    dry_run: bool = False,
    providers: Mapping[str, Provider] | None = None,
) -> list[UpdateOutcome]:
    """Bring existing resources of ours in line with the blueprint where the cloud allows.

    Two things change in place. Tags: those the blueprint adds or changes are set
    (`Provider.tag`); those it no longer lists are reported, not removed; dpn's ownership
    marks are never touched. Settings: for the properties a provider can change without
    replacing the resource (`SettingsUpdater.settings_types`), what the cloud holds now is
    compared with the blueprint and every difference is changed (drift included). Any other
    property that differs from what the resource was created with (as its creating
    transaction recorded it) is reported as not updatable. A planned name that does not
    exist while an earlier name of the same blueprint entry does is a rename, which no
    cloud here can do in place: it is reported, nothing changes.
    """
    from dpn_action.txn.graph import walk
    from dpn_action.txn.history import committed_operations
    from dpn_action.txn.log import redact
    from dpn_action.txn.runner import describe

    provs = providers
    if provs is None:
        provs = build_providers({p.provider for p in items}, plan_regions=aws_regions(items))
    history = committed_operations(wal_dir)
    created_with = {(h.txn_id, h.key): h.properties for h in history}
    planned_keys = {p.key for p in items}
    observed = {o.item.key: o for o in read_plan(items, max_parallel=max_parallel, providers=provs)}
    ops = {op.key: op for op in to_operations(items)}
    outcomes: dict[str, UpdateOutcome] = {}

    def update(key: str) -> None:
        obs = observed[key]
        p = obs.item
        provider = provs[p.provider]
        if obs.error is not None:
            outcomes[key] = UpdateOutcome(p, ERROR, f"could not read it: {obs.error}")
            return
        state = obs.state
        if state is None:
            outcomes[key] = _missing(p, provider, history, planned_keys)
            return
        if not state.managed_by_dpn:
            outcomes[key] = UpdateOutcome(
                p, NOT_OURS, "exists and is not managed by dpn: left alone"
            )
            return
        out = UpdateOutcome(p, UNCHANGED)
        settings = settings_of(provider, p.type)
        before = created_with.get((state.transaction_id or "", key))
        if before is not None:
            # the log keeps digests of sensitive values: compare like with like
            now = redact(ops[key].properties, CATALOGUE[p.type].sensitive)
            names = (set(before) | set(now)) - settings
            out.not_updatable = sorted(n for n in names if before.get(n) != now.get(n))
        if carries_tags(provider, p.type):
            wanted = {k: v for k, v in p.tags.items() if k not in MARKS}
            out.tags = {k: v for k, v in wanted.items() if state.tags.get(k) != v}
            out.extra_tags = sorted(k for k in state.tags if k not in wanted and k not in MARKS)
            if out.tags:
                if not dry_run:
                    try:
                        provider.tag(state, dict(out.tags))
                    except Exception as exc:
                        out.action, out.message = ERROR, f"tagging failed: {describe(exc)}"
                        outcomes[key] = out
                        return
                out.action = UPDATED
        elif p.tags:
            out.message = f"{p.type} carries no tags (only dpn's ownership marks)"
        if settings and isinstance(provider, SettingsUpdater):
            resolved = {d: o.state for d in p.depends_on if (o := observed.get(d)) and o.state}
            try:
                out.settings = provider.update_settings(ops[key], state, resolved, dry_run=dry_run)
            except Exception as exc:
                out.action, out.message = ERROR, f"updating settings failed: {describe(exc)}"
                outcomes[key] = out
                return
            if out.settings:
                out.action = UPDATED
        outcomes[key] = out

    walk(list(observed), {}, update, max_parallel=max_parallel, stop_on_failure=False)
    return [outcomes[p.key] for p in items]


def _missing(
    p: PlannedResource, provider: Provider, history: list[Planned], planned_keys: set[str]
) -> UpdateOutcome:
    """A planned resource that does not exist: new, or an entry whose name changed."""
    here = origin(p)
    seen: set[str] = set()
    for h in reversed(history):
        if h.origin != here or h.key == p.key or h.key in planned_keys or h.key in seen:
            continue
        seen.add(h.key)
        if h.type_key != p.type:
            continue
        old = provider.read(h.type_key, h.name, dict(h.scope))
        if old is not None and old.managed_by_dpn:
            return UpdateOutcome(
                p,
                RENAME,
                f"the cloud cannot rename {p.type}: {h.key} exists and was made from the "
                f"same blueprint entry ({here}); `dpn create` makes {p.name} and "
                f"`dpn delete` removes the old one once nothing uses it",
                old_key=h.key,
            )
    return UpdateOutcome(p, MISSING, "does not exist: `dpn create` makes it")
