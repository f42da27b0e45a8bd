"""Waiting for IAM to propagate the roles a run creates, with one create trying at a time.

A role is usable by Lambda, Glue, Step Functions or Firehose only some seconds after
`CreateRole` returns (IAM is eventually consistent; AWS gives no figure, users report 5-10
s). The only test is the dependent create itself, refused meanwhile (`errors.SETTLING`) and
retried every `settle_delay`. Left to themselves, all creates that assume young roles would
retry side by side, in step: several refused requests each, in bursts that can pass a
service's published rate (Lambda's control plane takes 15 requests a second).

So, per service and region, one create probes: the first whose role this provider made.
The others wait (freeing their place among `--max-parallel`) until it gets through, which
tells how old a role must be (its age when the accepted attempt was sent; the least such
age seen), then each starts when its own role is that old, and is retried as before if it
is refused all the same. A probe that fails otherwise hands over to one of the waiting
creates; none waits longer than `max_wait`, then it tries on its own. Roles this provider
did not make (adopted, or made before the run) are tried at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

#: (service, region)
Key = tuple[str, str]


class Propagation:
    """How long the roles a provider made take to become usable, per service and region."""

    def __init__(
        self,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._made: dict[str, float] = {}  # role ARN -> when its create returned
        self._age: dict[Key, float] = {}  # the least age at which a role was accepted
        self._prober: dict[Key, object] = {}  # the create that probes now

    def made(self, role: str) -> None:
        """`role` (an ARN) was created just now by this provider."""
        with self._cond:
            self._made[role] = self._clock()

    def young(self, role: str | None) -> bool:
        """Whether `role` was made by this provider (so it may not be usable yet)."""
        return role is not None and role in self._made

    def before(self, key: Key, role: str) -> object | None:
        """Block until a create of `key` that assumes `role` should be tried; a token when
        this create is the one that probes (hand it to `after`), else None."""
        made = self._made[role]
        deadline = self._clock() + self.max_wait
        with self._cond:
            while True:
                age = self._age.get(key)
                if age is not None:
                    break
                if key not in self._prober:
                    token = object()
                    self._prober[key] = token
                    return token
                left = deadline - self._clock()
                if left <= 0:
                    return None
                self._cond.wait(left)
        pause = made + age - self._clock()
        if pause > 0:
            self._sleep(pause)
        return None

    def after(self, key: Key, role: str, token: object | None, sent: float | None) -> None:
        """A create of `key` that assumes `role` ended: `sent`, when its accepted attempt was
        sent (None: it was not accepted)."""
        with self._cond:
            if sent is not None:
                age = max(0.0, sent - self._made[role])
                self._age[key] = min(age, self._age.get(key, age))
            if token is not None and self._prober.get(key) is token:
                del self._prober[key]
            self._cond.notify_all()
