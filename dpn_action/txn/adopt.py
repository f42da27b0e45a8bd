"""Adopting: writing dpn's ownership marks on resources that exist and that dpn did not make.

An adopt transaction holds the same locks as any other (and so waits for a running apply,
and recovers what is unfinished first), logs every mark it writes, and changes nothing but
the marks (`providers.base.Marker`). Its records, after `begin` (`kind: adopt`):

* `adopt-preflight`: `targets` (key -> the resource as found) and `skipped` (key -> why
  not), after reading every selected resource and before any mark;
* `mark`: `key`, `marks`, before the call that writes them;
* `marked`: `key`, `resource` (as it is now), the moment the call returns;
* `mark-failed`: `key`, `error`, the moment it raises;
* `end`: `status` (`COMMITTED`: every target marked; `NOTHING_TO_DO`; `FAILED`), `error`.

A resource is marked only if it exists, carries no `managed-by: dpn` mark, and its type can
be marked; one that does not exist is reported, never created. Marks are never removed: an
interrupted adopt is ended by recovery (`FAILED`, naming what was marked and what is in
doubt; `txn.recovery`), and running `dpn adopt` again finishes it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Marker,
    Operation,
    Provider,
    ResourceState,
    mark_types,
)
from dpn_action.txn.executor import _checked, _transaction
from dpn_action.txn.graph import walk
from dpn_action.txn.lock import DEFAULT_LOCK_TIMEOUT, Shared
from dpn_action.txn.log import (
    ADOPT_PREFLIGHT,
    KIND_ADOPT,
    MARK,
    MARK_FAILED,
    MARKED,
    state_to_json,
)
from dpn_action.txn.model import (
    DEFAULT_MAX_PARALLEL,
    Cancel,
    ProgressCallback,
    TxnResult,
    TxnStatus,
)
from dpn_action.txn.runner import Run, describe
from dpn_action.txn.wal import DEFAULT_WAL_DIR


def adopt(
    operations: Iterable[Operation],
    providers: Mapping[str, Provider],
    *,
    only: Collection[str] | None = None,
    wal_dir: Path | str = DEFAULT_WAL_DIR,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_progress: ProgressCallback | None = None,
    context: Mapping[str, object] | None = None,
    cancel: Cancel | None = None,
    shared: Shared | None = None,
) -> TxnResult:
    """Mark the resources of `operations` (with `only`, those keys) that exist and are not
    dpn's, as one logged transaction. The result's `adopted` lists what was marked, its
    `kept` every other selected resource with the reason."""
    ops = _checked(
        [op for op in operations if only is None or op.key in only], providers, max_parallel
    )
    begin: dict[str, object] = {"kind": KIND_ADOPT}
    if context:
        begin["context"] = dict(context)
    return _transaction(
        ops,
        providers,
        Path(wal_dir),
        begin,
        _mark_all,
        purpose="adopt",
        max_parallel=max_parallel,
        lock_timeout=lock_timeout,
        on_progress=on_progress,
        cancel=cancel,
        shared=shared,
    )


def _mark_all(run: Run) -> TxnResult:
    log = run.log
    found: dict[str, ResourceState | None] = {}

    def read(key: str) -> None:
        op = log.ops[key]
        found[key] = run.providers[op.provider].read(op.type_key, op.name, dict(op.scope))

    walked = walk(list(log.ops), {}, read, max_parallel=run.max_parallel, stop_on_failure=False)
    targets: dict[str, ResourceState] = {}
    skipped: dict[str, str] = {}
    for key, op in log.ops.items():
        state = found.get(key)
        if key in walked.failed:
            skipped[key] = f"could not read it: {describe(walked.failed[key])}"
        elif state is None:
            skipped[key] = "does not exist: not created (`dpn create` makes it)"
        elif state.managed_by_dpn:
            skipped[key] = f"already dpn's (transaction {state.transaction_id or 'unknown'})"
        elif op.type_key not in mark_types(run.providers[op.provider]):
            skipped[key] = f"dpn cannot mark {op.type_key} (its marks do not live in tags)"
        else:
            targets[key] = state
    run.record(
        ADOPT_PREFLIGHT,
        {"targets": {k: state_to_json(s) for k, s in targets.items()}, "skipped": skipped},
    )
    marks = {MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: run.txn_id}
    failed: dict[str, str] = {}
    for key, state in targets.items():
        if run.cancel.is_set():
            failed[key] = f"not marked: {run.cancel.reason}"
            continue
        provider = run.providers[log.ops[key].provider]
        assert isinstance(provider, Marker)  # its type is in `mark_types`
        run.record(MARK, {"key": key, "marks": marks})
        try:
            now = provider.mark(state, dict(marks))
        except Exception as exc:
            failed[key] = describe(exc)
            run.record(MARK_FAILED, {"key": key, "error": failed[key]})
            continue
        run.record(MARKED, {"key": key, "resource": state_to_json(now)})
    if failed:
        error = "not marked: " + "; ".join(f"{k}: {e}" for k, e in failed.items())
        result = run.end(TxnStatus.FAILED, error)
    else:
        result = run.end(TxnStatus.COMMITTED if targets else TxnStatus.NOTHING_TO_DO)
    result.kept = {**skipped, **failed}
    result.errors = dict(failed)
    return result
