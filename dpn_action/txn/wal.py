"""The write-ahead log: one JSON-lines file per transaction, every record CRC-chained.

Format and guarantees are described in docs/wal.md. In short:

* file `txn-<txn id>.jsonl` in the WAL directory; the id sorts by start time;
* each line is one record, canonical JSON (sorted keys, no spaces, ASCII only) with the
  fields `seq`, `txn`, `ts`, `type`, the type's own fields, and `crc`;
* `crc` = CRC32 of the record's canonical JSON without `crc`, seeded with the previous
  record's `crc` (0 for the first), so a record cannot be dropped, reordered or altered
  without the next check failing;
* an append is write + fsync before it returns; the file appears (by an atomic rename)
  already holding its `begin` record, and the directory is fsynced then;
* a write that fails (a full disk) is cut back to the last complete record before anything
  else is written, so the file always reads as a valid log.

Reading never changes a file. `WalWriter.open` (called only under the WAL lock) repairs a
torn last record by truncating it, after keeping a copy of the original.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from dpn_action.txn import crash
from dpn_action.txn.errors import TxnError, WalCorruptError, WalWriteError

DEFAULT_WAL_DIR = ".dpn-wal"
WAL_PREFIX = "txn-"
WAL_SUFFIX = ".jsonl"
#: Benchmark-only switch: `DPN_WAL_FSYNC=0` skips every fsync. A crash may then lose records
#: that were reported written, so recovery can no longer be trusted. Never set it for real work.
FSYNC_ENV = "DPN_WAL_FSYNC"

#: Envelope fields every record has; a record type's own fields may not reuse them.
ENVELOPE = frozenset({"seq", "txn", "ts", "type", "crc"})

Record = dict[str, Any]


class SyncHook(Protocol):
    """Called after each group commit, before the appends it covers return: `size` bytes of
    the file are durable, `data()` reads them. It may raise a `TxnError` (a lost lease, a
    refused mirror write): the appends raise it, and the writer refuses every later one.
    Team mode's lease check and WAL mirror (`txn.lock.Guard`) come in here."""

    def __call__(self, size: int, data: Callable[[], bytes]) -> None: ...


def new_txn_id() -> str:
    """A transaction id that sorts by start time: `20250101T120000123456Z-1a2b3c4d`."""
    now = datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wal_path(wal_dir: Path, txn_id: str) -> Path:
    return wal_dir / f"{WAL_PREFIX}{txn_id}{WAL_SUFFIX}"


def txn_id_of(path: Path) -> str:
    name = path.name
    if not (name.startswith(WAL_PREFIX) and name.endswith(WAL_SUFFIX)):
        raise TxnError(f"{path}: not a WAL file name (expected {WAL_PREFIX}<id>{WAL_SUFFIX})")
    return name[len(WAL_PREFIX) : -len(WAL_SUFFIX)]


def list_wal_files(wal_dir: Path) -> list[Path]:
    """Every transaction's WAL file, oldest first (torn-tail copies and temp files excluded)."""
    if not wal_dir.is_dir():
        return []
    return sorted(wal_dir.glob(f"{WAL_PREFIX}*{WAL_SUFFIX}"))


def fsync_enabled() -> bool:
    return os.environ.get(FSYNC_ENV, "1") != "0"


def canonical(record: Mapping[str, Any]) -> bytes:
    """The one byte form of a record: what is written, and what the CRC covers."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def record_crc(record: Mapping[str, Any], prev_crc: int) -> int:
    """CRC32 of the record without its `crc` field, chained to the previous record's CRC."""
    body = {k: v for k, v in record.items() if k != "crc"}
    return zlib.crc32(canonical(body), prev_crc) & 0xFFFFFFFF


def fsync_dir(directory: Path) -> None:
    """Make a file's creation, rename or removal in `directory` durable."""
    if not fsync_enabled() or os.name == "nt":  # Windows cannot open a directory for fsync
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class WalRead:
    """What a WAL file holds. `torn` says why the last line was left out (None: it was not)."""

    path: Path
    records: list[Record]
    good_length: int
    torn: str | None


def _check_line(raw: bytes, seq: int, txn: str, prev_crc: int) -> tuple[Record | None, str]:
    """Parse one line; return the record, or None and the reason it is not a valid record."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"not valid JSON: {exc}"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    crc = record.get("crc")
    if not isinstance(crc, int) or isinstance(crc, bool):
        return None, "no integer crc field"
    try:
        expected = record_crc(record, prev_crc)
    except ValueError as exc:  # NaN or Infinity cannot be part of a canonical record
        return None, f"not canonical JSON: {exc}"
    if crc != expected:
        return None, f"CRC mismatch (stored {crc}, computed {expected})"
    if record.get("seq") != seq:
        return None, f"sequence number {record.get('seq')!r}, expected {seq}"
    if record.get("txn") != txn:
        return None, f"transaction id {record.get('txn')!r}, expected {txn!r}"
    if not isinstance(record.get("type"), str):
        return None, "no record type"
    return record, ""


def read_wal(path: Path) -> WalRead:
    """Read and verify a WAL file without changing it.

    A damaged *last* line (no newline: the write was cut; or bad JSON, sequence or CRC) is
    reported in `torn` and left out. Damage anywhere before the last line raises
    `WalCorruptError` naming the file and line: the records after it cannot be trusted and
    must not be silently dropped.
    """
    txn = txn_id_of(path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    # A file that ends with "\n" splits into [..., b""]; anything else left over is a line
    # whose write never finished.
    unterminated = lines.pop()
    records: list[Record] = []
    prev_crc = 0
    offset = 0
    for index, raw in enumerate(lines):
        record, reason = _check_line(raw, len(records), txn, prev_crc)
        if record is None:
            is_last = index == len(lines) - 1 and not unterminated
            if is_last:
                return WalRead(path, records, offset, f"line {index + 1}: {reason}")
            raise WalCorruptError(path, index + 1, reason)
        records.append(record)
        prev_crc = record["crc"]
        offset += len(raw) + 1
    torn = None
    if unterminated:
        torn = f"line {len(lines) + 1}: incomplete ({len(unterminated)} bytes, no newline)"
    return WalRead(path, records, offset, torn)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` (os.write may write fewer); raises OSError (ENOSPC, EIO)."""
    view = memoryview(data)
    while view:
        written = crash.write(fd, view)
        view = view[written:]


def _write_file(path: Path, data: bytes) -> None:
    """Create `path` (it must not exist) holding `data`, fsynced. On failure nothing of it is
    left behind and `WalWriteError` says why."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise WalWriteError(f"{path}: cannot create it: {_why(exc)}") from exc
    try:
        try:
            _write_all(fd, data)
            if fsync_enabled():
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise WalWriteError(f"{path}: cannot write it: {_why(exc)}") from exc


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def keep_copy(path: Path, why: str = "torn") -> Path:
    """Copy `path` to the first free `<name>.<why>-<n>`, fsynced, before it is changed."""
    n = 1
    while (copy := path.with_name(f"{path.name}.{why}-{n}")).exists():
        n += 1
    _write_file(copy, path.read_bytes())
    fsync_dir(path.parent)
    return copy


class WalWriter:
    """Appends records to one transaction's WAL file. Safe to share between threads.

    Writes go straight to the file descriptor (no buffer that could flush a half line
    later). A write that fails (a full disk) is cut back to the last complete record,
    fsynced, before anything else is written; the append raises `WalWriteError`, and the
    log still reads as a valid prefix. If the cut itself fails, or an fsync fails (the
    kernel may then have dropped data it had accepted), the writer refuses every later
    append: the run must stop, and recovery reads the log as it was last made durable.

    `hook` (`SyncHook`) runs after every group commit, before the appends return; when it
    raises, so do they, and the writer refuses every later append as well.
    """

    def __init__(
        self,
        path: Path,
        txn_id: str,
        next_seq: int,
        prev_crc: int,
        hook: SyncHook | None = None,
    ) -> None:
        self.path = path
        #: the begin record, when this writer created the file
        self.begin_record: Record = {}
        self.txn_id = txn_id
        self._next_seq = next_seq
        self._prev_crc = prev_crc
        self._fsync = fsync_enabled()
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        #: bytes of the file that are whole records (tracked here, not read from the file)
        self._size = os.fstat(self._fd).st_size
        #: bytes of the file known to be on disk
        self._synced = self._size
        #: why appends are refused, once the log could not be kept a valid prefix
        self._broken: str | None = None
        #: the error appends raise once refused (the hook's own, when it refused)
        self._broken_as: type[TxnError] = WalWriteError
        self._hook = hook

    @classmethod
    def create(
        cls,
        wal_dir: Path,
        txn_id: str,
        begin: Mapping[str, Any],
        hook: SyncHook | None = None,
    ) -> WalWriter:
        """Create the file for a new transaction, already holding its `begin` record.

        The record is written to a temporary file and renamed into place, so a WAL file
        never exists without its begin record; the directory is fsynced after the rename.
        On a failed write nothing is left behind: the transaction never existed. With a
        `hook`, it runs for the begin record before this returns.
        """
        wal_dir.mkdir(parents=True, exist_ok=True)
        path = wal_path(wal_dir, txn_id)
        if path.exists():
            raise TxnError(f"{path}: a WAL file for transaction {txn_id} already exists")
        record = _envelope(0, txn_id, "begin", begin)
        record["crc"] = record_crc(record, 0)
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        _write_file(tmp, canonical(record) + b"\n")
        os.replace(tmp, path)
        fsync_dir(wal_dir)
        writer = cls(path, txn_id, 1, record["crc"], hook)
        writer.begin_record = record
        if hook is not None:
            writer._synced = 0  # on disk, but not yet through the hook
            try:
                writer._sync_to(writer._size, durable=True)
            except BaseException:
                writer.close()
                raise
        return writer

    @classmethod
    def open(cls, path: Path, hook: SyncHook | None = None) -> tuple[WalWriter, WalRead]:
        """Open an existing WAL file to append to it, repairing a torn last record first.

        Only call this while holding the WAL lock: a live writer's half-written last line
        looks exactly like a torn one.
        """
        read = read_wal(path)
        if read.torn is not None:
            keep_copy(path)
            try:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.ftruncate(fd, read.good_length)
                    if fsync_enabled():
                        os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise WalWriteError(f"{path}: cannot cut off its torn tail: {_why(exc)}") from exc
        prev = read.records[-1]["crc"] if read.records else 0
        return cls(path, txn_id_of(path), len(read.records), prev, hook), read

    def append(self, record_type: str, fields: Mapping[str, Any] | None = None) -> Record:
        """Append one record and return only once it is durable.

        Threads append concurrently: the line is written under the writer's lock, the fsync
        happens after it (group commit). One fsync makes durable every line written before
        it started, so a thread whose line an fsync already covered returns without its own,
        and no thread waits for the disk while holding the lock that orders the records.
        """
        record, end = self.write(record_type, fields)
        self.sync_to(end)
        return record

    def write(
        self, record_type: str, fields: Mapping[str, Any] | None = None
    ) -> tuple[Record, int]:
        """Write one record, not yet durable: the record and the size of the log with it,
        for `sync_to`. A caller that orders records under a lock of its own writes under it
        and makes them durable after it, so the fsyncs of several threads can be one."""
        with self._lock:
            self._refuse_if_broken()
            record = _envelope(self._next_seq, self.txn_id, record_type, fields or {})
            record["crc"] = record_crc(record, self._prev_crc)
            line = canonical(record) + b"\n"
            try:
                _write_all(self._fd, line)
            except OSError as exc:
                raise WalWriteError(self._cut_back(exc)) from exc
            self._size += len(line)
            self._next_seq += 1
            self._prev_crc = record["crc"]
            return record, self._size

    def sync_to(self, end: int) -> None:
        """Return once the log is durable up to byte `end` (see `append`)."""
        if self._fsync or self._hook is not None:
            self._sync_to(end)

    def _cut_back(self, exc: OSError) -> str:
        """After a failed write: restore the file to its last complete record (called under
        the ordering lock). Returns the message for the error the append raises."""
        what = f"{self.path}: a WAL record could not be written ({_why(exc)})"
        try:
            os.ftruncate(self._fd, self._size)
            if self._fsync:
                os.fsync(self._fd)
        except OSError as again:
            self._broken = f"{_why(exc)}, and cutting it back failed: {_why(again)}"
            return f"{what}; cutting the half-written record off failed too ({_why(again)})"
        return f"{what}; the log was cut back to its last complete record"

    def _refuse_if_broken(self) -> None:
        if self._broken is not None:
            raise self._broken_as(
                f"{self.path}: the log is not written to any more ({self._broken}); "
                "the run stops here"
            )

    def _sync_to(self, end: int, *, durable: bool = False) -> None:
        """fsync and run the hook, unless a group commit that started after byte `end` was
        written already did (`durable`: the bytes are on disk already, only the hook runs)."""
        with self._sync_lock:
            self._refuse_if_broken()
            if self._synced >= end:
                return
            covered = self._size  # every byte counted here was written
            if self._fsync and not durable:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    self._broken = f"fsync failed: {_why(exc)}"
                    self._refuse_if_broken()
            if self._hook is not None:
                try:
                    self._hook(covered, lambda: self._read(covered))
                except TxnError as exc:
                    self._broken, self._broken_as = str(exc), type(exc)
                    raise
            self._synced = max(self._synced, covered)

    def _read(self, size: int) -> bytes:
        """The first `size` bytes of the file (whole records: a cut only removes later ones)."""
        with open(self.path, "rb") as fh:
            return fh.read(size)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> WalWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _envelope(seq: int, txn_id: str, record_type: str, fields: Mapping[str, Any]) -> Record:
    clash = ENVELOPE.intersection(fields)
    if clash:
        raise ValueError(f"record fields may not be named {sorted(clash)}")
    record: Record = {"seq": seq, "txn": txn_id, "ts": utc_now(), "type": record_type}
    record.update(fields)
    return record
