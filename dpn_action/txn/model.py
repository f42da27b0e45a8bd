"""What the transaction core reports: statuses, results, progress events."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from dpn_action.providers.base import ResourceState

#: How many cloud calls run at once unless the caller says otherwise: chosen against the
#: services' published request rates, throttling past them being left to the SDKs' own
#: adaptive retries (docs/provisioning.md#the-default---max-parallel).
DEFAULT_MAX_PARALLEL = 16


class TxnStatus(StrEnum):
    """How a transaction ended (or, for `status` listings, where it stands)."""

    COMMITTED = "COMMITTED"  # every operation created or adopted
    ROLLED_BACK = "ROLLED_BACK"  # it failed and nothing it created remains
    ROLLBACK_FAILED = "ROLLBACK_FAILED"  # it failed and `left` lists what remains
    CONFLICT = "CONFLICT"  # pre-flight found resources that are not ours; nothing was created
    NOTHING_TO_DO = "NOTHING_TO_DO"  # everything already existed and was ours
    FAILED = "FAILED"  # stopped before creating anything (a pre-flight read failed)
    DELETED = "DELETED"  # a delete transaction (`dpn delete`) removed everything it targeted
    PLANNED = "PLANNED"  # dry run only: pre-flight passed, `to_create` would be created
    UNFINISHED = "UNFINISHED"  # listing only: no final record (running, or crashed)
    CORRUPT = "CORRUPT"  # listing only: the WAL is damaged before its last line
    #: listing only: the file holds no complete begin record, so nothing was sent to a cloud;
    #: recovery sets the file aside
    NEVER_STARTED = "NEVER_STARTED"


#: Statuses after which a transaction needs nothing more.
FINAL = frozenset(
    {
        TxnStatus.COMMITTED,
        TxnStatus.ROLLED_BACK,
        TxnStatus.CONFLICT,
        TxnStatus.NOTHING_TO_DO,
        TxnStatus.FAILED,
        TxnStatus.DELETED,
    }
)


class KeyState(StrEnum):
    """Where one planned operation stands, as the WAL tells it."""

    PENDING = "pending"  # no intent recorded: never sent to the cloud
    ADOPTED = "adopted"  # existed before and is ours: used, never created or deleted
    CONFLICT = "conflict"  # exists and is not ours
    CREATING = "creating"  # intent without outcome: in doubt
    CREATE_FAILED = "create-failed"  # the call raised; the cloud may still have done it
    CREATED = "created"
    ABSENT = "absent"  # in doubt, then found not to exist (or not made by this transaction)
    DELETING = "deleting"  # delete intent without outcome
    DELETE_FAILED = "delete-failed"
    DELETED = "deleted"
    RETAINED = "retained"  # kept on purpose during continue-rollback
    SKIPPED = "skipped"  # declared gone by the operator during continue-rollback
    #: a delete found something else under the name (not provably the resource recorded):
    #: kept, never deleted; what was recorded is gone
    NOT_OURS = "not-ours"


IN_DOUBT = frozenset({KeyState.CREATING, KeyState.CREATE_FAILED})
#: Created by this transaction and not (known to be) deleted yet.
PRESENT = frozenset({KeyState.CREATED, KeyState.DELETING, KeyState.DELETE_FAILED})


@dataclass(frozen=True, slots=True)
class LeftResource:
    """A resource a failed rollback could not remove (or could not prove absent)."""

    key: str
    type_key: str
    name: str
    resource_id: str | None
    state: KeyState
    reason: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """A planned resource that already exists and does not carry `managed-by: dpn`."""

    key: str
    found: ResourceState


@dataclass(slots=True)
class TxnResult:
    txn_id: str | None
    status: TxnStatus
    wal_path: Path | None = None
    created: list[str] = field(default_factory=list)  # keys this transaction created
    adopted: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)  # created, then deleted again
    left: list[LeftResource] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    to_create: list[str] = field(default_factory=list)  # dry run: what would be created
    #: a delete transaction: what it deleted (or archived), and what it was asked to delete
    deleted: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    #: a delete transaction: each existing resource it leaves in place, with the reason
    kept: dict[str, str] = field(default_factory=dict)
    #: keys whose delete found a resource that is not provably the one recorded: kept, with
    #: the reason (someone else's resource under the same name)
    not_ours: dict[str, str] = field(default_factory=dict)
    #: "create" (`dpn create`) or "delete" (`dpn delete`)
    kind: str = "create"
    #: a delete transaction that archives instead of deleting (`dpn delete --archive`)
    archived: bool = False
    #: key -> why its cloud call failed (a create or a delete), for each key whose last
    #: call failed
    errors: dict[str, str] = field(default_factory=dict)
    #: what each created or adopted key is in the cloud now (committed transactions)
    resources: dict[str, ResourceState] = field(default_factory=dict)
    error: str | None = None
    started: str | None = None
    ended: str | None = None
    #: earlier transactions that `apply` finished first
    recovered: list[TxnResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in {
            TxnStatus.COMMITTED,
            TxnStatus.NOTHING_TO_DO,
            TxnStatus.PLANNED,
            TxnStatus.DELETED,
        }

    @property
    def kept_created(self) -> list[str]:
        """What this transaction created and still stands (created, not rolled back)."""
        gone = set(self.rolled_back) | set(self.not_ours)
        return [k for k in self.created if k not in gone]

    @property
    def outcomes(self) -> dict[str, str]:
        """Key -> where it ended, one word per planned resource the transaction touched:
        created, adopted, would-create, rolled-back, deleted (or archived), left, conflict,
        not-ours, retained, skipped, kept."""
        out: dict[str, str] = {}
        removed = "archived" if self.archived else "deleted"
        for word, keys in (
            ("adopted" if self.kind == "create" else "kept", self.adopted),
            ("created", self.kept_created),
            ("would-create", self.to_create),
            ("rolled-back", self.rolled_back),
            (removed, self.deleted),
            ("kept", list(self.kept)),
            ("conflict", [c.key for c in self.conflicts]),
            ("left", [x.key for x in self.left]),
            ("not-ours", list(self.not_ours)),
            ("retained", self.retained),
            ("skipped", self.skipped),
        ):
            out.update(dict.fromkeys(keys, word))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data: what `--format json` prints and the Action keeps."""
        return {
            "transaction": self.txn_id,
            "kind": self.kind,
            "status": str(self.status),
            "ok": self.ok,
            "created": self.created,
            "adopted": self.adopted,
            "to_create": self.to_create,
            "rolled_back": self.rolled_back,
            "deleted": self.deleted,
            "archived": self.archived,
            "targets": self.targets,
            "kept": self.kept,
            "retained": self.retained,
            "not_ours": self.not_ours,
            "conflicts": [c.key for c in self.conflicts],
            "left": [{"key": x.key, "state": str(x.state), "reason": x.reason} for x in self.left],
            "errors": self.errors,
            "outcomes": self.outcomes,
            "error": self.error,
            "wal": str(self.wal_path) if self.wal_path else None,
            "started": self.started,
            "ended": self.ended,
            "recovered": [r.to_dict() for r in self.recovered],
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of work, for progress bars. Always delivered on the calling thread.

    `phase` is "preflight", "create", "resolve" or "rollback"; `event` is "start" or the
    outcome ("ok", "failed", "adopted", "conflict", "absent"); `completed` of `total` counts
    finished steps of the phase.
    """

    phase: str
    key: str
    event: str
    completed: int
    total: int
    txn_id: str | None = None


ProgressCallback = Callable[[Progress], None]


class Cancel:
    """A request to stop, set from a signal handler (or any thread).

    Once set, a transaction starts no new cloud call, lets the running ones finish, and rolls
    back what it created, as after a failure; the rollback itself is never cut short by it.
    Setting it is one assignment, safe inside a signal handler.
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def is_set(self) -> bool:
        return self.reason is not None


# ------------------------------------------------------------------------- errors, summarised

#: an AWS error as `runner.describe` renders it: its code says what it is about
_AWS_CODE = re.compile(r"\w+: An error occurred \(([\w.]+)\)")


def group_errors(errors: Mapping[str, str]) -> list[tuple[list[str], str]]:
    """Errors (key -> message) that say the same thing, together: the keys of each group, in
    order, and the first key's message. The same message is the same thing; so are AWS
    errors with the same code (their messages differ only in the resource they name)."""
    groups: dict[str, tuple[list[str], str]] = {}
    for key, message in errors.items():
        code = _AWS_CODE.match(message)
        same = f"aws:{code.group(1)}" if code else message
        groups.setdefault(same, ([], message))[0].append(key)
    return list(groups.values())


def summarise_errors(errors: Mapping[str, str], what: str = "reads") -> str:
    """One line for many failed calls: each error once, with how many failed that way and
    the first of them: `12 reads failed: ClientError: ... AccessDenied ... (first: KEY)`."""
    parts = []
    for keys, message in group_errors(errors):
        if len(keys) == 1:
            parts.append(f"{keys[0]}: {message}")
        else:
            parts.append(f"{len(keys)} {what} failed: {message} (first: {keys[0]})")
    return "; ".join(parts)
