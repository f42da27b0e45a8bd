"""The pre-flight's survey and the walk under it, against a fake cloud.

A provider that lists decides a group of names with one listing; only the names that exist
are read. A resource named within a planned parent that is free is free without a call. A
key that only waits gives its place to another. Keys that others wait for start first.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from txn_fakes import TYPE, MemoryProvider, op

from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    Listed,
    Operation,
    ResourceState,
    waiting,
)
from dpn_action.txn import TxnStatus, apply
from dpn_action.txn.graph import walk
from dpn_action.txn.survey import survey


class ListingProvider(MemoryProvider):
    """The fake cloud, with a listing: one call per type and scope."""

    survey_types = frozenset({TYPE})
    trusts_preflight = True

    def __init__(self, *, listing_fails: bool = False) -> None:
        super().__init__()
        self.listings: list[dict[str, str]] = []
        self.reads: list[str] = []
        self.listing_fails = listing_fails
        self.absent_creates: list[str] = []

    def survey(
        self, type_key: str, scope: dict[str, str], names: list[str]
    ) -> dict[str, ResourceState | None]:
        self.listings.append(dict(scope))
        if self.listing_fails:
            raise RuntimeError("listing denied")
        held = {x.name for x in self.listing(type_key, scope)}
        return {n: None for n in names if n not in held}

    def listing(self, type_key: str, scope: dict[str, str], prefix: str = "") -> list[Listed]:
        return [
            Listed(r.name, r.resource_id)
            for r in self.resources()
            if r.scope == scope and r.name.startswith(prefix)
        ]

    def read_tags(self, type_key: str, found: Listed, scope: dict[str, str]) -> dict[str, str]:
        state = self.read(type_key, found.name, scope)
        return {} if state is None else state.tags

    def read(self, type_key: str, name: str, scope: dict[str, str]) -> ResourceState | None:
        self.reads.append(name)
        return super().read(type_key, name, scope)

    def create(
        self,
        op: Operation,
        txn_id: str,
        resolved: dict[str, ResourceState],
        *,
        absent: bool = False,
    ) -> ResourceState:
        if absent:
            self.absent_creates.append(op.name)
        return super().create(op, txn_id, resolved)


def test_one_listing_decides_a_group_and_only_names_that_exist_are_read() -> None:
    cloud = ListingProvider()
    cloud.seed("b", {MANAGED_BY_KEY: MANAGED_BY_VALUE})
    cloud.seed("c")  # someone else's
    ops = [op("a"), op("b"), op("c"), op("d")]

    found = survey(ops, {"fake": cloud}, max_parallel=4)

    assert cloud.listings == [{}]
    assert sorted(cloud.reads) == ["b", "c"]
    assert found.found["a"] is None and found.found["d"] is None
    assert found.found["b"] is not None and found.found["b"].managed_by_dpn
    assert found.found["c"] is not None and not found.found["c"].managed_by_dpn


def test_a_listing_that_fails_is_replaced_by_reads() -> None:
    cloud = ListingProvider(listing_fails=True)
    found = survey([op("a"), op("b")], {"fake": cloud}, max_parallel=2)
    assert found.failed == {}
    assert found.found == {"a": None, "b": None}
    assert sorted(cloud.reads) == ["a", "b"]


def _child(name: str, parent: str) -> Operation:
    return Operation(name, TYPE, "fake", name, depends_on=(parent,), scope={"in": parent})


def test_what_lives_in_a_free_parent_is_free_without_a_call() -> None:
    cloud = ListingProvider()
    ops = [op("p"), _child("x", "p"), _child("y", "p")]

    found = survey(ops, {"fake": cloud}, max_parallel=4)

    assert found.found == {"p": None, "x": None, "y": None}
    assert cloud.reads == ["p"]
    assert cloud.listings == []


def test_what_lives_in_an_existing_parent_is_listed_there() -> None:
    cloud = ListingProvider()
    cloud.seed("p", {MANAGED_BY_KEY: MANAGED_BY_VALUE})
    cloud.seed("x", {MANAGED_BY_KEY: MANAGED_BY_VALUE}, scope={"in": "p"})
    ops = [op("p"), _child("x", "p"), _child("y", "p")]

    found = survey(ops, {"fake": cloud}, max_parallel=4)

    assert cloud.listings == [{"in": "p"}]
    assert found.found["y"] is None
    assert found.found["x"] is not None and found.found["x"].name == "x"


def test_a_child_whose_parent_cannot_be_read_is_reported_not_guessed() -> None:
    cloud = ListingProvider()
    cloud.fail_read = {"p"}
    ops = [op("p"), _child("x", "p"), _child("y", "p")]

    found = survey(ops, {"fake": cloud}, max_parallel=4)

    assert set(found.failed) == {"p", "x", "y"}
    assert "p" in str(found.failed["x"])


def test_creates_the_pre_flight_found_free_are_told_so(tmp_path: Path) -> None:
    cloud = ListingProvider()
    cloud.seed("b", {MANAGED_BY_KEY: MANAGED_BY_VALUE})
    result = apply([op("a"), op("b"), op("c", "a")], {"fake": cloud}, wal_dir=tmp_path)
    assert result.status is TxnStatus.COMMITTED
    assert sorted(cloud.absent_creates) == ["a", "c"]


def test_a_key_that_only_waits_gives_its_place_to_another() -> None:
    other_ran = threading.Event()

    def work(key: str) -> None:
        if key == "waits":
            with waiting():
                # with one place and no giving it up, "other" could never run meanwhile
                assert other_ran.wait(timeout=10), "the waiting key kept its place"
        else:
            other_ran.set()

    result = walk(["waits", "other"], {}, work, max_parallel=1, stop_on_failure=True)

    assert result.failed == {}
    # both finish (in either order: "waits" may be recorded first once "other" wakes it)
    assert sorted(result.succeeded) == ["other", "waits"]


def test_never_more_than_max_parallel_calls_run_outside_waits() -> None:
    lock = threading.Lock()
    running = {"now": 0, "most": 0}

    def work(key: str) -> None:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        time.sleep(0.01)
        with lock:
            running["now"] -= 1
        with waiting():
            time.sleep(0.02)
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        time.sleep(0.01)
        with lock:
            running["now"] -= 1

    result = walk([f"k{i}" for i in range(12)], {}, work, max_parallel=3, stop_on_failure=True)

    assert len(result.succeeded) == 12
    assert running["most"] == 3


def test_keys_others_wait_for_start_first() -> None:
    started: list[str] = []
    keys = ["leaf1", "leaf2", "root"]
    prereqs = {"child": ["root"]}
    walk([*keys, "child"], prereqs, started.append, max_parallel=1, stop_on_failure=True)
    assert started == ["root", "leaf1", "leaf2", "child"]
