"""Planned resources -> provider operations -> one transaction.

The glue between the naming core (what to create, in which order) and the transaction
core (how to create it safely). Cloud SDKs are imported only when a provider of that cloud
is actually needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from dpn_action.plan import PlannedResource
from dpn_action.providers.base import Operation, Provider
from dpn_action.txn.model import ProgressCallback, TxnResult


def to_operations(items: Iterable[PlannedResource]) -> list[Operation]:
    return [
        Operation(
            key=p.key,
            type_key=p.type,
            provider=p.provider,
            name=p.name,
            properties=dict(p.properties),
            tags=dict(p.tags),
            depends_on=tuple(p.depends_on),
            refs=dict(p.refs),
            scope=dict(p.scope),
        )
        for p in items
    ]


def build_providers(names: Iterable[str]) -> dict[str, Provider]:
    """One provider per cloud named, from the standard configuration of that cloud."""
    out: dict[str, Provider] = {}
    for name in sorted(set(names)):
        if name == "aws":
            from dpn_action.providers.aws import AwsProvider

            out[name] = AwsProvider()
        elif name == "databricks":
            from dpn_action.providers.databricks import DatabricksProvider

            out[name] = DatabricksProvider()
        else:  # pragma: no cover - the catalogue only names these two
            raise ValueError(f"unknown provider {name!r}")
    return out


def apply_plan(
    items: list[PlannedResource],
    *,
    wal_dir: Path | str,
    max_parallel: int = 8,
    dry_run: bool = False,
    providers: Mapping[str, Provider] | None = None,
    on_progress: ProgressCallback | None = None,
) -> TxnResult:
    """Create every planned resource as one transaction (see `dpn_action.txn.executor`)."""
    from dpn_action.txn.executor import apply

    ops = to_operations(items)
    provs = providers if providers is not None else build_providers(o.provider for o in ops)
    return apply(
        ops,
        provs,
        wal_dir=wal_dir,
        max_parallel=max_parallel,
        dry_run=dry_run,
        on_progress=on_progress,
    )


def recover(
    *,
    wal_dir: Path | str,
    forward: bool = False,
    max_parallel: int = 8,
    providers: Mapping[str, Provider] | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[TxnResult]:
    """Finish every unfinished transaction in `wal_dir` with the providers its WAL names."""
    from dpn_action.txn.recovery import recover as txn_recover

    provs = providers if providers is not None else build_providers(providers_in_wal(Path(wal_dir)))
    return txn_recover(
        provs, wal_dir=wal_dir, forward=forward, max_parallel=max_parallel, on_progress=on_progress
    )


def providers_in_wal(wal_dir: Path) -> set[str]:
    """The clouds the operations of every transaction in `wal_dir` belong to."""
    from dpn_action.txn.wal import list_wal_files, read_wal

    out: set[str] = set()
    for path in list_wal_files(wal_dir):
        for rec in read_wal(path).records:
            if rec.get("type") == "begin":
                out.update(op.get("provider", "") for op in rec.get("ops", []))
    out.discard("")
    return out
