"""The operation graph: checking it, and walking it with bounded parallelism."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from dpn_action.providers.base import Operation
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

    At most `max_parallel` run at once. After a failure with `stop_on_failure`, or once
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
    ready = deque(k for k in keys if not waiting[k])
    result = WalkResult()
    running: dict[Future[None], str] = {}
    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="dpn-txn") as pool:
        while True:
            stopping = (stop_on_failure and bool(result.failed)) or bool(
                should_stop and should_stop()
            )
            while ready and not stopping and len(running) < max_parallel:
                key = ready.popleft()
                if on_start:
                    on_start(key)
                running[pool.submit(work, key)] = key
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                key = running.pop(future)
                exc = future.exception()
                if exc is None:
                    result.succeeded.append(key)
                    for nxt in unlocks[key]:
                        waiting[nxt].discard(key)
                        if not waiting[nxt]:
                            ready.append(nxt)
                else:
                    result.failed[key] = exc
                if on_finish:
                    on_finish(key, exc)
    done = set(result.succeeded) | set(result.failed)
    result.not_started = [k for k in keys if k not in done]
    return result
