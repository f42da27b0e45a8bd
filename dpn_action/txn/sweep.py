"""Sweeping orphans: what the logs say about who owns what, and the delete transaction that
removes resources a listing found (`dpn sweep --delete`).

A sweep finds resources by their marks (`managed-by: dpn`, `dpn-transaction: <id>`), not by
any log. The logs it can see (the WAL directory, and the WAL mirror in team mode) only keep
it from touching what an unfinished transaction owns, or what a person retained.

The delete is a transaction of kind `delete` (its begin record also says `sweep: true`), so
recovery finishes an interrupted one like any delete. Holding the locks, after earlier
transactions were recovered, it reads every resource again where the listing found it and
records as targets only those that still carry the marks the listing saw (the same
`dpn-transaction`), are owned by no unfinished transaction, and hold nothing that stays;
then each is deleted through the rollback's steps, whose ownership check
(`providers.base.not_ours`) runs once more right before the delete call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpn_action.providers.base import Operation, Provider, ResourceState, locate, not_ours
from dpn_action.txn.crash import crash_point
from dpn_action.txn.errors import WalCorruptError
from dpn_action.txn.executor import _checked, _transaction
from dpn_action.txn.graph import dependents_of, walk
from dpn_action.txn.lock import DEFAULT_LOCK_TIMEOUT, Shared
from dpn_action.txn.log import KIND_DELETE, PREFLIGHT, TxnLog, state_to_json
from dpn_action.txn.mirror import MirrorStore, finished, unframe
from dpn_action.txn.model import (
    DEFAULT_MAX_PARALLEL,
    FINAL,
    Cancel,
    ProgressCallback,
    TxnResult,
    TxnStatus,
    summarise_errors,
)
from dpn_action.txn.runner import Run, _Counter, describe
from dpn_action.txn.wal import DEFAULT_WAL_DIR, list_wal_files, read_wal, txn_id_of

#: the begin record's field that tells a sweep's delete transaction from `dpn delete`'s
SWEEP_FIELD = "sweep"


@dataclass(slots=True)
class Logs:
    """What the logs a sweep can see say about ownership."""

    #: transaction id -> why it counts as open (unfinished, ROLLBACK_FAILED, damaged)
    open: dict[str, str] = field(default_factory=dict)
    #: (key, the transaction that made it) -> why a person kept it (continue-rollback)
    retained: dict[tuple[str, str], str] = field(default_factory=dict)
    #: the resource types the logs' transactions planned
    types: set[str] = field(default_factory=set)
    #: the transactions known to be finished
    finished: set[str] = field(default_factory=set)
    #: logs of the mirror that could not be read (`txn-<id>`: why)
    unreadable: dict[str, str] = field(default_factory=dict)


def read_logs(wal_dir: Path, mirror: MirrorStore | None = None) -> Logs:
    """What the logs in `wal_dir`, and the unfinished ones of `mirror`, say. Changes nothing
    and takes no lock: a log being written shows as open, which keeps what it owns."""
    out = Logs()
    local: set[str] = set()
    for path in list_wal_files(wal_dir) if wal_dir.is_dir() else []:
        txn_id = txn_id_of(path)
        local.add(txn_id)
        try:
            log = TxnLog.from_read(read_wal(path))
        except WalCorruptError as exc:
            out.open[txn_id] = f"its log is damaged ({exc.reason})"
            continue
        out.types.update(op.type_key for op in log.ops.values())
        if log.status is TxnStatus.ROLLBACK_FAILED:
            out.open[txn_id] = "it ended ROLLBACK_FAILED (`dpn recover --continue-rollback`)"
        elif log.status not in FINAL:
            out.open[txn_id] = "it is unfinished (running, or a crash left it: `dpn recover`)"
        else:
            out.finished.add(txn_id)
        for key in log.result().retained:
            out.retained[(key, txn_id)] = (
                f"retained by `dpn recover --continue-rollback` ({txn_id})"
            )
    if mirror is not None:
        _read_mirror(mirror, local, out)
    return out


def _read_mirror(store: MirrorStore, local: set[str], out: Logs) -> None:
    """The mirror's transactions that are not marked finished: each whose copy does not end
    it is open (a copy that cannot be read counts as open too)."""
    ids, done = store.list()
    out.finished |= done & ids
    for txn_id in sorted(ids - done):
        found = store.get(txn_id)
        if found is None:
            continue
        where = f"{store.url} (transaction {txn_id})"
        try:
            _, wal = unframe(found[0], where)
        except Exception as exc:
            out.unreadable[txn_id] = str(exc)
            out.open.setdefault(txn_id, "its copy in the WAL mirror cannot be read")
            continue
        out.types.update(_types_of(wal))
        if not finished(wal) and txn_id not in local:
            out.open[txn_id] = "it is unfinished in the WAL mirror (a lost runner's: `dpn recover`)"
        elif not finished(wal):
            out.open.setdefault(txn_id, "it is unfinished in the WAL mirror")


def _types_of(wal: bytes) -> set[str]:
    """The types a log's begin record plans (nothing when it has none)."""
    try:
        begin = json.loads(wal.partition(b"\n")[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return set()
    ops = begin.get("ops") if isinstance(begin, dict) else None
    return {str(op["type_key"]) for op in ops or [] if isinstance(op, dict) and "type_key" in op}


def named_by_others(
    wal_dir: Path,
    mirror: MirrorStore | None,
    *,
    known: Iterable[str] = (),
    exclude: str = "",
) -> dict[str, str]:
    """key -> the transaction that names it, of every transaction in `wal_dir` or `mirror`
    but those `known` to have finished when a listing began: what such a transaction did
    (one unfinished then, or begun since), the listing may not show. A log that cannot be
    read names everything (`*`)."""
    skip = set(known) | {exclude}
    out: dict[str, str] = {}

    def take(txn_id: str, keys: Iterable[str]) -> None:
        for key in keys:
            out.setdefault(key, txn_id)

    local: set[str] = set()
    for path in list_wal_files(wal_dir) if wal_dir.is_dir() else []:
        txn_id = txn_id_of(path)
        local.add(txn_id)
        if txn_id in skip:
            continue
        try:
            take(txn_id, TxnLog.from_read(read_wal(path)).ops)
        except WalCorruptError:
            take(txn_id, ["*"])
    if mirror is not None:
        ids, _ = mirror.list()
        for txn_id in sorted(ids - local - skip):
            found = mirror.get(txn_id)
            if found is None:
                continue
            try:
                _, wal = unframe(found[0], f"{mirror.url} (transaction {txn_id})")
            except Exception:
                take(txn_id, ["*"])
                continue
            take(txn_id, _keys_of(wal))
    return out


def _keys_of(wal: bytes) -> list[str]:
    try:
        begin = json.loads(wal.partition(b"\n")[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ["*"]
    ops = begin.get("ops") if isinstance(begin, dict) else None
    return [str(op["key"]) for op in ops or [] if isinstance(op, dict) and "key" in op]


def sweep(
    operations: Iterable[Operation],
    listed: Mapping[str, ResourceState],
    providers: Mapping[str, Provider],
    *,
    wal_dir: Path | str = DEFAULT_WAL_DIR,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_progress: ProgressCallback | None = None,
    context: Mapping[str, object] | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
    known: Iterable[str] = (),
) -> TxnResult:
    """Delete the resources a listing found (`listed`: key -> the resource with the marks
    the listing saw), one per operation, as one delete transaction.

    Holding the locks (and after recovering earlier transactions, like every transaction),
    each is read again: it is removed only if it still carries the marks the listing saw,
    no unfinished transaction owns it, and no transaction the listing may not reflect names
    it: any but those `known` to have finished when the listing began (one may have adopted
    it since, for a blueprint that describes it again). The rest is kept with the reason
    (`kept`); so is a resource that something kept is named within (a Glue database that
    holds a kept table).
    Ends `DELETED`, `NOTHING_TO_DO`, `FAILED` (a read failed: nothing deleted) or
    `ROLLBACK_FAILED` (a delete the cloud refused), like `executor.destroy`.
    """
    ops = _checked(operations, providers, max_parallel)
    missing = [op.key for op in ops if op.key not in listed]
    if missing:
        raise ValueError(f"no listed resource for {', '.join(missing)}")
    begin: dict[str, Any] = {"kind": KIND_DELETE, "archive": False, SWEEP_FIELD: True}
    if context:
        begin["context"] = dict(context)
    return _transaction(
        ops,
        providers,
        Path(wal_dir),
        begin,
        lambda run: _sweep(run, listed, shared.mirror if shared is not None else None, set(known)),
        purpose="sweep",
        max_parallel=max_parallel,
        lock_timeout=lock_timeout,
        on_progress=on_progress,
        cancel=cancel,
        shared=shared,
    )


def _sweep(
    run: Run,
    listed: Mapping[str, ResourceState],
    mirror: MirrorStore | None,
    known: set[str],
) -> TxnResult:
    log = run.log
    wal_dir = log.path.parent if log.path is not None else Path(DEFAULT_WAL_DIR)
    # recovered under these locks moments ago; what is still open now keeps what it owns
    still_open = {k: v for k, v in read_logs(wal_dir).open.items() if k != run.txn_id}
    named = named_by_others(wal_dir, mirror, known=known, exclude=run.txn_id)
    found: dict[str, ResourceState | None] = {}
    counter = _Counter("preflight", len(log.ops), run.txn_id, run.progress)

    def read(key: str) -> None:
        op = log.ops[key]
        found[key] = locate(run.providers[op.provider], listed[key])

    walked = walk(
        list(log.ops),
        {},
        read,
        max_parallel=run.max_parallel,
        stop_on_failure=False,
        on_start=counter.start,
        on_finish=lambda key, exc: counter.finish(key, "failed" if exc else "ok"),
    )
    errors = {k: describe(e) for k, e in walked.failed.items()}
    kept: dict[str, str] = {}
    changed: dict[str, ResourceState] = {}
    targets: dict[str, ResourceState] = {}
    for key in log.ops:
        now = found.get(key)
        if key in errors or now is None:
            continue
        reason = not_ours(listed[key], now)
        if reason is not None:
            kept[key] = f"not ours: kept ({reason}; it changed since it was listed)"
            changed[key] = now
        elif now.transaction_id in still_open:
            owner = now.transaction_id
            kept[key] = f"transaction {owner} owns it: {still_open[owner]}"
        elif (by := named.get(key.partition("#")[0]) or named.get("*")) is not None:
            kept[key] = (
                f"transaction {by}, which the listing may not reflect, names it (a blueprint "
                "may describe it again): sweep again to decide"
            )
        else:
            targets[key] = now
    for key, why in _holding(log.ops.values(), set(targets), set(kept)).items():
        kept[key] = why
        targets.pop(key, None)
    run.record(
        PREFLIGHT,
        {
            "absent": [k for k in log.ops if k not in errors and found.get(k) is None],
            "adopted": {},
            "conflicts": {k: state_to_json(s) for k, s in changed.items()},
            "targets": {k: state_to_json(s) for k, s in targets.items()},
            "kept": kept,
            "errors": errors,
        },
    )
    crash_point("after-preflight")
    if errors:
        return run.end(TxnStatus.FAILED, "pre-flight read failed: " + summarise_errors(errors))
    if not targets:
        return run.end(TxnStatus.NOTHING_TO_DO)
    return run.abort_and_roll_back(
        f"dpn sweep: delete {len(targets)} resources no blueprint describes"
    )


def _holding(ops: Iterable[Operation], targets: set[str], kept: set[str]) -> dict[str, str]:
    """Targets that something staying depends on (is named within): they stay too."""
    dependents = dependents_of(ops)
    out: dict[str, str] = {}
    staying = set(kept)
    changed = True
    while changed:
        changed = False
        for key in sorted(targets - set(out)):
            held = [d for d in dependents.get(key, []) if d in staying]
            if held:
                out[key] = f"{held[0]} is in it and stays"
                staying.add(key)
                changed = True
    return out
