"""Finish what a crash interrupted, settle failed rollbacks, and list every transaction."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from dpn_action.providers.base import Provider, identity
from dpn_action.txn.crash import crash_point
from dpn_action.txn.errors import PlanError, TxnError, WalCorruptError
from dpn_action.txn.lock import DEFAULT_LOCK_TIMEOUT, Guard, Shared
from dpn_action.txn.log import KIND_ADOPT, KIND_DELETE, MARK, MARKED, RECOVER, SKIPPED, TxnLog
from dpn_action.txn.model import (
    DEFAULT_MAX_PARALLEL,
    IN_DOUBT,
    PRESENT,
    Cancel,
    KeyState,
    ProgressCallback,
    TxnResult,
    TxnStatus,
)
from dpn_action.txn.runner import Run, host_info
from dpn_action.txn.wal import (
    DEFAULT_WAL_DIR,
    WalRead,
    WalWriter,
    keep_copy,
    list_wal_files,
    read_wal,
    txn_id_of,
    wal_path,
)


def recover(
    providers: Mapping[str, Provider],
    *,
    wal_dir: Path | str = DEFAULT_WAL_DIR,
    forward: bool = False,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
) -> list[TxnResult]:
    """Finish every unfinished transaction in `wal_dir`, oldest first.

    Creates in doubt (an intent without outcome, or a call that raised) are settled by
    reading the resource: it was created if it exists and carries the transaction's tag.
    A transaction whose every operation is then known done is completed (committed work is
    never undone, whatever happened to its last records); any other is rolled back, or with
    `forward` completed, unless it had already decided to roll back. A log made in another
    account or workspace than the providers' is refused (`TxnError`), never acted on.
    Returns one result per transaction that needed work, plus the `ROLLBACK_FAILED` ones,
    which are left for `continue_rollback`. With `shared` (team mode) it holds the lease
    too, and first brings in the WAL mirror's logs of unfinished transactions: a transaction
    whose runner was lost is finished from the mirror, on any machine.
    """
    wal_dir = Path(wal_dir)
    with Guard(wal_dir, timeout=lock_timeout, purpose="recover", shared=shared) as guard:
        return recover_locked(
            wal_dir,
            providers,
            forward=forward,
            max_parallel=max_parallel,
            on_progress=on_progress,
            cancel=cancel,
            guard=guard,
        )


def recover_locked(
    wal_dir: Path,
    providers: Mapping[str, Provider],
    *,
    forward: bool = False,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    on_progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    guard: Guard | None = None,
) -> list[TxnResult]:
    """`recover` for a caller that already holds the WAL lock (the executor); `guard` is
    what it holds, when it holds a lease or mirrors the WAL."""
    results: list[TxnResult] = []
    for path in list_wal_files(wal_dir):
        read = read_wal(path)
        log = TxnLog.from_read(read)
        if log.finished:
            continue
        if log.records == 0:
            results.append(_set_aside(read))
            continue
        if log.status is TxnStatus.ROLLBACK_FAILED:
            results.append(log.result())
            continue
        run = _open_run(path, providers, max_parallel, on_progress, cancel, guard)
        results.append(_recover_one(run, forward=forward))
    return results


def _set_aside(read: WalRead) -> TxnResult:
    """A file without a complete begin record: nothing was ever sent to a cloud (the begin
    record is durable before anything else). It is moved aside, keeping its bytes."""
    copy = keep_copy(read.path)
    os.unlink(read.path)
    return TxnResult(
        txn_id_of(read.path),
        TxnStatus.NEVER_STARTED,
        wal_path=copy,
        error=f"no complete begin record ({read.torn or 'empty file'}): nothing was sent to a "
        f"cloud; the file was set aside as {copy.name}",
    )


def check_target(log: TxnLog, providers: Mapping[str, Provider]) -> None:
    """Refuse a log made in another account, region or workspace than `providers` act in."""
    for name, recorded in sorted(log.target.items()):
        provider = providers.get(name)
        current = identity(provider) if provider is not None else None
        if not current:
            continue
        differ = {
            k: (v, current[k]) for k, v in recorded.items() if k in current and current[k] != v
        }
        if differ:
            was = ", ".join(f"{k} {v[0]}" for k, v in sorted(differ.items()))
            now = ", ".join(f"{k} {v[1]}" for k, v in sorted(differ.items()))
            raise PlanError(
                f"transaction {log.txn_id} ({log.path}) was made in {name} {was}, but this run "
                f"is configured for {name} {now}: its log is not acted on here. Recover it with "
                "the credentials it was made with, or move the file out of this WAL directory "
                "if it does not belong to it."
            )


def _open_run(
    path: Path,
    providers: Mapping[str, Provider],
    max_parallel: int,
    on_progress: ProgressCallback | None,
    cancel: Cancel | None = None,
    guard: Guard | None = None,
) -> Run:
    log = TxnLog.from_read(read_wal(path))
    missing = sorted({op.provider for op in log.ops.values()} - set(providers))
    if missing:
        raise PlanError(
            f"transaction {log.txn_id} ({path}) needs providers {', '.join(missing)}, "
            "which are not configured; cannot recover it"
        )
    check_target(log, providers)
    hook = guard.hook(log.txn_id, new=False) if guard is not None else None
    writer, read = WalWriter.open(path, hook)  # repairs a torn last record, keeping a copy
    log = TxnLog.from_read(read)
    return Run(
        log, writer, providers, max_parallel=max_parallel, progress=on_progress, cancel=cancel
    )


def _recover_one(run: Run, *, forward: bool) -> TxnResult:
    log = run.log
    with run.writer:
        if log.kind == KIND_DELETE:
            return _recover_delete(run)
        if log.kind == KIND_ADOPT:
            return _recover_adopt(run)
        mode = "forward" if forward and log.abort_reason is None else "rollback"
        run.record(RECOVER, {"mode": mode, "torn": log.torn, **host_info()})
        crash_point("recovery-after-start")
        run.resolve_in_doubt(include_pending=log.torn)
        crash_point("recovery-after-resolve")
        unmarked = [k for k, i in log.keys.items() if i.unmarked]
        if log.abort_reason is None and log.preflighted and not unmarked and _all_done(log):
            # Every operation is known done: this is committed work whose end record was
            # lost or damaged. It is completed, never undone.
            done = any(i.ever_created for i in log.keys.values())
            return run.end(TxnStatus.COMMITTED if done else TxnStatus.NOTHING_TO_DO)
        if mode == "forward" and not log.keys_in(IN_DOUBT) and not unmarked:
            return run.forward()
        reason = log.abort_reason or "recovery: rolled back a transaction a crash interrupted"
        if mode == "forward" and unmarked:
            reason = (
                "recovery: not completed, because the create of "
                f"{', '.join(unmarked)} was interrupted before its ownership marks were written"
            )
        return run.abort_and_roll_back(reason)


def _all_done(log: TxnLog) -> bool:
    return all(i.state in (KeyState.CREATED, KeyState.ADOPTED) for i in log.keys.values())


def _recover_delete(run: Run) -> TxnResult:
    """An interrupted delete transaction is finished, never undone: what it chose to remove
    is removed. Interrupted before it chose, it ends FAILED with nothing removed."""
    log = run.log
    run.record(RECOVER, {"mode": "delete", "torn": log.torn, **host_info()})
    crash_point("recovery-after-start")
    if not log.preflighted:
        return run.end(
            TxnStatus.FAILED,
            "interrupted before it chose what to delete; nothing was deleted (run it again)",
        )
    return run.abort_and_roll_back("dpn delete: finishing an interrupted delete")


def _recover_adopt(run: Run) -> TxnResult:
    """An interrupted adopt (`txn.adopt`) is ended as it stands: marks are never taken
    back. It ends FAILED, saying what was marked and what is in doubt."""
    records = read_wal(run.writer.path).records
    marked = [str(r["key"]) for r in records if r.get("type") == MARKED]
    doubt = [str(r["key"]) for r in records if r.get("type") == MARK and r["key"] not in marked]
    run.record(RECOVER, {"mode": "adopt", "torn": run.log.torn, **host_info()})
    parts = [f"interrupted; marked: {', '.join(marked) or 'nothing'}"]
    if doubt:
        parts.append(f"may or may not be marked: {', '.join(doubt)} (`dpn read` shows which)")
    parts.append("run `dpn adopt` again for the rest")
    return run.end(TxnStatus.FAILED, "; ".join(parts))


def continue_rollback(
    txn_id: str,
    providers: Mapping[str, Provider],
    *,
    wal_dir: Path | str = DEFAULT_WAL_DIR,
    skip: Iterable[str] = (),
    retain: Iterable[str] = (),
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_progress: ProgressCallback | None = None,
    shared: Shared | None = None,
) -> TxnResult:
    """Finish the rollback of a `ROLLBACK_FAILED` transaction.

    Every resource still left is deleted again (or, if in doubt, read again), except:
    `skip` keys are taken as already gone and not touched; `retain` keys are kept, and so is
    everything they depend on that the transaction created. Both are recorded in the WAL.
    """
    wal_dir = Path(wal_dir)
    skip, retain = list(skip), list(retain)
    guarded = Guard(wal_dir, timeout=lock_timeout, purpose="continue-rollback", shared=shared)
    with guarded as guard:
        guard.set_txn(txn_id)
        path = wal_path(wal_dir, txn_id)
        if not path.exists():
            raise TxnError(f"no transaction {txn_id} in {wal_dir}")
        log = TxnLog.from_read(read_wal(path))
        if log.status is not TxnStatus.ROLLBACK_FAILED:
            state = log.status or TxnStatus.UNFINISHED
            hint = " (use recover for unfinished transactions)" if log.status is None else ""
            raise TxnError(f"transaction {txn_id} is {state}, not ROLLBACK_FAILED{hint}")
        open_keys = set(log.keys_in(PRESENT | IN_DOUBT))
        settled = set(log.keys_in({KeyState.SKIPPED, KeyState.RETAINED}))  # by an earlier try
        unknown = [k for k in [*skip, *retain] if k not in open_keys | settled]
        if unknown:
            raise TxnError(
                f"transaction {txn_id} has nothing left under {', '.join(unknown)}; "
                f"left: {', '.join(sorted(open_keys)) or 'nothing'}"
            )
        both = set(skip) & set(retain)
        if both:
            raise TxnError(f"cannot both skip and retain {', '.join(sorted(both))}")
        run = _open_run(path, providers, max_parallel, on_progress, guard=guard)
        with run.writer:
            run.record(
                RECOVER,
                {"mode": "continue-rollback", "skip": skip, "retain": retain, **host_info()},
            )
            crash_point("recovery-after-start")
            for key in skip:
                if key in open_keys:
                    run.record(SKIPPED, {"key": key, "reason": "declared gone by the operator"})
            for key in retain:
                run.retain(key, "kept by the operator")
            return run.roll_back()


def pull_mirror(
    wal_dir: Path | str, shared: Shared | None, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> None:
    """Holding the locks, bring the WAL mirror's logs of unfinished transactions into
    `wal_dir` (`txn.mirror.Mirror.pull`), so that `status` lists them too."""
    with Guard(Path(wal_dir), timeout=lock_timeout, purpose="recover", shared=shared):
        pass


def status(wal_dir: Path | str = DEFAULT_WAL_DIR) -> list[TxnResult]:
    """Every transaction in `wal_dir` with its state, oldest first. Changes nothing.

    Without the lock a running transaction shows as UNFINISHED, and a damaged log as
    CORRUPT with the reason in `error`.
    """
    out: list[TxnResult] = []
    for path in list_wal_files(Path(wal_dir)):
        try:
            read = read_wal(path)
        except WalCorruptError as exc:
            out.append(TxnResult(txn_id_of(path), TxnStatus.CORRUPT, wal_path=path, error=str(exc)))
            continue
        log = TxnLog.from_read(read)
        if log.records == 0:
            out.append(
                TxnResult(
                    txn_id_of(path),
                    TxnStatus.NEVER_STARTED,
                    wal_path=path,
                    error=f"no complete begin record ({read.torn or 'empty file'}): nothing was "
                    "sent to a cloud; `dpn recover` sets the file aside",
                )
            )
            continue
        result = log.result()
        if read.torn:
            note = f"last record torn ({read.torn}); recovery will truncate it"
            result.error = f"{result.error}; {note}" if result.error else note
        out.append(result)
    return out
