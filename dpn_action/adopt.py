"""`dpn adopt`: bring resources that exist and that dpn did not create under dpn.

The glue between the plan and the adopt transaction (`txn.adopt`): which planned resources
the names given select, what the cloud holds for each (read-only, shown before anything is
asked), and the transaction that writes dpn's mark on those the person confirmed. After it,
`dpn create` adopts them instead of reporting a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dpn_action.plan import PlannedResource
from dpn_action.providers.base import Provider, ResourceState, mark_types
from dpn_action.provision import (
    aws_regions,
    build_providers,
    context,
    providers_for,
    read_plan,
    to_operations,
)
from dpn_action.txn.lock.file import DEFAULT_LOCK_TIMEOUT
from dpn_action.txn.model import DEFAULT_MAX_PARALLEL, Cancel, ProgressCallback, TxnResult

if TYPE_CHECKING:
    from dpn_action.txn.lock import Shared

#: what `survey` says of a selected resource
ADOPT = "adopt"  # exists, not dpn's, its type can be marked
OURS = "ours"  # already carries dpn's mark
MISSING = "missing"  # does not exist: adopt creates nothing
CANNOT = "cannot"  # exists, not dpn's, but its type keeps its marks where dpn cannot add them
ERROR = "error"  # could not be read


class AdoptError(ValueError):
    """Names that select nothing in the blueprints; the message lists what they hold."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One selected resource as the cloud holds it, and what adopt would do with it."""

    item: PlannedResource
    state: ResourceState | None
    verdict: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.item.key,
            "type": self.item.type,
            "name": self.item.full_name,
            "verdict": self.verdict,
            "marks": self.state.marks if self.state is not None else None,
            "resource_id": self.state.resource_id if self.state is not None else None,
            "note": self.note,
        }


def select(items: list[PlannedResource], names: Iterable[str]) -> list[PlannedResource]:
    """The planned resources `names` name (by name, full name or key; all when none)."""
    wanted = list(names)
    if not wanted:
        return list(items)
    chosen = [p for p in items if {p.name, p.full_name, p.key} & set(wanted)]
    known = {n for p in items for n in (p.name, p.full_name, p.key)}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        listed = ", ".join(sorted(p.full_name for p in items)[:20]) or "none"
        raise AdoptError(
            f"not a resource of these blueprints: {', '.join(unknown)} (they describe: {listed})"
        )
    return chosen


def survey(
    items: list[PlannedResource],
    *,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    providers: Mapping[str, Provider] | None = None,
) -> list[Candidate]:
    """Read each resource (changing nothing) and say what adopt would do with it."""
    provs = providers
    if provs is None:
        provs = build_providers({p.provider for p in items}, plan_regions=aws_regions(items))
    out = []
    for o in read_plan(items, max_parallel=max_parallel, providers=provs):
        p, state = o.item, o.state
        if o.error is not None:
            out.append(Candidate(p, None, ERROR, f"could not read it: {o.error}"))
        elif state is None:
            out.append(Candidate(p, None, MISSING, "does not exist: adopt creates nothing"))
        elif state.managed_by_dpn:
            note = f"already dpn's (transaction {state.transaction_id or 'unknown'})"
            out.append(Candidate(p, state, OURS, note))
        elif p.type not in mark_types(provs[p.provider]):
            note = f"dpn cannot mark {p.type}: its marks do not live in tags"
            out.append(Candidate(p, state, CANNOT, note))
        else:
            out.append(Candidate(p, state, ADOPT, "exists without dpn's mark"))
    return out


def adopt_plan(
    items: list[PlannedResource],
    keys: Iterable[str],
    *,
    wal_dir: Path | str,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    providers: Mapping[str, Provider] | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> TxnResult:
    """Mark the resources of `keys` (planned in `items`) that exist and are not dpn's, as
    one logged transaction (`txn.adopt.adopt`)."""
    from dpn_action.txn.adopt import adopt

    keys = set(keys)
    chosen = [p for p in items if p.key in keys]
    ops = [
        replace(op, depends_on=tuple(d for d in op.depends_on if d in keys))
        for op in to_operations(chosen)
    ]
    return adopt(
        ops,
        providers_for(ops, Path(wal_dir), providers, chosen),
        wal_dir=wal_dir,
        max_parallel=max_parallel,
        on_progress=on_progress,
        context=context(chosen),
        cancel=cancel,
        shared=shared,
        lock_timeout=lock_timeout,
    )
