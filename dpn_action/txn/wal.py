"""The write-ahead log: one JSON-lines file per transaction, every record CRC-chained.

Format and guarantees are described in docs/wal.md. In short:

* file `txn-<txn id>.jsonl` in the WAL directory; the id sorts by start time;
* each line is one record, canonical JSON (sorted keys, no spaces, ASCII only) with the
  fields `seq`, `txn`, `ts`, `type`, the type's own fields, and `crc`;
* `crc` = CRC32 of the record's canonical JSON without `crc`, seeded with the previous
  record's `crc` (0 for the first), so a record cannot be dropped, reordered or altered
  without the next check failing;
* an append is write + flush + fsync before it returns; the file appears (by an atomic
  rename) already holding its `begin` record, and the directory is fsynced then.

Reading never changes a file. `WalWriter.open` (called only under the WAL lock) repairs a
torn last record by truncating it, after keeping a copy of the original.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dpn_action.txn.errors import TxnError, WalCorruptError

DEFAULT_WAL_DIR = ".dpn-wal"
WAL_PREFIX = "txn-"
WAL_SUFFIX = ".jsonl"
#: Benchmark-only switch: `DPN_WAL_FSYNC=0` skips every fsync. A crash may then lose records
#: that were reported written, so recovery can no longer be trusted. Never set it for real work.
FSYNC_ENV = "DPN_WAL_FSYNC"

#: Envelope fields every record has; a record type's own fields may not reuse them.
ENVELOPE = frozenset({"seq", "txn", "ts", "type", "crc"})

Record = dict[str, Any]


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


def _keep_copy(path: Path) -> Path:
    n = 1
    while (copy := path.with_name(f"{path.name}.torn-{n}")).exists():
        n += 1
    shutil.copy2(path, copy)
    if fsync_enabled():
        with open(copy, "rb+") as fh:
            os.fsync(fh.fileno())
    return copy


class WalWriter:
    """Appends records to one transaction's WAL file. Safe to share between threads."""

    def __init__(self, path: Path, txn_id: str, next_seq: int, prev_crc: int) -> None:
        self.path = path
        #: the begin record, when this writer created the file
        self.begin_record: Record = {}
        self._size = path.stat().st_size
        self.txn_id = txn_id
        self._next_seq = next_seq
        self._prev_crc = prev_crc
        self._fsync = fsync_enabled()
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        #: bytes of the file known to be on disk
        self._synced = self._size
        self._fh = open(path, "ab")  # noqa: SIM115 - lives as long as the writer

    @classmethod
    def create(cls, wal_dir: Path, txn_id: str, begin: Mapping[str, Any]) -> WalWriter:
        """Create the file for a new transaction, already holding its `begin` record.

        The record is written to a temporary file and renamed into place, so a WAL file
        never exists without its begin record; the directory is fsynced after the rename.
        """
        wal_dir.mkdir(parents=True, exist_ok=True)
        path = wal_path(wal_dir, txn_id)
        if path.exists():
            raise TxnError(f"{path}: a WAL file for transaction {txn_id} already exists")
        record = _envelope(0, txn_id, "begin", begin)
        record["crc"] = record_crc(record, 0)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(canonical(record) + b"\n")
            fh.flush()
            if fsync_enabled():
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(wal_dir)
        writer = cls(path, txn_id, 1, record["crc"])
        writer.begin_record = record
        return writer

    @classmethod
    def open(cls, path: Path) -> tuple[WalWriter, WalRead]:
        """Open an existing WAL file to append to it, repairing a torn last record first.

        Only call this while holding the WAL lock: a live writer's half-written last line
        looks exactly like a torn one.
        """
        read = read_wal(path)
        if read.torn is not None:
            _keep_copy(path)
            with open(path, "rb+") as fh:
                fh.truncate(read.good_length)
                fh.flush()
                if fsync_enabled():
                    os.fsync(fh.fileno())
        prev = read.records[-1]["crc"] if read.records else 0
        return cls(path, txn_id_of(path), len(read.records), prev), read

    def append(self, record_type: str, fields: Mapping[str, Any] | None = None) -> Record:
        """Append one record and return only once it is durable.

        Threads append concurrently: the line is written under the writer's lock, the fsync
        happens after it (group commit). One fsync makes durable every line written before
        it started, so a thread whose line an fsync already covered returns without its own,
        and no thread waits for the disk while holding the lock that orders the records.
        """
        with self._lock:
            record = _envelope(self._next_seq, self.txn_id, record_type, fields or {})
            record["crc"] = record_crc(record, self._prev_crc)
            line = canonical(record) + b"\n"
            try:
                self._fh.write(line)
                self._fh.flush()
            except OSError:
                # A half-written line followed by later appends would read as corruption in
                # the middle of the log; cut it off so the log stays a valid prefix.
                self._fh.truncate(self._size)
                raise
            self._size += len(line)
            self._next_seq += 1
            self._prev_crc = record["crc"]
            end = self._size
        if self._fsync:
            self._sync_to(end)
        return record

    def _sync_to(self, end: int) -> None:
        """fsync, unless an fsync that started after byte `end` was written already ran."""
        with self._sync_lock:
            if self._synced >= end:
                return
            covered = self._size  # every byte counted here was written and flushed
            os.fsync(self._fh.fileno())
            self._synced = max(self._synced, covered)

    def close(self) -> None:
        self._fh.close()

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
