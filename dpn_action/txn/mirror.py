"""The WAL mirror: each transaction's log copied off the machine, fenced by the lease.

After every group commit of a WAL file (`wal.SyncHook`) that holds a record other than an
outcome (the begin, an intent, an abort, the end...), and so before the cloud calls its
records announce, the whole file is written to one object of a shared store
(`MirrorStore`, S3 in `dpn_action.team`), behind a header line:

    {"dpn-mirror":1,"fence":<lease counter>,"size":<bytes>,"txn":"<id>","writer":"<random>"}
    <the WAL file, byte for byte>

Fencing with conditional writes alone. A writer writes its first copy on a condition
("there is none", or "it is still the copy I read"), and every later copy on "it is still
the copy I wrote last" (S3: `If-Match` on the ETag it got back). A run that takes a
transaction over (recovery, under the lease) reads the copy, refuses if its header carries
a higher fencing counter than its own lease's (a newer holder wrote it) or records its own
log lacks, and writes its own copy on "still the one I read". From then on the earlier
writer's condition fails: every later write of a holder that lost its lease is refused,
and so is the cloud call its record announced. The header differs between writers (their
random ids), so two copies never look alike to the store (an ETag is a digest of the
bytes). A copy whose condition failed is checked once more: if the store holds exactly
what was sent, the write had succeeded and only its answer was lost.

A finished transaction gets a marker (`MirrorStore.finish`), so a run elsewhere fetches
only the logs of unfinished ones (a log that ended here but whose last copy failed is
completed in the mirror by the next pull). `Mirror.pull` brings them into the WAL directory, under
the lock, before recovery reads it: a log the directory lacks is copied in; one the
mirror has more of (the directory's is a prefix of it) is replaced; one that differs
otherwise is replaced too, its local bytes kept as `<file>.replaced-<n>` (the mirror's is
the newer holder's story; the local records it lacks were never let through to a cloud).

A group commit of outcomes only (`done`, `failed`, `resolved`, ...: how calls ended)
announces no call and is not copied on its own; the next copy takes it along. A runner lost
in between leaves those calls in doubt in the mirror, and recovery settles them by asking
the cloud, as it does for any intent without an outcome.

The mirror holds what the WAL holds: digests, never secret values.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from dpn_action.txn.crash import crash_point
from dpn_action.txn.errors import ConditionFailed, FencedError, TxnError, WalCorruptError
from dpn_action.txn.model import FINAL
from dpn_action.txn.wal import (
    canonical,
    fsync_dir,
    fsync_enabled,
    keep_copy,
    read_wal,
    wal_path,
)

#: records that only say how a cloud call ended: a group commit of nothing else announces no
#: call, so it rides along with the next copy instead of making one of its own
OUTCOMES = frozenset({"done", "failed", "resolved", "not-ours", "marked", "mark-failed"})

HEADER_KEY = "dpn-mirror"
FORMAT = 1
#: attempts at taking over a copy that keeps changing under us
TAKEOVER_ATTEMPTS = 5


class MirrorStore(Protocol):
    """Objects named by transaction id, written only on a condition (see `dpn_action.team`)."""

    url: str

    def list(self) -> tuple[set[str], set[str]]:
        """The transaction ids that have a copy, and those marked finished."""
        ...

    def get(self, txn_id: str) -> tuple[bytes, str] | None:
        """A transaction's copy and its version (an ETag), or None."""
        ...

    def create(self, txn_id: str, body: bytes, fence: int) -> str:
        """Write the copy if there is none: its version; `ConditionFailed` if there is."""
        ...

    def replace(self, txn_id: str, body: bytes, fence: int, version: str) -> str:
        """Write the copy if the stored one is still `version`: the new version;
        `ConditionFailed` if not."""
        ...

    def finish(self, txn_id: str) -> None:
        """Mark the transaction finished (idempotent)."""
        ...

    def self_test(self) -> None:
        """Prove the store enforces its conditions; `LockBackendError` if it does not."""
        ...


class MirrorError(TxnError):
    """A copy in the mirror is not a WAL dpn can read."""


def frame(header: dict[str, Any], wal: bytes) -> bytes:
    return canonical({HEADER_KEY: FORMAT, **header}) + b"\n" + wal


def unframe(body: bytes, where: str) -> tuple[dict[str, Any], bytes]:
    """The header and the WAL bytes of a copy; `MirrorError` if it is not one."""
    first, sep, wal = body.partition(b"\n")
    try:
        header = json.loads(first.decode("utf-8")) if sep else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get(HEADER_KEY) != FORMAT:
        raise MirrorError(f"{where}: not a dpn WAL mirror copy (no header line)")
    if header.get("size") != len(wal):
        raise MirrorError(f"{where}: the copy is cut short ({len(wal)} of {header.get('size')})")
    return header, wal


def finished(wal: bytes) -> bool:
    """Whether a log's last record ends its transaction for good."""
    last = wal.rstrip(b"\n").rpartition(b"\n")[2]
    try:
        record = json.loads(last.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("type") == "end"
        and record.get("status") in {s.value for s in FINAL}
    )


class Mirror:
    """The mirror as one lock holder uses it: `pull` before acting, `hook` per log."""

    def __init__(
        self, store: MirrorStore, *, fence: int, check: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.fence = fence
        self._check = check

    def check(self) -> None:
        if self._check is not None:
            self._check()

    def hook(self, txn_id: str, *, new: bool) -> _Copier:
        """The `wal.SyncHook` that copies one transaction's log (`new`: this run began it)."""
        return _Copier(self, txn_id, new=new)

    # --- reading it back -----------------------------------------------------------------

    def pull(self, wal_dir: Path) -> list[str]:
        """Bring the logs of unfinished transactions from the mirror into `wal_dir` (see the
        module's doc); what was done, one line each."""
        self.check()
        ids, done = self.store.list()
        notes: list[str] = []
        for txn_id in sorted(ids):
            path = wal_path(wal_dir, txn_id)
            local = path.read_bytes() if path.exists() else None
            if local is not None and finished(local):
                if txn_id not in done:
                    notes.extend(self._complete(txn_id, local))
                continue
            if local is None and txn_id in done:
                continue
            found = self.store.get(txn_id)
            if found is None:
                continue
            where = f"{self.store.url} (transaction {txn_id})"
            _, wal = unframe(found[0], where)
            if local is not None and local.startswith(wal):
                continue  # the directory holds all of it (and maybe records never let out)
            _check_log(wal_dir, txn_id, wal, where)
            if local is None:
                notes.append(f"transaction {txn_id}: log restored from the mirror")
            elif wal.startswith(local):
                notes.append(f"transaction {txn_id}: log completed from the mirror")
            else:
                copy = keep_copy(path, "replaced")
                notes.append(
                    f"transaction {txn_id}: the mirror's log differs from the local one and "
                    f"replaces it (a newer lock holder wrote it); local copy kept as {copy.name}"
                )
            _install(wal_dir, txn_id, wal)
        return notes

    def _complete(self, txn_id: str, local: bytes) -> list[str]:
        """A log that ended here but whose end never reached the mirror (its last copy
        failed): the mirror gets the whole log, so no run elsewhere takes it for unfinished."""
        found = self.store.get(txn_id)
        if found is None:
            return []
        _, wal = unframe(found[0], f"{self.store.url} (transaction {txn_id})")
        if wal == local:
            self.store.finish(txn_id)
            return []
        if not local.startswith(wal):
            return []  # another story: left to recovery, which reads the mirror's
        try:
            self.hook(txn_id, new=False)(len(local), lambda: local)
        except FencedError as exc:
            return [f"transaction {txn_id}: its end could not be copied to the mirror: {exc}"]
        return [f"transaction {txn_id}: its end, missing from the mirror, was copied there"]


class _Copier:
    """Copies one transaction's log to the mirror after each group commit."""

    def __init__(self, mirror: Mirror, txn_id: str, *, new: bool) -> None:
        self.mirror = mirror
        self.store = mirror.store
        self.txn_id = txn_id
        self.new = new
        self.writer = secrets.token_hex(8)
        self.version: str | None = None
        self.finished = False
        #: bytes of the log in the mirror
        self.copied = 0

    def __call__(self, size: int, data: Callable[[], bytes]) -> None:
        self.mirror.check()
        wal = data()
        if self.version is not None and _only_outcomes(wal[self.copied :]):
            return  # announces no cloud call: the next copy takes it along
        crash_point("before-mirror")
        fence = self.mirror.fence
        header = {"fence": fence, "size": len(wal), "txn": self.txn_id, "writer": self.writer}
        body = frame(header, wal)
        if self.version is None:
            self.version = self._first(wal, body)
        else:
            try:
                self.version = self.store.replace(self.txn_id, body, fence, self.version)
            except ConditionFailed:
                mine = self._stored_is(body)
                if mine is None:
                    raise FencedError(
                        f"the mirror of transaction {self.txn_id} ({self.store.url}) was taken "
                        f"over by another run (this run's fencing counter is {fence}): its "
                        "records are refused, and this run stops"
                    ) from None
                self.version = mine
        self.copied = len(wal)
        if not self.finished and finished(wal):
            self.finished = True
            # only an optimisation: without the mark, a run elsewhere reads the log instead
            with contextlib.suppress(Exception):
                self.store.finish(self.txn_id)

    def _stored_is(self, body: bytes) -> str | None:
        found = self.store.get(self.txn_id)
        return found[1] if found is not None and found[0] == body else None

    def _first(self, wal: bytes, body: bytes) -> str:
        """The first copy of this run: created, or taken over from the one stored."""
        fence = self.mirror.fence
        for _ in range(TAKEOVER_ATTEMPTS):
            found = None if self.new else self.store.get(self.txn_id)
            self.new = False
            if found is None:
                try:
                    return self.store.create(self.txn_id, body, fence)
                except ConditionFailed:
                    continue
            stored, version = found
            header, theirs = unframe(stored, f"{self.store.url} (transaction {self.txn_id})")
            if int(header.get("fence") or 0) > fence:
                raise FencedError(
                    f"the mirror of transaction {self.txn_id} was written under fencing counter "
                    f"{header.get('fence')}, newer than this run's {fence}: another run holds "
                    "the lock now, and this run stops"
                )
            if not wal.startswith(theirs):
                raise FencedError(
                    f"the mirror of transaction {self.txn_id} holds records this run's log "
                    "lacks: another run wrote it since this run read it; this run stops"
                )
            try:
                return self.store.replace(self.txn_id, body, fence, version)
            except ConditionFailed:
                continue
        raise FencedError(
            f"the mirror of transaction {self.txn_id} kept changing while this run took it "
            "over: another run is writing it; this run stops"
        )


def _only_outcomes(new: bytes) -> bool:
    """Whether the records in `new` (whole lines) all only report how a call ended."""
    for line in new.splitlines():
        try:
            kind = json.loads(line).get("type")
        except (ValueError, AttributeError):
            return False
        if kind not in OUTCOMES:
            return False
    return True


def _check_log(wal_dir: Path, txn_id: str, wal: bytes, where: str) -> None:
    """Refuse a copy that is not a whole, unbroken log."""
    scratch = wal_dir / ".mirror"
    scratch.mkdir(parents=True, exist_ok=True)
    probe = wal_path(scratch, txn_id)
    try:
        probe.write_bytes(wal)
        try:
            read = read_wal(probe)
        except WalCorruptError as exc:
            raise MirrorError(f"{where}: the copy is damaged: {exc.reason}") from exc
        if read.torn is not None or not read.records:
            raise MirrorError(f"{where}: the copy is damaged ({read.torn or 'empty'})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _install(wal_dir: Path, txn_id: str, wal: bytes) -> None:
    """Put `wal` in place as the transaction's file: a temporary file, fsynced, renamed."""
    wal_dir.mkdir(parents=True, exist_ok=True)
    path = wal_path(wal_dir, txn_id)
    tmp = path.with_name(path.name + ".mirror-tmp")
    with open(tmp, "wb") as fh:
        fh.write(wal)
        fh.flush()
        if fsync_enabled():
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(wal_dir)
