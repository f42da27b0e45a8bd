"""The operation graph: checking it, and walking it with bounded parallelism."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from dpn_action.providers.base import Operation, set_wait_hooks
from dpn_action.txn.errors import PlanError


def validate_plan(ops: Sequence[Operation], providers: Collection[str]) -> None:
    """Refuse a plan with duplicate keys, unknown dependencies or providers, or a cycle."""
    seen: set[str] = set()
    for op in ops:
        if op.key in seen:
            raise PlanError(f"operation {op.key!r} appears twice in the plan")
        seen.add(op.key)
    for op in ops:
        if op.provider not in providers:
            known = ", ".join(sorted(providers)) or "none"
            raise PlanError(f"{op.key}: no provider {op.provider!r} (configured: {known})")
        for dep in op.depends_on:
            if dep not in seen:
                raise PlanError(f"{op.key}: depends on {dep!r}, which is not in the plan")
    cycle = find_cycle({op.key: op.depends_on for op in ops})
    if cycle:
        raise PlanError("dependency cycle: " + " -> ".join(cycle))


def find_cycle(deps: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle as a path that starts and ends at the same key, or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(deps, white)
    for start in deps:
        if colour[start] != white:
            continue
        # Iterative DFS: a deep chain of nested references must not hit the recursion limit.
        path: list[str] = [start]
        stack = [iter(deps[start])]
        colour[start] = grey
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = black
                stack.pop()
            elif colour.get(nxt, black) == grey:
                return [*path[path.index(nxt) :], nxt]
            elif colour.get(nxt) == white:
                colour[nxt] = grey
                path.append(nxt)
                stack.append(iter(deps[nxt]))
    return None


def dependents_of(ops: Iterable[Operation]) -> dict[str, list[str]]:
    """key -> keys of the operations that depend on it directly."""
    ops = list(ops)
    out: dict[str, list[str]] = {op.key: [] for op in ops}
    for op in ops:
        for dep in op.depends_on:
            out.setdefault(dep, []).append(op.key)
    return out


class _Slots:
    """A walk's `max_parallel` places. A running key holds one, except while its work only
    waits (`providers.base.waiting`): then another key may run, and the waiting one takes
    a place again, before any new key, when its wait is over."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.busy = 0
        self.returning = 0
        self.cv = threading.Condition()
        #: done when a place came free by a wait: the scheduler may start another key
        self.wake: Future[None] = Future()

    def take(self) -> bool:
        with self.cv:
            if self.busy >= self.size or self.returning:
                return False
            self.busy += 1
            return True

    def give_back(self) -> None:
        with self.cv:
            self.busy -= 1
            self.cv.notify_all()

    def pause(self) -> None:
        with self.cv:
            self.busy -= 1
            self.cv.notify_all()
        self._wake()

    def resume(self) -> None:
        with self.cv:
            self.returning += 1
            while self.busy >= self.size:
                self.cv.wait()
            self.returning -= 1
            self.busy += 1
        self._wake()

    def _wake(self) -> None:
        with self.cv:
            wake, self.wake = self.wake, Future()
        wake.set_result(None)


#: threads of a walk beyond `max_parallel`, for keys that only wait
_WAITING_THREADS = 256


@dataclass(slots=True)
class WalkResult:
    succeeded: list[str] = field(default_factory=list)  # in completion order
    failed: dict[str, BaseException] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)


def walk(
    keys: Sequence[str],
    prereqs: Mapping[str, Collection[str]],
    work: Callable[[str], None],
    *,
    max_parallel: int,
    stop_on_failure: bool,
    on_start: Callable[[str], None] | None = None,
    on_finish: Callable[[str, BaseException | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> WalkResult:
    """Run `work(key)` for every key once all its `prereqs` (a subset of `keys`) succeeded.

    At most `max_parallel` run at once, not counting those that only wait (a readiness
    waiter, a pause before a retry: `providers.base.waiting`). After a failure with
    `stop_on_failure`, or once
    `should_stop()` says so, nothing new starts and the calls already running are waited
    for. A key whose prerequisite failed is never started. Callbacks run on the calling
    thread.
    """
    if max_parallel < 1:
        raise ValueError("max_parallel must be at least 1")
    keyset = set(keys)
    waiting = {k: set(prereqs.get(k, ())) & keyset for k in keys}
    unlocks: dict[str, list[str]] = {k: [] for k in keys}
    for k, before in waiting.items():
        for p in before:
            unlocks[p].append(k)
    # Of the keys that may start, those with the longest chain of keys after them go first
    # (then first come, first served): what others wait for is not queued behind what
    # nobody does.
    height = _heights(keys, unlocks)
    ready = [(-height[k], i, k) for i, k in enumerate(k for k in keys if not waiting[k])]
    heapq.heapify(ready)
    arrivals = len(keys)
    result = WalkResult()
    running: dict[Future[None], str] = {}
    slots = _Slots(max_parallel)

    def run(key: str) -> None:
        set_wait_hooks((slots.pause, slots.resume))
        try:
            work(key)
        finally:
            set_wait_hooks(None)
            slots.give_back()

    threads = max(max_parallel, min(len(keys), max_parallel + _WAITING_THREADS))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dpn-txn") as pool:
        while True:
            stopping = (stop_on_failure and bool(result.failed)) or bool(
                should_stop and should_stop()
            )
            while ready and not stopping and slots.take():
                key = heapq.heappop(ready)[2]
                if on_start:
                    on_start(key)
                running[pool.submit(run, key)] = key
            if not running:
                break
            finished, _ = wait([*running, slots.wake], return_when=FIRST_COMPLETED)
            for future in finished:
                if future not in running:
                    continue  # a place came free while a key waits
                key = running.pop(future)
                exc = future.exception()
                if exc is None:
                    result.succeeded.append(key)
                    for nxt in unlocks[key]:
                        waiting[nxt].discard(key)
                        if not waiting[nxt]:
                            arrivals += 1
                            heapq.heappush(ready, (-height[nxt], arrivals, nxt))
                else:
                    result.failed[key] = exc
                if on_finish:
                    on_finish(key, exc)
    done = set(result.succeeded) | set(result.failed)
    result.not_started = [k for k in keys if k not in done]
    return result


def _heights(keys: Sequence[str], unlocks: Mapping[str, list[str]]) -> dict[str, int]:
    """key -> the number of keys on the longest chain that starts at it (1 for a key that
    nothing waits for)."""
    height: dict[str, int] = {}
    for start in keys:
        stack = [(start, False)]
        while stack:  # iterative: a long chain must not hit the recursion limit
            key, expanded = stack.pop()
            if key in height:
                continue
            if expanded:
                height[key] = 1 + max((height[n] for n in unlocks[key]), default=0)
                continue
            stack.append((key, True))
            stack.extend((n, False) for n in unlocks[key] if n not in height)
    return height
