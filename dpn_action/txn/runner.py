"""The steps a transaction is made of, shared by the executor and recovery.

Every step writes its record before acting (intent) and right after the provider answers
(outcome), and reads its decisions from the `TxnLog` those records build. The executor runs
forward from a fresh log; recovery runs the same steps from a log that a crash interrupted.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    TXN_TAG_KEY,
    Archiver,
    Operation,
    Provider,
    ResourceState,
    create_absent,
    locate,
    marked_after_create,
    not_ours,
)
from dpn_action.txn.crash import crash_point
from dpn_action.txn.graph import dependents_of, walk
from dpn_action.txn.log import (
    ABORT,
    CREATE,
    DELETE,
    DONE,
    END,
    FAILED,
    INTENT,
    KIND_DELETE,
    NOT_OURS,
    PREFLIGHT,
    RESOLVED,
    RETAINED,
    TxnLog,
    redacted,
    state_to_json,
)
from dpn_action.txn.model import (
    IN_DOUBT,
    PRESENT,
    Cancel,
    KeyState,
    Progress,
    ProgressCallback,
    TxnResult,
    TxnStatus,
    summarise_errors,
)
from dpn_action.txn.survey import survey
from dpn_action.txn.wal import Record, WalWriter


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def host_info() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


class KeptError(Exception):
    """A rollback step that must not delete: something that stays depends on the resource."""


@dataclass(slots=True)
class Preflight:
    """What the cloud holds for each planned key before anything is created."""

    adopted: dict[str, ResourceState] = field(default_factory=dict)
    conflicts: dict[str, ResourceState] = field(default_factory=dict)
    ours: dict[str, ResourceState] = field(default_factory=dict)  # tagged with this txn
    absent: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def preflight(
    ops: list[Operation],
    providers: Mapping[str, Provider],
    txn_id: str | None,
    *,
    max_parallel: int,
    progress: ProgressCallback | None,
) -> Preflight:
    """Find every operation's resource (`txn.survey`: by listing where the provider can);
    sort them into absent, adopted and conflicting."""
    out = Preflight()
    counter = _Counter("preflight", len(ops), txn_id, progress)
    result = survey(
        ops,
        providers,
        max_parallel=max_parallel,
        on_start=counter.start,
        on_finish=lambda key, exc, state: counter.finish(key, _preflight_event(exc, state)),
    )
    found = result.found
    for key, exc in result.failed.items():
        out.errors[key] = describe(exc)
    for op in ops:
        if op.key in result.failed:
            continue
        state = found.get(op.key)
        if state is None:
            out.absent.append(op.key)
        elif txn_id is not None and state.transaction_id == txn_id:
            out.ours[op.key] = state
        elif state.managed_by_dpn:
            out.adopted[op.key] = state
        else:
            out.conflicts[op.key] = state
    return out


def delete_targets(
    ops: list[Operation],
    found: Mapping[str, ResourceState | None],
    *,
    only: Collection[str] | None = None,
    can_archive: Callable[[Operation], bool] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Which existing resources a delete removes, and why each other existing one stays.

    Only resources marked `managed-by: dpn` are removed (and, with `only`, only those keys).
    With `can_archive`, a type that cannot be archived stays. A resource stays as well when
    something that stays depends on it: the cloud would refuse, or cascade into it.
    Returns the keys to remove, in plan order, and key -> reason for each one kept.
    """
    kept: dict[str, str] = {}
    wanted: set[str] = set()
    for op in ops:
        state = found.get(op.key)
        if state is None:
            continue
        if not state.managed_by_dpn:
            kept[op.key] = "not managed by dpn (no managed-by: dpn mark)"
        elif only is not None and op.key not in only:
            kept[op.key] = "not selected"
        elif can_archive is not None and not can_archive(op):
            kept[op.key] = f"archive is not supported for {op.type_key}"
        else:
            wanted.add(op.key)
    dependents = dependents_of(ops)
    changed = True
    while changed:
        changed = False
        for key in sorted(wanted):
            staying = [d for d in dependents.get(key, []) if d in kept]
            if staying:
                wanted.discard(key)
                kept[key] = f"{staying[0]} depends on it and stays"
                changed = True
    return [op.key for op in ops if op.key in wanted], kept


def _preflight_event(exc: BaseException | None, state: ResourceState | None) -> str:
    if exc is not None:
        return "failed"
    if state is None:
        return "absent"
    return "adopted" if state.managed_by_dpn else "conflict"


class _Counter:
    """Turns walk callbacks into `Progress` events."""

    def __init__(
        self, phase: str, total: int, txn_id: str | None, progress: ProgressCallback | None
    ) -> None:
        self.phase = phase
        self.total = total
        self.txn_id = txn_id
        self.progress = progress
        self.completed = 0

    def start(self, key: str) -> None:
        if self.progress:
            self.progress(
                Progress(self.phase, key, "start", self.completed, self.total, self.txn_id)
            )

    def finish(self, key: str, event: str) -> None:
        self.completed += 1
        if self.progress:
            self.progress(Progress(self.phase, key, event, self.completed, self.total, self.txn_id))


class Run:
    """One transaction being driven: its log, its WAL writer, its providers."""

    def __init__(
        self,
        log: TxnLog,
        writer: WalWriter,
        providers: Mapping[str, Provider],
        *,
        max_parallel: int,
        progress: ProgressCallback | None = None,
        cancel: Cancel | None = None,
    ) -> None:
        self.log = log
        self.writer = writer
        self.providers = providers
        self.max_parallel = max_parallel
        self.progress = progress
        #: set by a signal: start nothing new, roll back (a rollback is never cut short)
        self.cancel = cancel or Cancel()
        self._lock = threading.Lock()
        self._dependents: dict[str, list[str]] = {}
        #: the keys this run's own pre-flight found free (`providers.base.create_absent`)
        self._free: set[str] = set()

    @property
    def txn_id(self) -> str:
        return self.log.txn_id

    def record(
        self, record_type: str, fields: Mapping[str, Any] | None = None, *, durable: bool = True
    ) -> Record:
        """Append a record and apply it to the log, atomically for other threads; return once
        it is durable. The fsync happens outside the lock that orders the records, so the
        records of several threads are made durable by one (group commit).

        `durable=False` returns once the record is written (it outlives the process, not a
        power loss) and leaves it to the next durable record, which every later step of the
        transaction writes: its fsync covers every byte before it. Only a create's outcome is
        written so: were it lost, its intent is in doubt and recovery reads the cloud."""
        with self._lock:
            record, end = self.writer.write(record_type, fields)
            self.log.feed(record)
        if durable:
            self.writer.sync_to(end)
        return record

    def _provider(self, key: str) -> tuple[Operation, Provider]:
        op = self.log.ops[key]
        return op, self.providers[op.provider]

    # --- forward --------------------------------------------------------------------------

    def forward(self) -> TxnResult:
        """Pre-flight what is not decided yet, create what is missing, commit or roll back."""
        log = self.log
        todo = log.keys_in({KeyState.PENDING, KeyState.ABSENT})
        if self.cancel.is_set():
            return self._stop_before_creating(str(self.cancel.reason))
        missing = {} if log.values_known else {k: v for k in todo if (v := redacted(log.ops[k]))}
        if missing:
            return self.abort_and_roll_back(
                "cannot complete it: the log keeps only digests of "
                + "; ".join(f"{', '.join(v)} of {k}" for k, v in missing.items())
                + " (values that may be secrets); run `dpn create` again instead"
            )
        pre = preflight(
            [log.ops[k] for k in todo],
            self.providers,
            self.txn_id,
            max_parallel=self.max_parallel,
            progress=self.progress,
        )
        self.record(
            PREFLIGHT,
            {
                "absent": pre.absent,
                "adopted": {k: state_to_json(s) for k, s in pre.adopted.items()},
                "conflicts": {k: state_to_json(s) for k, s in pre.conflicts.items()},
                "errors": pre.errors,
            },
        )
        self._free = set(pre.absent)
        for key, state in pre.ours.items():
            # Only possible after a lost record: the cloud has it, tagged with this txn.
            self.record(RESOLVED, {"key": key, "exists": True, "resource": state_to_json(state)})
        crash_point("after-preflight")
        anything_created = any(i.ever_created for i in log.keys.values())
        if pre.errors or pre.conflicts:
            if pre.errors:
                error = "pre-flight read failed: " + summarise_errors(pre.errors)
                status = TxnStatus.FAILED
            else:
                error = "already exist and are not managed by dpn: " + ", ".join(pre.conflicts)
                status = TxnStatus.CONFLICT
            if not anything_created and not log.keys_in(IN_DOUBT):
                return self.end(status, error)
            return self.abort_and_roll_back(error)
        to_create = log.keys_in({KeyState.PENDING, KeyState.ABSENT})
        if not to_create and not anything_created:
            return self.end(TxnStatus.NOTHING_TO_DO)
        if self.cancel.is_set():
            return self._stop_before_creating(str(self.cancel.reason))
        failure = self.create(to_create)
        if failure is not None:
            return self.abort_and_roll_back(failure)
        crash_point("before-commit")
        return self.end(TxnStatus.COMMITTED)

    def _stop_before_creating(self, reason: str) -> TxnResult:
        log = self.log
        if any(i.ever_created for i in log.keys.values()) or log.keys_in(IN_DOUBT):
            return self.abort_and_roll_back(reason)
        return self.end(TxnStatus.FAILED, f"{reason}: stopped before creating anything")

    def create(self, keys: list[str]) -> str | None:
        """Create `keys` in dependency order; the first failure's message, or None.

        A cancel (a signal) stops it like a failure: nothing new starts, running calls
        finish, and the message says why it stopped."""
        keyset = set(keys)
        prereqs = {k: [d for d in self.log.ops[k].depends_on if d in keyset] for k in keys}
        counter = _Counter("create", len(keys), self.txn_id, self.progress)
        result = walk(
            keys,
            prereqs,
            self._create_one,
            max_parallel=self.max_parallel,
            stop_on_failure=True,
            on_start=counter.start,
            on_finish=lambda key, exc: counter.finish(key, "ok" if exc is None else "failed"),
            should_stop=self.cancel.is_set,
        )
        if not result.failed:
            if result.not_started and self.cancel.is_set():
                return f"{self.cancel.reason}: {len(result.not_started)} not started"
            return None
        first = next(iter(result.failed.items()))
        more = f" (and {len(result.failed) - 1} more)" if len(result.failed) > 1 else ""
        return f"creating {first[0]} failed: {describe(first[1])}{more}"

    def _create_one(self, key: str) -> None:
        op, provider = self._provider(key)
        resolved: dict[str, ResourceState] = {}
        for dep in op.depends_on:
            state = self.log.keys[dep].resource
            if state is None:  # cannot happen: the walk starts a key only after its deps
                raise RuntimeError(f"{key}: dependency {dep} has no recorded resource")
            resolved[dep] = state
        crash_point("before-intent")
        self.record(INTENT, {"key": key, "action": CREATE})
        crash_point("after-intent")
        try:
            if key in self._free:
                state = create_absent(provider, op, self.txn_id, resolved)
            else:
                state = provider.create(op, self.txn_id, resolved)
        except Exception as exc:
            # The cloud may still have done it (a lost response): rollback resolves it by
            # reading, so the failure is recorded as an outcome without a resource.
            self.record(
                FAILED, {"key": key, "action": CREATE, "error": describe(exc)}, durable=False
            )
            raise
        crash_point("after-call")
        outcome = {"key": key, "action": CREATE, "resource": state_to_json(state)}
        self.record(DONE, outcome, durable=False)
        crash_point("after-done")

    # --- delete transactions --------------------------------------------------------------

    def destroy(
        self, only: Collection[str] | None, can_archive: Callable[[Operation], bool] | None
    ) -> TxnResult:
        """A delete transaction: remove the planned resources that exist and are ours.

        Reads every operation's resource, records which ones it removes (`targets`), then
        removes them through the rollback steps (dependents first; intent, call, outcome),
        so a crash is finished by recovery exactly like an interrupted rollback.
        """
        log = self.log
        ops = list(log.ops.values())
        counter = _Counter("preflight", len(ops), self.txn_id, self.progress)
        walked = survey(
            ops,
            self.providers,
            max_parallel=self.max_parallel,
            on_start=counter.start,
            on_finish=lambda key, exc, state: counter.finish(key, _preflight_event(exc, state)),
        )
        found = walked.found
        errors = {k: describe(e) for k, e in walked.failed.items()}
        targets, kept = (
            ([], {}) if errors else delete_targets(ops, found, only=only, can_archive=can_archive)
        )
        self.record(
            PREFLIGHT,
            {
                "absent": [k for k, s in found.items() if s is None],
                "adopted": {
                    k: state_to_json(s)
                    for k, s in found.items()
                    if s is not None and s.managed_by_dpn and k not in targets
                },
                "conflicts": {
                    k: state_to_json(s)
                    for k, s in found.items()
                    if s is not None and not s.managed_by_dpn
                },
                "targets": {k: state_to_json(s) for k in targets if (s := found[k]) is not None},
                "kept": kept,
                "errors": errors,
            },
        )
        crash_point("after-preflight")
        if errors:
            error = "pre-flight read failed: " + summarise_errors(errors)
            return self.end(TxnStatus.FAILED, error)
        if not targets:
            return self.end(TxnStatus.NOTHING_TO_DO)
        verb = "archive" if log.archive else "delete"
        return self.abort_and_roll_back(f"dpn delete: {verb} {len(targets)} resources")

    # --- rollback -------------------------------------------------------------------------

    def abort_and_roll_back(self, reason: str) -> TxnResult:
        if self.log.abort_reason is None:
            self.record(ABORT, {"reason": reason})
        crash_point("after-abort")
        return self.roll_back()

    def resolve_in_doubt(self, *, include_pending: bool = False) -> None:
        """Ask the cloud about every create that may or may not have happened.

        It happened if the resource exists and carries this transaction's tag. With
        `include_pending`, keys without any record are asked about too: after a torn last
        record the log can no longer vouch that they were never sent.

        One more case counts as created: a type whose marks the provider writes after the
        create call (`marked_after_create`), whose create intent has no outcome, which this
        transaction's pre-flight found absent, and which now exists with no marks at all.
        The create was interrupted between its two calls; the `resolved` record says
        `unmarked`, and such a transaction is rolled back, never completed.
        """
        states = set(IN_DOUBT) | ({KeyState.PENDING} if include_pending else set())
        keys = self.log.keys_in(states)
        if not keys:
            return

        def resolve(key: str) -> None:
            op, provider = self._provider(key)
            found = provider.read(op.type_key, op.name, op.scope)
            if found is not None and found.transaction_id == self.txn_id:
                self.record(
                    RESOLVED, {"key": key, "exists": True, "resource": state_to_json(found)}
                )
            elif found is not None and self._interrupted_before_marking(op, provider, found):
                fields = {"key": key, "exists": True, "resource": state_to_json(found)}
                self.record(RESOLVED, {**fields, "unmarked": True})
            elif self.log.state(key) is not KeyState.PENDING:
                note = "not found" if found is None else "exists but was not made by this txn"
                self.record(RESOLVED, {"key": key, "exists": False, "note": note})

        counter = _Counter("resolve", len(keys), self.txn_id, self.progress)
        walk(
            keys,
            {},
            resolve,
            max_parallel=self.max_parallel,
            stop_on_failure=False,
            on_start=counter.start,
            on_finish=lambda key, exc: counter.finish(key, "ok" if exc is None else "failed"),
        )
        # A read that failed leaves its key in doubt; roll_back reports it as left.

    def _interrupted_before_marking(
        self, op: Operation, provider: Provider, found: ResourceState
    ) -> bool:
        log = self.log
        return (
            log.state(op.key) is KeyState.CREATING
            and op.key in log.absent_at_preflight
            and marked_after_create(provider, op.type_key)
            and MANAGED_BY_KEY not in found.tags
            and TXN_TAG_KEY not in found.tags
        )

    def retain(self, key: str, reason: str) -> list[str]:
        """Keep `key`, and everything it needs that this transaction created."""
        kept: list[str] = []
        stack = [(key, reason)]
        while stack:
            current, why = stack.pop()
            if self.log.state(current) not in PRESENT | IN_DOUBT:
                continue
            self.record(RETAINED, {"key": current, "reason": why})
            kept.append(current)
            stack.extend(
                (dep, f"required by retained {current}") for dep in self.log.ops[current].depends_on
            )
        return kept

    def roll_back(self) -> TxnResult:
        """Delete what this transaction created, dependents before what they depend on."""
        log = self.log
        self.resolve_in_doubt()
        dependents = self._dependents = dependents_of(log.ops.values())
        present = log.keys_in(PRESENT)
        # Never delete something that a resource we keep (or cannot account for) depends on:
        # the cloud would refuse, or worse, cascade into it.
        keeping = set(
            log.keys_in(IN_DOUBT | {KeyState.RETAINED, KeyState.ADOPTED, KeyState.CONFLICT})
        )
        blocked: dict[str, str] = {}
        changed = True
        while changed:
            changed = False
            for key in present:
                if key in blocked:
                    continue
                for dep in dependents.get(key, []):
                    if dep in keeping or dep in blocked:
                        blocked[key] = f"kept because {dep} ({log.state(dep)}) depends on it"
                        changed = True
                        break
        nodes = [k for k in present if k not in blocked]
        prereqs = {k: [d for d in dependents.get(k, []) if d in nodes] for k in nodes}
        counter = _Counter("rollback", len(nodes), self.txn_id, self.progress)
        result = walk(
            nodes,
            prereqs,
            self._delete_one,
            max_parallel=self.max_parallel,
            stop_on_failure=False,
            on_start=counter.start,
            on_finish=lambda key, exc: counter.finish(key, "ok" if exc is None else "failed"),
        )
        crash_point("before-rollback-end")
        reasons = dict(blocked)
        for key, exc in result.failed.items():
            reasons[key] = (
                str(exc) if isinstance(exc, KeptError) else f"delete failed: {describe(exc)}"
            )
        stuck = set(result.failed) | set(result.not_started)
        for key in result.not_started:
            still = [d for d in dependents.get(key, []) if d in stuck]
            reasons[key] = f"not deleted: {', '.join(still)} still exists and depends on it"
        for key in log.keys_in(IN_DOUBT):
            info = log.keys[key]
            reasons[key] = "in doubt: could not read it back to tell whether it was created" + (
                f" ({info.error})" if info.error else ""
            )
        left = [{"key": k, "reason": reasons[k]} for k in log.keys if k in reasons]
        if left:
            error = log.abort_reason or "rollback did not finish"
            return self.end(TxnStatus.ROLLBACK_FAILED, error, left=left)
        if log.kind == KIND_DELETE:
            return self.end(TxnStatus.DELETED)
        return self.end(TxnStatus.ROLLED_BACK, log.abort_reason)

    def _foreign_inside(self, key: str) -> list[str]:
        """Dependents named within `key` (a table in its database) that turned out not to be
        ours: deleting `key` could take them with it."""
        name = self.log.ops[key].name
        return [
            d
            for d in self._dependents.get(key, [])
            if self.log.state(d) is KeyState.NOT_OURS and name in self.log.ops[d].scope.values()
        ]

    def _delete_one(self, key: str) -> None:
        """Delete one resource this transaction created (or, in a delete transaction, chose),
        only once the cloud shows it is still that resource (`providers.base.not_ours`).

        What is found under the name is read first. Gone: done. Not provably ours (someone
        else made a resource under the name after ours was deleted): a `not-ours` record,
        and it is kept. Ours, but something that is not dpn's depends on it and would go
        with it: not deleted, left for a person (`KeptError`).
        """
        _, provider = self._provider(key)
        recorded = self.log.keys[key].resource
        if recorded is None:  # cannot happen: PRESENT keys always have a recorded resource
            raise RuntimeError(f"{key}: no recorded resource to delete")
        crash_point("rollback-before-intent")
        self.record(INTENT, {"key": key, "action": DELETE})
        crash_point("rollback-after-intent")
        try:
            current = locate(provider, recorded)
            reason = None if current is None else not_ours(recorded, current)
            if current is not None and reason is None:
                foreign = self._foreign_inside(key)
                if foreign:
                    raise KeptError(
                        f"not deleted: {', '.join(foreign)} in it is not dpn's any more (someone "
                        "made their own under the name), and would go with it"
                    )
                # deleting (or archiving) what is already gone is success, by contract
                if self.log.archive and isinstance(provider, Archiver):
                    provider.archive(current)
                else:
                    provider.delete(current)
        except Exception as exc:
            self.record(FAILED, {"key": key, "action": DELETE, "error": describe(exc)})
            raise
        if current is not None and reason is not None:
            self.record(
                NOT_OURS,
                {
                    "key": key,
                    "resource": state_to_json(current),
                    "reason": f"not ours: kept ({reason})",
                },
            )
            return
        crash_point("rollback-after-call")
        self.record(DONE, {"key": key, "action": DELETE})
        crash_point("rollback-after-done")

    # --- end ------------------------------------------------------------------------------

    def end(
        self,
        status: TxnStatus,
        error: str | None = None,
        *,
        left: list[dict[str, str]] | None = None,
    ) -> TxnResult:
        fields: dict[str, Any] = {"status": status.value}
        if error:
            fields["error"] = error
        if left:
            fields["left"] = left
        self.record(END, fields)
        crash_point("after-end")
        return self.log.result()
