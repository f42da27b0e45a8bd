"""Faults for tests of durability and recovery: named crash points, and a full disk.

Setting `DPN_TEST_CRASH_AT=<point>[:<n>]` makes the process kill itself (SIGKILL: no cleanup,
no buffered output flushed, exactly like a lost runner) the n-th time (default 1st) the code
passes `<point>`; `DPN_TEST_STOP_AT=<point>[:<n>]` makes it stop itself there instead
(SIGSTOP, like a runner that hangs: a test resumes it with SIGCONT). Setting
`DPN_TEST_DISK_FULL=<n>[-[<m>]]` makes the n-th write to a WAL
file (1-based, counting every write of `txn.wal`), through the m-th (`<n>-`: every later
one), write half its bytes and then fail with ENOSPC, as a disk that fills up does.
The variables are read once at import; without them each hook is one comparison against
None. They are for tests only and are never needed in production.
"""

from __future__ import annotations

import errno
import os
import signal
import threading

ENV_VAR = "DPN_TEST_CRASH_AT"

#: Every crash point, in the order a transaction meets them. Keep this list the only place
#: where points are named; `crash_point` refuses a name that is not here.
CRASH_POINTS: tuple[str, ...] = (
    # executor, forward direction
    "after-begin",  # begin record durable, pre-flight not yet run
    "after-preflight",  # pre-flight record durable, nothing created
    "before-intent",  # about to write a create intent
    "after-intent",  # create intent durable, cloud call not made
    "after-call",  # cloud call returned, outcome not yet recorded
    "after-done",  # create outcome durable
    "before-commit",  # every create done, commit record not yet written
    "after-end",  # final record (commit, rolled back, ...) durable
    # rollback (executor after a failure, recovery, continue-rollback)
    "after-abort",  # decision to roll back durable, no compensation yet
    "rollback-before-intent",  # about to write a delete intent
    "rollback-after-intent",  # delete intent durable, cloud call not made
    "rollback-after-call",  # delete returned, outcome not yet recorded
    "rollback-after-done",  # delete outcome durable
    "before-rollback-end",  # every compensation tried, final record not yet written
    # recovery
    "recovery-after-start",  # recover record durable, nothing resolved
    "recovery-after-resolve",  # in-doubt operations resolved and recorded
)

#: Points met only in team mode (a lease, a WAL mirror); `tests/test_team_e2e.py` covers them.
TEAM_POINTS: tuple[str, ...] = (
    "before-mirror",  # a group commit is durable and the lease checked; not yet mirrored
)

_KNOWN = frozenset(CRASH_POINTS + TEAM_POINTS)

STOP_ENV = "DPN_TEST_STOP_AT"


def _parse(value: str | None, var: str = ENV_VAR) -> tuple[str, int] | None:
    if not value:
        return None
    name, _, nth = value.partition(":")
    if name not in _KNOWN:
        known = ", ".join(CRASH_POINTS + TEAM_POINTS)
        raise ValueError(f"{var}={value!r}: unknown crash point; known: {known}")
    count = int(nth) if nth.isdigit() else (1 if not nth else 0)
    if count < 1:
        raise ValueError(f"{var}={value!r}: the hit number must be a whole number, 1 or more")
    return name, count


_target: tuple[str, int] | None = _parse(os.environ.get(ENV_VAR))
_stop_target: tuple[str, int] | None = _parse(os.environ.get(STOP_ENV), STOP_ENV)
_hits = 0
_stop_hits = 0
_hits_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die (or stop) here if the environment asked for it; otherwise do nothing, cheaply."""
    if _target is None and _stop_target is None:
        return
    _hit(name)


def _hit(name: str) -> None:
    global _hits, _stop_hits
    if name not in _KNOWN:
        raise ValueError(f"unknown crash point {name!r}; add it to CRASH_POINTS")
    target, stop = _target, _stop_target
    with _hits_lock:
        if target is not None and name == target[0]:
            _hits += 1
            if _hits == target[1]:
                _die()
        if stop is not None and name == stop[0]:
            _stop_hits += 1
            if _stop_hits == stop[1]:
                os.kill(os.getpid(), signal.SIGSTOP)


def _die() -> None:
    kill = getattr(signal, "SIGKILL", None)
    if kill is not None:
        os.kill(os.getpid(), kill)
    os._exit(137)  # platforms without SIGKILL


def configure(value: str | None) -> None:
    """Re-read the setting (tests that run in-process use this instead of the environment)."""
    global _target, _hits
    _target = _parse(value)
    _hits = 0


DISK_FULL_ENV = "DPN_TEST_DISK_FULL"


def _parse_disk_full(value: str | None) -> tuple[int, float] | None:
    if not value:
        return None
    first, dash, last = value.partition("-")
    try:
        start = int(first)
        stop = float("inf") if dash and not last else float(int(last) if last else start)
    except ValueError:
        raise ValueError(f"{DISK_FULL_ENV}={value!r}: expected <n>, <n>-<m> or <n>-") from None
    if start < 1 or stop < start:
        raise ValueError(f"{DISK_FULL_ENV}={value!r}: writes are counted from 1")
    return start, stop


_disk_full: tuple[int, float] | None = _parse_disk_full(os.environ.get(DISK_FULL_ENV))
_writes = 0


def write(fd: int, data: memoryview) -> int:
    """`os.write`, unless the environment asked for a full disk at this write."""
    if _disk_full is None:
        return os.write(fd, data)
    global _writes
    with _hits_lock:
        _writes += 1
        failing = _disk_full[0] <= _writes <= _disk_full[1]
    if not failing:
        return os.write(fd, data)
    if len(data) > 1:
        os.write(fd, data[: len(data) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def configure_disk_full(value: str | None) -> None:
    """Re-read the full-disk setting (for tests that run in-process)."""
    global _disk_full, _writes
    _disk_full = _parse_disk_full(value)
    _writes = 0
