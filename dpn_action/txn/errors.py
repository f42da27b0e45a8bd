"""Errors the transaction core raises. Every message is written for the person at the terminal."""

from __future__ import annotations

from pathlib import Path


class TxnError(Exception):
    """Base class: anything the transaction core refuses to do, with a reason."""


class PlanError(TxnError):
    """The operations handed to the executor do not form a valid plan (cycle, unknown key...)."""


class WalCorruptError(TxnError):
    """A WAL file is damaged somewhere other than its last line; nothing is dropped silently."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(
            f"{path}:{line}: WAL record is corrupt ({reason}) and more records follow it; "
            "refusing to guess. Inspect the file, restore it from the CI artifact, or move it "
            "aside after checking the resources of that transaction by their dpn-transaction tag."
        )


class WalWriteError(TxnError):
    """A WAL record could not be written (a full disk, say). No cloud call follows an intent
    that is not durable, so the run stops; the log stays a valid prefix for recovery."""


class LockTimeoutError(TxnError):
    """Another process held the WAL lock for longer than we were willing to wait."""


class UnfinishedTransactionError(TxnError):
    """An earlier transaction could not be finished automatically; a person must decide."""

    def __init__(self, txn_ids: list[str], message: str) -> None:
        self.txn_ids = txn_ids
        super().__init__(message)


class ConditionFailed(Exception):
    """A conditional write found the object changed (S3 412, DynamoDB's failed condition):
    someone else wrote it since it was read. Raised by lease and mirror stores, which the
    lease and the mirror turn into one of the errors below."""


class LockBackendError(TxnError):
    """A lock or mirror store cannot be used: it is unreachable, misconfigured, or it does
    not enforce the conditions dpn's safety rests on (its self-test failed)."""


class FencedError(TxnError):
    """This run may no longer write: its lease was lost, or another run took over the
    transaction's mirror. Nothing further is sent to a cloud; the transaction is left to the
    run that holds the lock now (or to `dpn recover`)."""


class LeaseLostError(FencedError):
    """The lease expired before it could be renewed, or another run took it over."""
