"""Fake clouds for the transaction tests: one in memory, one persisted in a JSON file.

Both behave like a strict cloud: creating what exists fails, creating a child whose parent
is missing fails, deleting a parent while a child exists fails, deleting what is gone is
success. They keep a history so tests can check order, duplicates and ownership.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import filelock

from dpn_action.providers.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TXN_TAG_KEY,
    Operation,
    ResourceState,
)

TYPE = "fake_thing"


class FakeCloudError(Exception):
    pass


def res_key(type_key: str, name: str, scope: dict[str, str]) -> str:
    return f"{type_key}|{json.dumps(scope, sort_keys=True)}|{name}"


def _to_json(state: ResourceState, parents: list[str]) -> dict[str, Any]:
    return {
        "type_key": state.type_key,
        "name": state.name,
        "resource_id": state.resource_id,
        "tags": state.tags,
        "scope": state.scope,
        "parents": parents,
        "incarnation": state.incarnation,
    }


def _from_json(data: dict[str, Any]) -> ResourceState:
    return ResourceState(
        data["type_key"],
        data["name"],
        data["resource_id"],
        dict(data["tags"]),
        data["scope"],
        data.get("incarnation"),
    )


class FakeProvider:
    """Shared behaviour; subclasses decide where the state lives."""

    def __init__(
        self,
        name: str = "fake",
        *,
        fail_create: dict[str, str] | None = None,
        fail_delete: dict[str, str] | None = None,
        lose_response: set[str] | None = None,
        fail_read: set[str] | None = None,
    ) -> None:
        self.name = name
        self.fail_create = dict(fail_create or {})
        self.fail_delete = dict(fail_delete or {})
        self.lose_response = set(lose_response or ())
        self.fail_read = set(fail_read or ())
        #: called at the start of every create, outside any lock (tests synchronise here)
        self.before_create: Callable[[Operation], None] | None = None
        #: called at the start of every read with the name read (tests change the cloud here)
        self.before_read: Callable[[str], None] | None = None
        #: where this cloud is, for `identity()` (None: it cannot say)
        self.where: dict[str, str] | None = None
        self._mutex = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        raise NotImplementedError
        yield {}

    # --- the Provider protocol -----------------------------------------------------------

    def create(
        self, op: Operation, txn_id: str, resolved: dict[str, ResourceState]
    ) -> ResourceState:
        with self._mutex:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            with self._state() as st:
                st["history"].append(["create-start", op.name, txn_id])
            if self.before_create:
                self.before_create(op)
            if op.name in self.fail_create:
                with self._state() as st:
                    st["history"].append(["create-failed", op.name, txn_id])
                raise FakeCloudError(self.fail_create[op.name])
            with self._state() as st:
                key = res_key(op.type_key, op.name, op.scope)
                if key in st["resources"]:
                    st["history"].append(["duplicate", op.name, txn_id])
                    raise FakeCloudError(f"{op.name} already exists")
                parents = []
                for dep_key, dep in resolved.items():
                    parent = res_key(dep.type_key, dep.name, dep.scope)
                    if parent not in st["resources"]:
                        raise FakeCloudError(f"{op.name}: parent {dep_key} does not exist")
                    parents.append(parent)
                st["next_id"] += 1
                tags = {**op.tags, MANAGED_BY_KEY: MANAGED_BY_VALUE, TXN_TAG_KEY: txn_id}
                rid = f"id-{st['next_id']}"
                state = ResourceState(op.type_key, op.name, rid, tags, op.scope, f"inc-{rid}")
                st["resources"][key] = _to_json(state, parents)
                st["history"].append(["create", op.name, txn_id])
            if op.name in self.lose_response:
                raise TimeoutError(f"response for {op.name} lost")
            return state
        finally:
            with self._mutex:
                self.in_flight -= 1

    def read(self, type_key: str, name: str, scope: dict[str, str]) -> ResourceState | None:
        if self.before_read:
            self.before_read(name)
        if name in self.fail_read:
            raise FakeCloudError(f"read of {name} denied")
        with self._state() as st:
            data = st["resources"].get(res_key(type_key, name, scope))
        return None if data is None else _from_json(data)

    def delete(self, state: ResourceState) -> None:
        if state.name in self.fail_delete:
            with self._state() as st:
                st["history"].append(["delete-failed", state.name, None])
            raise FakeCloudError(self.fail_delete[state.name])
        with self._state() as st:
            key = res_key(state.type_key, state.name, state.scope)
            children = [
                other["name"] for other in st["resources"].values() if key in other["parents"]
            ]
            if children:
                raise FakeCloudError(f"{state.name} still has children: {children}")
            if st["resources"].pop(key, None) is not None:
                st["history"].append(["delete", state.name, None])

    def tag(self, state: ResourceState, tags: dict[str, str]) -> None:
        with self._state() as st:
            st["resources"][res_key(state.type_key, state.name, state.scope)]["tags"].update(tags)

    def identity(self) -> dict[str, str] | None:
        return self.where

    # --- for tests -----------------------------------------------------------------------

    def seed(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        *,
        parents: tuple[str, ...] = (),
        scope: dict[str, str] | None = None,
    ) -> None:
        """A resource that exists before any transaction (ours when tagged managed-by), or
        one that "another team" makes: it replaces whatever had the name, with a new id and
        incarnation. `parents` are names of resources it lives in."""
        with self._state() as st:
            st["next_id"] += 1
            rid = f"pre-{name}"
            scope = dict(scope or {})
            inc = f"inc-{rid}-{st['next_id']}"
            state = ResourceState(TYPE, name, rid, dict(tags or {}), scope, inc)
            links = [res_key(TYPE, p, {}) for p in parents]
            st["resources"][res_key(TYPE, name, scope)] = _to_json(state, links)

    def remove(self, name: str, scope: dict[str, str] | None = None) -> None:
        """Someone else deletes `name` (and, as a cloud would, what lives in it)."""
        with self._state() as st:
            key = res_key(TYPE, name, dict(scope or {}))
            st["resources"].pop(key, None)
            for k in [k for k, r in st["resources"].items() if key in r["parents"]]:
                st["resources"].pop(k)

    def names(self) -> set[str]:
        with self._state() as st:
            return {r["name"] for r in st["resources"].values()}

    def resources(self) -> list[ResourceState]:
        with self._state() as st:
            return [_from_json(r) for r in st["resources"].values()]

    def history(self) -> list[list[Any]]:
        with self._state() as st:
            return [list(h) for h in st["history"]]


def _empty() -> dict[str, Any]:
    return {"resources": {}, "history": [], "next_id": 0}


class MemoryProvider(FakeProvider):
    def __init__(self, name: str = "fake", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._data = _empty()
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            yield self._data


class FileProvider(FakeProvider):
    """State in a JSON file, replaced atomically, so it survives a killed process."""

    def __init__(self, path: Path, name: str = "fake", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.path = Path(path)
        self._flock = filelock.FileLock(str(self.path) + ".lock")
        self._tlock = threading.RLock()

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        with self._tlock, self._flock:
            data = json.loads(self.path.read_text()) if self.path.exists() else _empty()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(data))
                os.replace(tmp, self.path)


def build_dag(n: int = 24, provider: str = "fake") -> list[Operation]:
    """A deterministic DAG: several roots, chains, and resources with two parents."""
    ops = []
    for i in range(n):
        parents = sorted({j for j in ((i - 1) // 2, (i - 2) // 3) if 0 <= j < i and i >= 3})
        ops.append(
            Operation(
                key=f"{TYPE}:/res-{i:02d}",
                type_key=TYPE,
                provider=provider,
                name=f"res-{i:02d}",
                properties={"index": i},
                tags={"team": "data"},
                depends_on=tuple(f"{TYPE}:/res-{j:02d}" for j in parents),
            )
        )
    return ops


def op(name: str, *deps: str, provider: str = "fake") -> Operation:
    """A small operation for hand-written plans: key = name."""
    return Operation(key=name, type_key=TYPE, provider=provider, name=name, depends_on=deps)
