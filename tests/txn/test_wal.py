"""The WAL: durable, verifiable, and honest about damage."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpn_action.txn import wal
from dpn_action.txn.errors import WalCorruptError
from dpn_action.txn.wal import WalWriter, list_wal_files, new_txn_id, read_wal, record_crc

RECORDS: list[tuple[str, dict[str, Any]]] = [
    ("intent", {"key": "aws_s3_bucket:/a", "action": "create"}),
    ("done", {"key": "aws_s3_bucket:/a", "action": "create", "resource": {"id": "arn:a"}}),
    ("intent", {"key": "aws_glue_database:/b", "action": "create"}),
    ("failed", {"key": "aws_glue_database:/b", "action": "create", "error": "Access denied"}),
]


def write_log(wal_dir: Path, records: list[tuple[str, dict[str, Any]]] = RECORDS) -> Path:
    txn = new_txn_id()
    with WalWriter.create(wal_dir, txn, {"ops": [], "note": "ünïcode ok"}) as writer:
        for record_type, fields in records:
            writer.append(record_type, fields)
    return writer.path


def line_offsets(path: Path) -> list[int]:
    """Byte offset where each line starts, plus the file length."""
    data = path.read_bytes()
    offsets = [0]
    for i, byte in enumerate(data):
        if byte == ord("\n"):
            offsets.append(i + 1)
    return offsets


def test_appended_records_read_back_in_order_with_envelope(tmp_path: Path) -> None:
    path = write_log(tmp_path)
    read = read_wal(path)
    assert read.torn is None
    assert [r["type"] for r in read.records] == ["begin"] + [t for t, _ in RECORDS]
    assert [r["seq"] for r in read.records] == list(range(len(RECORDS) + 1))
    assert {r["txn"] for r in read.records} == {wal.txn_id_of(path)}
    assert read.records[0]["note"] == "ünïcode ok"
    for record, (_, fields) in zip(read.records[1:], RECORDS, strict=True):
        assert {k: record[k] for k in fields} == fields


def test_each_crc_is_chained_to_the_previous_record(tmp_path: Path) -> None:
    records = read_wal(write_log(tmp_path)).records
    prev = 0
    for record in records:
        assert record["crc"] == record_crc(record, prev)
        prev = record["crc"]
    # The same record with another predecessor would carry another CRC.
    assert record_crc(records[2], 0) != records[2]["crc"]


def test_file_is_ascii_canonical_json_lines(tmp_path: Path) -> None:
    data = write_log(tmp_path).read_bytes()
    assert data.isascii()
    for line in data.splitlines():
        assert wal.canonical(json.loads(line)) == line


def test_file_name_holds_the_transaction_id_and_ids_sort_by_start_time(tmp_path: Path) -> None:
    ids = [new_txn_id() for _ in range(50)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 50
    path = write_log(tmp_path)
    assert list_wal_files(tmp_path) == [path]
    assert path.name == f"txn-{wal.txn_id_of(path)}.jsonl"


def test_new_file_appears_complete_and_directory_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_dirs: list[Path] = []
    monkeypatch.setattr(wal, "fsync_dir", lambda d: synced_dirs.append(d))
    path = write_log(tmp_path)
    assert synced_dirs == [tmp_path]
    assert not list(tmp_path.glob("*.tmp"))
    assert read_wal(path).records[0]["type"] == "begin"


def test_every_append_is_fsynced_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = WalWriter.create(tmp_path, new_txn_id(), {})
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    writer.append("intent", {"key": "k", "action": "create"})
    assert len(synced) == 1
    writer.append("done", {"key": "k", "action": "create"})
    assert len(synced) == 2
    writer.close()


def test_fsync_can_be_switched_off_for_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(wal.FSYNC_ENV, "0")
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    write_log(tmp_path)
    assert synced == []


def test_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    path = write_log(tmp_path)
    writer, read = WalWriter.open(path)
    with writer:
        writer.append("end", {"status": "COMMITTED"})
    records = read_wal(path).records
    assert len(records) == len(read.records) + 1
    assert records[-1]["seq"] == len(read.records)


def test_torn_last_record_is_truncated_and_copy_kept_at_every_byte_offset(
    tmp_path: Path,
) -> None:
    original = write_log(tmp_path / "src")
    data = original.read_bytes()
    offsets = line_offsets(original)
    last_start, end = offsets[-2], offsets[-1]
    for cut in range(last_start + 1, end):  # every length that leaves the last line partial
        case = tmp_path / f"cut{cut}"
        case.mkdir()
        path = case / original.name
        path.write_bytes(data[:cut])
        read = read_wal(path)
        assert read.torn is not None
        assert path.read_bytes() == data[:cut], "reading alone must not change the file"

        writer, reopened = WalWriter.open(path)
        writer.close()
        assert len(reopened.records) == len(RECORDS)  # the begin record plus all but the last
        assert path.read_bytes() == data[:last_start]
        assert (case / f"{original.name}.torn-1").read_bytes() == data[:cut]
        assert read_wal(path).torn is None


def test_last_record_with_bad_crc_is_truncated_too(tmp_path: Path) -> None:
    path = write_log(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b'"create"', b'"delete"')
    path.write_bytes(b"".join(lines))
    assert "CRC mismatch" in (read_wal(path).torn or "")
    writer, read = WalWriter.open(path)
    writer.close()
    assert len(read.records) == len(lines) - 1


def test_second_repair_keeps_a_second_copy(tmp_path: Path) -> None:
    path = write_log(tmp_path)
    for n in (1, 2):
        path.write_bytes(path.read_bytes()[:-5])
        WalWriter.open(path)[0].close()
        assert (tmp_path / f"{path.name}.torn-{n}").exists()
    assert list_wal_files(tmp_path) == [path], "copies are not transactions"


def test_flipped_bit_in_a_middle_record_refuses_with_file_and_line(tmp_path: Path) -> None:
    original = write_log(tmp_path)
    data = original.read_bytes()
    offsets = line_offsets(original)
    middle = 2  # 0-based: the third line; two more lines follow it
    for pos in range(offsets[middle], offsets[middle + 1]):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[pos] ^= 1 << bit
            original.write_bytes(bytes(damaged))
            with pytest.raises(WalCorruptError) as info:
                read_wal(original)
            assert info.value.line == middle + 1
            assert f"{original}:{middle + 1}:" in str(info.value)
            with pytest.raises(WalCorruptError):
                WalWriter.open(original)
            assert original.read_bytes() == bytes(damaged), "a corrupt log is never rewritten"


def test_swapped_records_are_corruption(tmp_path: Path) -> None:
    path = write_log(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_bytes(b"".join(lines))
    with pytest.raises(WalCorruptError, match=r":2: WAL record is corrupt"):
        read_wal(path)


def test_record_pasted_from_another_transaction_is_corruption(tmp_path: Path) -> None:
    one = write_log(tmp_path / "one")
    other = write_log(tmp_path / "other")
    lines = one.read_bytes().splitlines(keepends=True)
    lines[2] = other.read_bytes().splitlines(keepends=True)[2]
    one.write_bytes(b"".join(lines))
    with pytest.raises(WalCorruptError):
        read_wal(one)


def test_record_fields_may_not_shadow_the_envelope(tmp_path: Path) -> None:
    with WalWriter.create(tmp_path, new_txn_id(), {}) as writer, pytest.raises(ValueError):
        writer.append("intent", {"seq": 7})


# --- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
field_maps = st.dictionaries(
    st.text(min_size=1).filter(lambda k: k not in wal.ENVELOPE), json_values, max_size=5
)
record_lists = st.lists(st.tuples(st.text(min_size=1), field_maps), max_size=8)
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(records=record_lists)
def test_any_record_sequence_round_trips(tmp_path: Path, records: list[Any]) -> None:
    path = write_log(tmp_path / new_txn_id(), records)
    read = read_wal(path)
    assert read.torn is None
    assert [r["type"] for r in read.records[1:]] == [t for t, _ in records]
    for record, (_, fields) in zip(read.records[1:], records, strict=True):
        assert {k: v for k, v in record.items() if k not in wal.ENVELOPE} == fields


@PROPERTY
@given(records=record_lists, cut=st.floats(min_value=0, max_value=1))
def test_any_truncation_reads_as_a_clean_prefix(
    tmp_path: Path, records: list[Any], cut: float
) -> None:
    path = write_log(tmp_path / new_txn_id(), records)
    full = read_wal(path).records
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    writer, read = WalWriter.open(path)  # never raises: a cut only ever loses the tail
    writer.close()
    assert read.records == full[: len(read.records)]
    assert read_wal(path).torn is None
