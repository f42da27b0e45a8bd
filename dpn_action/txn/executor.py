"""Apply a plan: lock, finish earlier transactions, pre-flight, create, commit or roll back."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path

from dpn_action.providers.base import (
    CloudAccessError,
    Operation,
    Provider,
    archive_types,
    identity,
)
from dpn_action.txn.crash import crash_point
from dpn_action.txn.errors import TxnError, UnfinishedTransactionError
from dpn_action.txn.graph import validate_plan
from dpn_action.txn.lock import DEFAULT_LOCK_TIMEOUT, Guard, Shared
from dpn_action.txn.log import KIND_DELETE, TxnLog, op_to_json
from dpn_action.txn.model import (
    DEFAULT_MAX_PARALLEL,
    Cancel,
    Conflict,
    ProgressCallback,
    TxnResult,
    TxnStatus,
    summarise_errors,
)
from dpn_action.txn.recovery import recover_locked
from dpn_action.txn.runner import Run, delete_targets, describe, host_info, preflight
from dpn_action.txn.wal import DEFAULT_WAL_DIR, WalWriter, new_txn_id


def apply(
    operations: Iterable[Operation],
    providers: Mapping[str, Provider],
    *,
    wal_dir: Path | str = DEFAULT_WAL_DIR,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    dry_run: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_progress: ProgressCallback | None = None,
    origins: Mapping[str, str] | None = None,
    context: Mapping[str, object] | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
) -> TxnResult:
    """Create `operations` as one transaction, all or nothing.

    Holding the WAL lock, first finishes every unfinished earlier transaction (rolling it
    back), then reads every planned resource: one that exists and is ours is adopted, one
    that exists and is not ours is a conflict and nothing is created. Then creates the rest
    in dependency order, at most `max_parallel` at a time. On the first failure nothing new
    starts, running calls finish, and everything this transaction created is deleted again.

    `dry_run` only runs the pre-flight reads: no lock, no WAL, nothing created.
    `origins` (key -> the blueprint entry it comes from, `file#pointer`) is kept in the
    begin record, so a later `dpn update` can tell a renamed entry from a new one; so is
    `context` (what the plan was made from: environment, blueprints) and where each
    provider acts (`providers.base.identity`), which recovery checks. `cancel`, once set
    (by a signal), stops it like a failure: nothing new starts, and it rolls back.
    `shared` (team mode) adds a lease lock in a shared store and the WAL mirror
    (`txn.lock.Guard`).
    Raises `PlanError` for an invalid plan, `LockTimeoutError` when another process keeps
    the lock, `FencedError` when the lease is lost while it runs (the transaction is left
    to the lock's next holder), `UnfinishedTransactionError` when an earlier transaction
    needs a person (`ROLLBACK_FAILED`), `WalCorruptError` for a damaged WAL.
    """
    ops = _checked(operations, providers, max_parallel)
    if dry_run:
        return _dry_run(ops, providers, max_parallel, on_progress)
    begin: dict[str, object] = {}
    if origins:
        begin["origins"] = {k: v for k, v in origins.items() if k in {op.key for op in ops}}
    if context:
        begin["context"] = dict(context)
    return _transaction(
        ops,
        providers,
        Path(wal_dir),
        begin,
        lambda run: run.forward(),
        purpose="apply",
        max_parallel=max_parallel,
        lock_timeout=lock_timeout,
        on_progress=on_progress,
        cancel=cancel,
        shared=shared,
    )


def destroy(
    operations: Iterable[Operation],
    providers: Mapping[str, Provider],
    *,
    wal_dir: Path | str = DEFAULT_WAL_DIR,
    only: Collection[str] | None = None,
    archive: bool = False,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    dry_run: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_progress: ProgressCallback | None = None,
    context: Mapping[str, object] | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
) -> TxnResult:
    """Delete the planned resources that exist and are ours, as one delete transaction.

    A resource is removed only if it carries `managed-by: dpn` (and, with `only`, its key is
    listed there); anything else that exists stays, and so does whatever a staying resource
    depends on. With `archive`, each resource is archived by its provider instead of deleted
    (`providers.base.Archiver`); a type that cannot be archived stays. Removal runs
    dependents first, through the same logged steps as a rollback: an interrupted delete is
    finished by `recover`, and one whose cloud calls fail ends `ROLLBACK_FAILED` with the
    list left, for `continue_rollback`. Success ends `DELETED`.

    `dry_run` only reads: the result (status PLANNED) lists `targets` and `kept`.
    """
    ops = _checked(operations, providers, max_parallel)

    def can_archive(op: Operation) -> bool:
        return op.type_key in archive_types(providers[op.provider])

    archiving = can_archive if archive else None
    if dry_run:
        pre = preflight(ops, providers, None, max_parallel=max_parallel, progress=on_progress)
        found = {**pre.adopted, **pre.conflicts}
        targets, kept = delete_targets(ops, found, only=only, can_archive=archiving)
        status = TxnStatus.PLANNED if targets else TxnStatus.NOTHING_TO_DO
        result = TxnResult(None, status, targets=targets, kept=kept, kind=KIND_DELETE)
        result.resources = {k: s for k, s in found.items()}
        if pre.errors:
            result.status = TxnStatus.FAILED
            result.error = "pre-flight read failed: " + summarise_errors(pre.errors)
        return result
    begin: dict[str, object] = {"kind": KIND_DELETE, "archive": archive}
    if context:
        begin["context"] = dict(context)
    return _transaction(
        ops,
        providers,
        Path(wal_dir),
        begin,
        lambda run: run.destroy(None if only is None else set(only), archiving),
        purpose="delete",
        max_parallel=max_parallel,
        lock_timeout=lock_timeout,
        on_progress=on_progress,
        cancel=cancel,
        shared=shared,
    )


def _checked(
    operations: Iterable[Operation], providers: Mapping[str, Provider], max_parallel: int
) -> list[Operation]:
    """The operations, once the plan and the parallelism are valid (`PlanError` if not)."""
    ops = list(operations)
    validate_plan(ops, providers)
    if max_parallel < 1:
        raise ValueError("max_parallel must be at least 1")
    return ops


def _transaction(
    ops: list[Operation],
    providers: Mapping[str, Provider],
    wal_dir: Path,
    begin_fields: Mapping[str, object],
    body: Callable[[Run], TxnResult],
    *,
    purpose: str,
    max_parallel: int,
    lock_timeout: float,
    on_progress: ProgressCallback | None,
    cancel: Cancel | None,
    shared: Shared | None = None,
) -> TxnResult:
    """Lock, finish earlier transactions, write `begin`, run `body`."""
    target = _target(ops, providers)
    with Guard(wal_dir, timeout=lock_timeout, purpose=purpose, shared=shared) as guard:
        recovered = recover_locked(
            wal_dir, providers, max_parallel=max_parallel, on_progress=on_progress, guard=guard
        )
        stuck = [r for r in recovered if r.status is TxnStatus.ROLLBACK_FAILED]
        if stuck:
            raise UnfinishedTransactionError(
                [r.txn_id or "" for r in stuck], _stuck_message(stuck, wal_dir)
            )
        txn_id = new_txn_id()
        guard.set_txn(txn_id)
        begin = {
            **begin_fields,
            "ops": [op_to_json(op) for op in ops],
            "max_parallel": max_parallel,
            "target": target,
            **host_info(),
        }
        with WalWriter.create(wal_dir, txn_id, begin, guard.hook(txn_id, new=True)) as writer:
            log = TxnLog(txn_id, writer.path)
            log.feed(writer.begin_record)
            log.ops = {op.key: op for op in ops}  # the values, not the log's digests
            log.values_known = True
            crash_point("after-begin")
            run = Run(
                log,
                writer,
                providers,
                max_parallel=max_parallel,
                progress=on_progress,
                cancel=cancel,
            )
            result = body(run)
    result.recovered = recovered
    return result


def _target(ops: list[Operation], providers: Mapping[str, Provider]) -> dict[str, object]:
    """Where each provider the plan uses acts, for the begin record. Asking may be the first
    call to a cloud: when it fails, nothing has been written yet."""
    out: dict[str, object] = {}
    for name in sorted({op.provider for op in ops}):
        try:
            found = identity(providers[name])
        except CloudAccessError as exc:
            raise TxnError(str(exc)) from exc
        except Exception as exc:
            raise TxnError(f"cannot tell where the {name} provider acts: {describe(exc)}") from exc
        if found:
            out[name] = found
    return out


def _dry_run(
    ops: list[Operation],
    providers: Mapping[str, Provider],
    max_parallel: int,
    on_progress: ProgressCallback | None,
) -> TxnResult:
    pre = preflight(ops, providers, None, max_parallel=max_parallel, progress=on_progress)
    result = TxnResult(
        txn_id=None,
        status=TxnStatus.PLANNED,
        adopted=list(pre.adopted),
        to_create=list(pre.absent),
        conflicts=[Conflict(k, s) for k, s in pre.conflicts.items()],
        resources=dict(pre.adopted),
    )
    if pre.errors:
        result.status = TxnStatus.FAILED
        result.error = "pre-flight read failed: " + summarise_errors(pre.errors)
    elif pre.conflicts:
        result.status = TxnStatus.CONFLICT
        result.error = "already exist and are not managed by dpn: " + ", ".join(pre.conflicts)
    elif not pre.absent:
        result.status = TxnStatus.NOTHING_TO_DO
    return result


def _stuck_message(stuck: list[TxnResult], wal_dir: Path) -> str:
    lines = [
        "an earlier transaction could not be rolled back completely; "
        "nothing new is applied until it is settled:"
    ]
    for result in stuck:
        lines.append(f"  {result.txn_id}: {result.error or 'rollback failed'}")
        lines.extend(f"    left: {item.key} ({item.reason})" for item in result.left)
    lines.append(
        f"Fix the cause and run `dpn recover --continue-rollback <txn>` (WAL directory "
        f"{wal_dir}); --skip KEY for what is already gone, --retain KEY to keep a resource."
    )
    return "\n".join(lines)
