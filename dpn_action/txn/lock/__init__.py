"""What a transaction holds while it runs: the WAL directory's file lock and, in team mode, a
lease in a shared store and the WAL mirror.

`Guard` takes them in one order (file lock, then lease), pulls the mirror's unfinished
logs into the WAL directory, and hands each WAL writer its `SyncHook`: the lease check
and the copy to the mirror, after every group commit and before the cloud calls the
records announce. The stores themselves (S3, DynamoDB) live outside the transaction core,
in `dpn_action.team`; here they are protocols (`LeaseStore`, `MirrorStore`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dpn_action.txn.lock.file import (
    DEFAULT_LOCK_TIMEOUT,
    HOLDER_NAME,
    LOCK_NAME,
    WalLock,
    read_holder,
)
from dpn_action.txn.lock.lease import (
    DEFAULT_LEASE_SECONDS,
    Lease,
    LeaseStore,
    describe_holder,
    holder_info,
)
from dpn_action.txn.mirror import Mirror, MirrorStore
from dpn_action.txn.wal import SyncHook

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_LOCK_TIMEOUT",
    "HOLDER_NAME",
    "LOCK_NAME",
    "Guard",
    "Lease",
    "LeaseStore",
    "Mirror",
    "MirrorStore",
    "Shared",
    "WalLock",
    "describe_holder",
    "holder_info",
    "read_holder",
]


@dataclass(frozen=True)
class Shared:
    """Team mode: what runs on several machines share. Each part is optional."""

    #: the lease lock's store (`--lock s3://...` or `dynamodb://...`)
    lease: LeaseStore | None = None
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    #: the WAL mirror's store (`--wal-mirror s3://...`)
    mirror: MirrorStore | None = None
    #: who this run is, in the lease record (`lease.holder_info` when None)
    holder: Mapping[str, str] | None = None
    #: where waiting for the lease, and what the mirror brought in, is reported
    say: Callable[[str], None] | None = None


class Guard:
    """The locks of one transaction command; a context manager."""

    def __init__(
        self,
        wal_dir: Path,
        *,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        purpose: str = "apply",
        shared: Shared | None = None,
    ) -> None:
        self.wal_dir = wal_dir
        self.shared = shared or Shared()
        self.file = WalLock(wal_dir, timeout=timeout, purpose=purpose)
        self.lease: Lease | None = None
        if self.shared.lease is not None:
            self.lease = Lease(
                self.shared.lease,
                seconds=self.shared.lease_seconds,
                timeout=timeout,
                purpose=purpose,
                holder=self.shared.holder or holder_info(),
                say=self.shared.say,
            )
        self.mirror: Mirror | None = None

    @property
    def fence(self) -> int:
        """The lease's fencing counter (0 without a lease)."""
        return self.lease.counter if self.lease is not None else 0

    def check(self) -> None:
        """`LeaseLostError` once this run may no longer act (never without a lease)."""
        if self.lease is not None:
            self.lease.check()

    def __enter__(self) -> Guard:
        self.file.acquire()
        try:
            if self.lease is not None:
                self.lease.acquire()
            store = self.shared.mirror
            if store is not None:
                store.self_test()
                self.mirror = Mirror(store, fence=self.fence, check=self.check)
                for note in self.mirror.pull(self.wal_dir):
                    if self.shared.say is not None:
                        self.shared.say(f"dpn: {note}")
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def release(self) -> None:
        try:
            if self.lease is not None:
                self.lease.release()
        finally:
            self.file.release()

    def set_txn(self, txn_id: str | None) -> None:
        """Name the transaction the holder works on, for anyone waiting."""
        self.file.set_txn(txn_id)
        if self.lease is not None:
            self.lease.set_txn(txn_id)

    def hook(self, txn_id: str, *, new: bool) -> SyncHook | None:
        """What the WAL writer of `txn_id` runs after each group commit (`new`: this run
        begins the transaction; otherwise it takes over its mirror copy)."""
        if self.mirror is not None:
            return self.mirror.hook(txn_id, new=new)
        if self.lease is not None:
            lease = self.lease
            return lambda size, data: lease.check()
        return None
