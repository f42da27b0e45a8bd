"""SIGINT and SIGTERM during a transaction: roll back on the first, stop at once on the second.

GitHub cancels a job by sending SIGINT, then SIGTERM about 7.5 s later; a person presses
Ctrl-C, then perhaps again. The first signal sets a `Cancel`: the transaction starts no new
cloud call, lets the running ones finish, and rolls back what it created, as after a failure.
The second ends the process at once (exit 128 + signal number) after saying that the
transaction is unfinished and `dpn recover` finishes it: every record written so far is
durable, so that is exactly the state a crash leaves, and recovery is built for it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from dpn_action.txn.model import Cancel

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _say(text: str) -> None:
    # os.write, not print: a handler may run while the main thread is inside a write to
    # stderr, and a buffered stream refuses a reentrant call.
    os.write(2, text.encode("utf-8", "replace") + b"\n")


class Interrupted:
    """What `interruptible` saw: the first signal's number, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum


@contextmanager
def interruptible(
    cancel: Cancel, *, say: Callable[[str], None] = _say, hint: str = "dpn recover"
) -> Iterator[Interrupted]:
    """Handle SIGINT and SIGTERM as described above while the block runs (main thread
    only; elsewhere the block runs with the handlers it has)."""
    seen = Interrupted()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if seen.signum is None:
            seen.signum = signum
            cancel.set(f"interrupted by {name}")
            say(
                f"dpn: {name}: no new cloud calls start; the running ones finish, then what "
                f"this transaction created is rolled back. Send it again to stop at once."
            )
            return
        say(
            f"dpn: {name} again: stopped at once. The transaction is unfinished (its log is "
            f"safe on disk); run `{hint}` to finish it."
        )
        os._exit(128 + signum)

    previous = {s: signal.signal(s, handle) for s in SIGNALS}
    try:
        yield seen
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
