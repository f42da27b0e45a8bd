"""A lease lock kept in a shared store: one dpn run at a time across machines.

The store is any register with a conditional write (`LeaseStore`): S3 with `If-None-Match` /
`If-Match`, DynamoDB with condition expressions (`dpn_action.team`). Its record says who
holds the lease (host, pid, run id, the run's URL), what for, until when (`expires`, wall
clock, seconds since the epoch) and a fencing counter, `counter`, that grows by one with
every new holder and never goes back: a release writes a free record with the same counter
instead of deleting it.

* acquire: read; no record -> create it (`counter` 1); a free or expired record -> replace
  it on the version read (`counter` + 1); a live one -> wait, saying who holds it and until
  when, at most `timeout` seconds. Two runs that race both write on the same version: the
  store lets exactly one through.
* renew: a background thread replaces the record on the version this run last wrote, every
  third of the lease. A replace that fails on the condition means another run took the
  lease over: it is lost.
* check: before each durable WAL record (so before each cloud call it announces) the holder
  asks `check`, which fails once the lease is lost, or once the lease, counted on this
  machine's monotonic clock from before the write that set it, is within a margin of its
  end: a holder that could not renew in time (paused, cut off) stops on its own.
* release: a free record, on the version this run last wrote; a release by a run whose
  version is stale (it is no longer the holder) changes nothing.

What a lease cannot do alone: a holder paused right after `check` may still make the one
call it was about to make. Writes to the WAL mirror are fenced by the counter as well
(`txn.mirror`), so such a run's later records are refused there.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from dpn_action.txn.errors import (
    ConditionFailed,
    LeaseLostError,
    LockBackendError,
    LockTimeoutError,
)

#: seconds a lease lasts unless the lock's URL says otherwise (`?lease=`)
DEFAULT_LEASE_SECONDS = 60.0
MIN_LEASE_SECONDS = 1.0


class LeaseStore(Protocol):
    """One record that can be written only on a condition (see `dpn_action.team`)."""

    #: where it lives, for messages (`s3://bucket/key`, `dynamodb://table/key`)
    url: str

    def read(self) -> tuple[dict[str, Any], str] | None:
        """The record and an opaque version of it (an ETag, a version number), or None."""
        ...

    def create(self, record: Mapping[str, Any]) -> str:
        """Write the record if there is none; its version. `ConditionFailed` if there is."""
        ...

    def replace(self, record: Mapping[str, Any], version: str) -> str:
        """Write the record if the stored one is still at `version`; the new version.
        `ConditionFailed` if it changed (or is gone)."""
        ...

    def self_test(self) -> None:
        """Prove the store enforces its conditions (a second conditional create must fail);
        `LockBackendError` if it does not."""
        ...


def holder_info(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Who this run is: host, pid, and inside GitHub Actions the run id and its URL."""
    env = os.environ if env is None else env
    info = {"host": socket.gethostname(), "pid": str(os.getpid())}
    run_id = env.get("GITHUB_RUN_ID", "")
    if run_id:
        info["run_id"] = run_id
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo = env.get("GITHUB_REPOSITORY", "")
        if repo:
            url = f"{server}/{repo}/actions/runs/{run_id}"
            attempt = env.get("GITHUB_RUN_ATTEMPT", "")
            info["run_url"] = f"{url}/attempts/{attempt}" if attempt else url
    return info


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_holder(record: Mapping[str, Any]) -> str:
    """Who holds a lease, doing what, until when: for a run that waits, and its error."""
    holder = record.get("holder") or {}
    host, pid = holder.get("host", "?"), holder.get("pid", "?")
    if holder.get("run_url"):
        text = f"run {holder['run_url']} (host {host}, pid {pid})"
    else:
        text = f"dpn process {pid} on host {host}"
    if record.get("purpose"):
        text += f", running {record['purpose']}"
    if record.get("txn"):
        text += f" of transaction {record['txn']}"
    expires = record.get("expires")
    if isinstance(expires, int | float):
        text += f", until {_iso(float(expires))} unless renewed"
    return text


def _free(record: Mapping[str, Any] | None, now: float) -> bool:
    if record is None:
        return True
    expires = record.get("expires")
    return not record.get("owner") or not isinstance(expires, int | float) or expires <= now


@dataclass
class Lease:
    """A lease on one `LeaseStore` record; `acquire`, `check`, `release`."""

    store: LeaseStore
    seconds: float = DEFAULT_LEASE_SECONDS
    timeout: float = 300.0
    purpose: str = "apply"
    #: who this run is (`holder_info`)
    holder: Mapping[str, str] = field(default_factory=holder_info)
    #: where waiting is reported ("held by ... until ...")
    say: Callable[[str], None] | None = None
    #: seconds between two looks at a held lease
    poll: float = 1.0

    counter: int = field(default=0, init=False)
    _owner: str = field(default="", init=False)
    _version: str | None = field(default=None, init=False)
    _record: dict[str, Any] = field(default_factory=dict, init=False)
    _deadline: float = field(default=0.0, init=False)
    _lost: str | None = field(default=None, init=False)
    _write: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    @property
    def margin(self) -> float:
        """How long before the end of its lease a holder stops on its own."""
        return min(5.0, self.seconds / 4)

    @property
    def held(self) -> bool:
        return self._version is not None and self._lost is None

    def acquire(self) -> None:
        if self.seconds < MIN_LEASE_SECONDS:
            raise LockBackendError(f"{self.store.url}: a lease must last at least 1 s")
        self.store.self_test()
        self._owner = secrets.token_hex(8)
        give_up = time.monotonic() + self.timeout
        said = ""
        while True:
            found = self.store.read()
            record, version = found if found is not None else (None, None)
            now = time.time()
            if _free(record, now):
                counter = int((record or {}).get("counter") or 0) + 1
                if self._take(counter, version):
                    return
                continue  # another run won this round: look again
            assert record is not None
            told = describe_holder(record)
            if time.monotonic() >= give_up:
                raise LockTimeoutError(
                    f"gave up after {self.timeout:g} s waiting for the lock {self.store.url}: "
                    f"it is held by {told}. Wait for that run to finish; a lease that is not "
                    "renewed ends by itself."
                )
            if told != said and self.say is not None:
                self.say(f"dpn: waiting for the lock {self.store.url}: held by {told}")
                said = told
            time.sleep(min(self.poll, max(0.05, give_up - time.monotonic())))

    def _take(self, counter: int, version: str | None) -> bool:
        started = time.monotonic()
        record = self._new_record(counter, time.time())
        new: str | None
        try:
            if version is None:
                new = self.store.create(record)
            else:
                new = self.store.replace(record, version)
        except ConditionFailed:
            new = self._mine_after_all(record)
            if new is None:
                return False
        self.counter = counter
        self._version, self._record = new, record
        self._deadline = started + self.seconds
        self._lost = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="dpn-lease", daemon=True)
        self._thread.start()
        return True

    def _new_record(self, counter: int, now: float) -> dict[str, Any]:
        return {
            "holder": dict(self.holder),
            "owner": self._owner,
            "counter": counter,
            "purpose": self.purpose,
            "txn": self._record.get("txn"),
            "expires": round(now + self.seconds, 3),
            "expires_at": _iso(now + self.seconds),
        }

    def _mine_after_all(self, record: Mapping[str, Any]) -> str | None:
        """After a failed condition: whether the stored record is the one just written (a
        write that succeeded, then was retried after its answer was lost)."""
        found = self.store.read()
        if found is None:
            return None
        stored, version = found
        same = all(stored.get(k) == record.get(k) for k in ("owner", "counter", "expires"))
        return version if same else None

    def set_txn(self, txn_id: str | None) -> None:
        """Name the transaction in the record, for anyone waiting (written with the next
        renewal when the store cannot be reached now; `LeaseLostError` if the lease is lost)."""
        with self._write:
            if not self.held:
                return
            self._record["txn"] = txn_id
        try:
            self.renew()
        except LeaseLostError:
            raise
        except Exception:
            pass  # only a courtesy to those waiting; the renewal thread writes it later

    def renew(self) -> None:
        """Extend the lease (the background thread calls this). `LeaseLostError` when the
        record changed since this run wrote it: another run holds the lease now."""
        with self._write:
            if self._lost is not None:
                raise LeaseLostError(self._lost)
            if self._version is None:
                raise LeaseLostError(f"{self.store.url}: not held by this run")
            started = time.monotonic()
            record = self._new_record(self.counter, time.time())
            new: str | None
            try:
                new = self.store.replace(record, self._version)
            except ConditionFailed:
                new = self._mine_after_all(record)
                if new is None:
                    self._lost = (
                        f"the lock {self.store.url} was taken over by another run "
                        f"({self._holder_now()}); this run stops"
                    )
                    raise LeaseLostError(self._lost) from None
            self._version, self._record = new, record
            if self._deadline > started:  # an expired lease is not revived by a late renewal
                self._deadline = started + self.seconds

    def _holder_now(self) -> str:
        try:
            found = self.store.read()
        except Exception:
            return "holder unknown"
        return describe_holder(found[0]) if found else "nobody"

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except LeaseLostError:
                return
            except Exception:  # a network error: try again; `check` stops the run in time
                continue

    def check(self) -> None:
        """Raise `LeaseLostError` unless this run still holds the lease with time to spare."""
        if self._lost is None and time.monotonic() > self._deadline - self.margin:
            self._lost = (
                f"the lease on {self.store.url} (fencing counter {self.counter}) ran out before "
                "it could be renewed; this run stops"
            )
        if self._lost is not None:
            raise LeaseLostError(self._lost)

    def release(self) -> bool:
        """Stop renewing and free the record, if this run still holds it: whether it did (a
        run whose lease was taken over frees nothing)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None
        with self._write:
            version, self._version = self._version, None
            if version is None:
                return False
            free = {"counter": self.counter, "owner": "", "expires": 0, "holder": {}}
            try:
                self.store.replace(free, version)
            except ConditionFailed:
                return False  # taken over meanwhile: not ours to free
            except Exception:
                return False  # unreachable: the lease ends by itself at its expiry
            return True
