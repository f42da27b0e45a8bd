"""Transactions: create a plan's resources all or nothing, and recover after a crash.

Cloud-agnostic: it talks to `dpn_action.providers.base.Provider` only. The format of the
write-ahead log and the recovery algorithm are described in docs/wal.md.
"""

from dpn_action.txn.crash import CRASH_POINTS
from dpn_action.txn.errors import (
    FencedError,
    LeaseLostError,
    LockBackendError,
    LockTimeoutError,
    PlanError,
    TxnError,
    UnfinishedTransactionError,
    WalCorruptError,
)
from dpn_action.txn.executor import apply, destroy
from dpn_action.txn.lock import DEFAULT_LOCK_TIMEOUT, Shared
from dpn_action.txn.model import (
    DEFAULT_MAX_PARALLEL,
    Conflict,
    KeyState,
    LeftResource,
    Progress,
    ProgressCallback,
    TxnResult,
    TxnStatus,
)
from dpn_action.txn.recovery import continue_rollback, recover, status
from dpn_action.txn.wal import DEFAULT_WAL_DIR

__all__ = [
    "CRASH_POINTS",
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_MAX_PARALLEL",
    "DEFAULT_WAL_DIR",
    "Conflict",
    "FencedError",
    "KeyState",
    "LeaseLostError",
    "LeftResource",
    "LockBackendError",
    "LockTimeoutError",
    "PlanError",
    "Progress",
    "ProgressCallback",
    "Shared",
    "TxnError",
    "TxnResult",
    "TxnStatus",
    "UnfinishedTransactionError",
    "WalCorruptError",
    "apply",
    "continue_rollback",
    "destroy",
    "recover",
    "status",
]
