"""Reading a transaction's story out of its WAL records.

`TxnLog` folds records, in order, into where every planned operation stands. The executor
feeds it each record as it appends it, and recovery feeds it a whole file: both act on the
same view, so what a crashed run knew is exactly what recovery knows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpn_action.providers.base import Operation, ResourceState
from dpn_action.txn.model import (
    FINAL,
    IN_DOUBT,
    PRESENT,
    Conflict,
    KeyState,
    LeftResource,
    TxnResult,
    TxnStatus,
)
from dpn_action.txn.wal import Record, WalRead, canonical, txn_id_of

# Record types. docs/wal.md describes each one's fields.
BEGIN = "begin"
PREFLIGHT = "preflight"
INTENT = "intent"
DONE = "done"
FAILED = "failed"
RESOLVED = "resolved"
ABORT = "abort"
RECOVER = "recover"
RETAINED = "retained"
SKIPPED = "skipped"
NOT_OURS = "not-ours"
END = "end"
#: an adopt transaction's own records (`txn.adopt`)
ADOPT_PREFLIGHT = "adopt-preflight"
MARK = "mark"
MARKED = "marked"
MARK_FAILED = "mark-failed"

CREATE = "create"
DELETE = "delete"

#: transaction kinds (the begin record's `kind`; absent means a create transaction)
KIND_CREATE = "create"
KIND_DELETE = "delete"
KIND_ADOPT = "adopt"


DIGEST_PREFIX = "sha256:"


def digest(value: Any) -> str:
    """What a log keeps of a value that may be a secret: `sha256:<hex>` of its canonical
    JSON. Equal values give equal digests, so a later run can still tell a change."""
    return DIGEST_PREFIX + hashlib.sha256(canonical({"v": value})).hexdigest()


def redact(properties: Mapping[str, Any], sensitive: tuple[str, ...]) -> dict[str, Any]:
    """`properties` with each sensitive one that has a value replaced by its digest."""
    return {k: digest(v) if k in sensitive and v is not None else v for k, v in properties.items()}


def redacted(op: Operation) -> list[str]:
    """The properties of `op` (read back from a log) that hold a digest, not their value."""
    return [
        k
        for k in op.sensitive
        if isinstance(v := op.properties.get(k), str) and v.startswith(DIGEST_PREFIX)
    ]


def op_to_json(op: Operation) -> dict[str, Any]:
    data = {
        "key": op.key,
        "type_key": op.type_key,
        "provider": op.provider,
        "name": op.name,
        "properties": redact(op.properties, op.sensitive),
        "tags": op.tags,
        "depends_on": list(op.depends_on),
        "refs": op.refs,
        "scope": op.scope,
    }
    if op.sensitive:
        data["sensitive"] = list(op.sensitive)
    return data


def op_from_json(data: Mapping[str, Any]) -> Operation:
    return Operation(
        key=data["key"],
        type_key=data["type_key"],
        provider=data["provider"],
        name=data["name"],
        properties=dict(data.get("properties") or {}),
        tags=dict(data.get("tags") or {}),
        depends_on=tuple(data.get("depends_on") or ()),
        refs=dict(data.get("refs") or {}),
        scope=dict(data.get("scope") or {}),
        sensitive=tuple(data.get("sensitive") or ()),
    )


def state_to_json(state: ResourceState) -> dict[str, Any]:
    data = {
        "type_key": state.type_key,
        "name": state.name,
        "resource_id": state.resource_id,
        "tags": state.tags,
        "scope": state.scope,
    }
    if state.incarnation is not None:
        data["incarnation"] = state.incarnation
    return data


def state_from_json(data: Mapping[str, Any]) -> ResourceState:
    incarnation = data.get("incarnation")
    return ResourceState(
        type_key=data["type_key"],
        name=data["name"],
        resource_id=data["resource_id"],
        tags=dict(data.get("tags") or {}),
        scope=dict(data.get("scope") or {}),
        incarnation=str(incarnation) if incarnation is not None else None,
    )


@dataclass(slots=True)
class KeyInfo:
    state: KeyState = KeyState.PENDING
    #: what the cloud returned (created), or what pre-flight found (adopted, conflict)
    resource: ResourceState | None = None
    error: str | None = None
    ever_created: bool = False
    #: a delete transaction chose to remove it
    target: bool = False
    #: resolved as created although it carried no marks (an interrupted late-marked create)
    unmarked: bool = False
    #: NOT_OURS: why what the delete found is not the recorded resource
    reason: str | None = None


class TxnLog:
    """One transaction as its records tell it."""

    def __init__(self, txn_id: str, path: Path | None = None, torn: bool = False) -> None:
        self.txn_id = txn_id
        self.path = path
        #: the file's last record was damaged and cut off when it was read
        self.torn = torn
        self.ops: dict[str, Operation] = {}
        self.keys: dict[str, KeyInfo] = {}
        self.status: TxnStatus | None = None
        self.end_record: Record | None = None
        self.abort_reason: str | None = None
        self.started: str | None = None
        self.ended: str | None = None
        self.recoveries = 0
        self.records = 0
        #: "create", or "delete" for a transaction that removes existing resources
        self.kind = KIND_CREATE
        #: a delete transaction archives instead of deleting (`dpn delete --archive`)
        self.archive = False
        #: key -> the blueprint entry it was planned from (`file#pointer`), when known
        self.origins: dict[str, str] = {}
        #: a pre-flight record has been written
        self.preflighted = False
        #: a delete transaction: existing resources it leaves in place, with the reason
        self.kept: dict[str, str] = {}
        #: keys this transaction's pre-flight found absent
        self.absent_at_preflight: set[str] = set()
        #: provider -> where it acted (account, region, host), as the begin record says
        self.target: dict[str, dict[str, str]] = {}
        #: what the transaction was planned from: `environment`, `blueprints`
        self.context: dict[str, Any] = {}
        #: `ops` hold the planned values; read back from a log they hold digests of the
        #: sensitive ones instead (see `redact`), so they cannot be created from
        self.values_known = False

    @classmethod
    def from_read(cls, read: WalRead) -> TxnLog:
        log = cls(txn_id_of(read.path), read.path, torn=read.torn is not None)
        for record in read.records:
            log.feed(record)
        return log

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def state(self, key: str) -> KeyState:
        return self.keys[key].state

    def keys_in(self, states: frozenset[KeyState] | set[KeyState]) -> list[str]:
        """Keys in one of `states`, in plan order."""
        return [k for k, info in self.keys.items() if info.state in states]

    def feed(self, record: Record) -> None:
        """Apply one record. Unknown types are ignored so newer logs stay readable."""
        self.records += 1
        kind = record["type"]
        if kind == BEGIN:
            self.started = record["ts"]
            self.kind = str(record.get("kind") or KIND_CREATE)
            self.archive = bool(record.get("archive"))
            self.origins = dict(record.get("origins") or {})
            self.target = {str(k): dict(v) for k, v in (record.get("target") or {}).items()}
            self.context = dict(record.get("context") or {})
            for data in record["ops"]:
                op = op_from_json(data)
                self.ops[op.key] = op
                self.keys[op.key] = KeyInfo()
            return
        if kind == END:
            self.status = TxnStatus(record["status"])
            self.end_record = record
            self.ended = record["ts"]
            return
        if kind == ABORT:
            self.abort_reason = record.get("reason") or "aborted"
            return
        if kind == RECOVER:
            self.recoveries += 1
            return
        if kind == PREFLIGHT:
            self.preflighted = True
            self.kept.update(record.get("kept") or {})
            self.absent_at_preflight.update(record.get("absent") or [])
            for key, data in (record.get("adopted") or {}).items():
                self._set(key, KeyState.ADOPTED, state_from_json(data))
            for key, data in (record.get("conflicts") or {}).items():
                self._set(key, KeyState.CONFLICT, state_from_json(data))
            for key, data in (record.get("targets") or {}).items():
                # a delete transaction: exists now, to be removed (not created by it)
                self._set(key, KeyState.CREATED, state_from_json(data))
                if key in self.keys:
                    self.keys[key].target = True
            return
        key = record.get("key")
        if not isinstance(key, str) or key not in self.keys:
            return
        info = self.keys[key]
        action = record.get("action")
        if kind == INTENT:
            info.state = KeyState.CREATING if action == CREATE else KeyState.DELETING
        elif kind == DONE and action == CREATE:
            self._set(key, KeyState.CREATED, state_from_json(record["resource"]))
            info.ever_created = True
        elif kind == DONE:
            info.state = KeyState.DELETED
        elif kind == FAILED:
            info.state = KeyState.CREATE_FAILED if action == CREATE else KeyState.DELETE_FAILED
            info.error = record.get("error")
        elif kind == RESOLVED:
            if record.get("exists"):
                self._set(key, KeyState.CREATED, state_from_json(record["resource"]))
                info.ever_created = True
                info.unmarked = bool(record.get("unmarked"))
            else:
                info.state = KeyState.ABSENT
        elif kind == RETAINED:
            info.state = KeyState.RETAINED
        elif kind == NOT_OURS:
            info.state = KeyState.NOT_OURS
            info.reason = record.get("reason")
        elif kind == SKIPPED:
            info.state = KeyState.SKIPPED
        elif kind == MARKED:  # an adopt transaction marked it: existing, and dpn's now
            self._set(key, KeyState.ADOPTED, state_from_json(record["resource"]))

    def _set(self, key: str, state: KeyState, resource: ResourceState | None) -> None:
        info = self.keys.get(key)
        if info is None:
            return
        info.state = state
        if resource is not None:
            info.resource = resource

    # --- reporting ----------------------------------------------------------------------

    def left(self) -> list[LeftResource]:
        """What a rollback still has to remove, or prove absent, with the reason."""
        out: list[LeftResource] = []
        recorded: dict[str, str] = {}
        if self.end_record is not None:
            for item in self.end_record.get("left") or []:
                recorded[item["key"]] = item.get("reason", "")
        for key in self.keys_in(PRESENT | IN_DOUBT):
            info = self.keys[key]
            op = self.ops[key]
            if key in recorded:
                reason = recorded[key]
            elif info.state in IN_DOUBT:
                reason = "in doubt: the create may or may not have happened"
            else:
                reason = f"still exists ({info.state})" + (f": {info.error}" if info.error else "")
            out.append(
                LeftResource(
                    key=key,
                    type_key=op.type_key,
                    name=op.name,
                    resource_id=info.resource.resource_id if info.resource else None,
                    state=info.state,
                    reason=reason,
                )
            )
        return out

    def result(self, status: TxnStatus | None = None, error: str | None = None) -> TxnResult:
        status = status or self.status or TxnStatus.UNFINISHED
        if error is None and self.end_record is not None:
            error = self.end_record.get("error")
        keys = self.keys
        return TxnResult(
            txn_id=self.txn_id,
            status=status,
            wal_path=self.path,
            created=[k for k, i in keys.items() if i.ever_created],
            adopted=self.keys_in({KeyState.ADOPTED}),
            rolled_back=[k for k, i in keys.items() if i.ever_created and i.state in _GONE],
            left=self.left() if status is not TxnStatus.COMMITTED else [],
            retained=self.keys_in({KeyState.RETAINED}),
            skipped=self.keys_in({KeyState.SKIPPED}),
            conflicts=[
                Conflict(k, i.resource)
                for k, i in keys.items()
                if i.state is KeyState.CONFLICT and i.resource is not None
            ],
            resources={
                k: i.resource
                for k, i in keys.items()
                if i.resource is not None and i.state in {KeyState.CREATED, KeyState.ADOPTED}
            },
            error=error,
            started=self.started,
            ended=self.ended,
            deleted=[k for k, i in keys.items() if i.target and i.state in _GONE],
            targets=[k for k, i in keys.items() if i.target],
            kept=dict(self.kept),
            not_ours={
                k: i.reason or "not ours" for k, i in keys.items() if i.state is KeyState.NOT_OURS
            },
            kind=self.kind,
            archived=self.archive,
            errors={
                k: i.error
                for k, i in keys.items()
                if i.error
                and i.state in (KeyState.CREATE_FAILED, KeyState.DELETE_FAILED, KeyState.ABSENT)
            },
        )


_GONE = frozenset({KeyState.DELETED, KeyState.SKIPPED})
