"""Persistence: log format, replay, snapshots, torn and corrupt records, failing disks (no sockets)."""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from scintirete_integrations.errors import InternalError, InvalidArgumentError
from scintirete_integrations.lite import storage as storage_module
from scintirete_integrations.lite.engine import Engine
from scintirete_integrations.lite.log_records import (
    CollectionCreated,
    CollectionDropped,
    CollectionState,
    DatabaseCreated,
    DatabaseDropped,
    Record,
    StoredRows,
    VectorsDeleted,
    VectorsInserted,
    decode_line,
    encode_record,
    frame,
)
from scintirete_integrations.lite.storage import CorruptLogError, Storage, StorageError
from scintirete_integrations.models import HnswConfig, Metric

RECORDS: list[Record] = [
    DatabaseCreated("d ü"),
    DatabaseDropped("d"),
    CollectionCreated("d", "c", "cosine", 4, 40),
    CollectionDropped("d", "c"),
    VectorsInserted("d", "c", [7, 8], np.array([[1.5, -2.0], [0.0, 3.25]], np.float32), [b"", b"\x0a\x01x"]),
    VectorsDeleted("d", "c", [7]),
    CollectionState("d", "c", 2, 9, 1),
]


def log_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("log.*.jsonl"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = Engine.open(str(data_dir), fsync="never")
    yield engine
    engine.close()


def fill(engine: Engine) -> None:
    """A state with every kind of change: dropped things, deletes, metadata, several collections."""
    engine.create_database("db")
    engine.create_database("gone")
    engine.create_collection("gone", "x", Metric.L2)
    engine.drop_database("gone")
    engine.create_collection("db", "c", Metric.COSINE, HnswConfig(m=8, ef_construction=64))
    engine.create_collection("db", "dropped", Metric.L2)
    engine.drop_collection("db", "dropped")
    engine.create_collection("db", "empty", Metric.INNER_PRODUCT)
    vectors = np.arange(40, dtype=np.float32).reshape(10, 4) + 1
    engine.insert("db", "c", vectors, [f"meta-{i}".encode() for i in range(10)])
    engine.delete("db", "c", [2, 3, 10])


def state(engine: Engine) -> dict[str, object]:
    """Everything observable: infos, and what a search returns (ids, distances, metadata, vectors)."""
    result: dict[str, object] = {"databases": engine.list_databases()}
    for db in engine.list_databases():
        for info in engine.list_collections(db):
            result[f"{db}/{info.name}"] = (
                info.dimension,
                info.vector_count,
                info.deleted_count,
                info.metric,
                info.hnsw,
            )
            if info.dimension:
                hits = engine.search(
                    db, info.name, np.ones(info.dimension), 100, ef_search=100, include_vectors=True
                )
                assert hits.vectors is not None
                result[f"{db}/{info.name}/hits"] = (
                    hits.ids,
                    hits.distances,
                    hits.metadata,
                    hits.vectors.tolist(),
                )
    return result


# -- the line format ------------------------------------------------------------------------------


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_record_round_trips(record: Record) -> None:
    line = encode_record(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert int(line[:8], 16) == zlib.crc32(line[9:-1])
    decoded = decode_line(line)
    assert type(decoded) is type(record)
    if isinstance(record, VectorsInserted):
        assert isinstance(decoded, VectorsInserted)
        assert decoded.vectors.dtype == np.float32
        assert decoded.vectors.tolist() == record.vectors.tolist()
        assert (decoded.ids, decoded.metadata) == (record.ids, record.metadata)
    else:
        assert decoded == record


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (encode_record(DatabaseCreated("d"))[:-1], "incomplete record"),
        (encode_record(DatabaseCreated("d")).replace(b'"d"', b'"e"'), "CRC mismatch"),
        (b"zzzzzzzz {}\n", "bad CRC field"),
        (b"short\n", "malformed record"),
        (b"%08x %s\n" % (zlib.crc32(b'{"op":"nope"}'), b'{"op":"nope"}'), "unknown record op"),
        (b"%08x %s\n" % (zlib.crc32(b'{"op":"delete"}'), b'{"op":"delete"}'), "malformed delete record"),
        (b"%08x %s\n" % (zlib.crc32(b"[1]"), b"[1]"), "not a JSON object"),
    ],
)
def test_damaged_lines_are_rejected_with_a_reason(line: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_line(line)


def test_insert_record_checks_its_shape() -> None:
    record = VectorsInserted("d", "c", [1], np.zeros((1, 2), np.float32), [b""])
    data = {**record.to_json(), "vectors": record.vectors_base64().decode()}
    assert VectorsInserted.from_json(data).vectors.tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match="expected 1 rows of dimension 3"):
        VectorsInserted.from_json({**data, "dim": 3})
    with pytest.raises(ValueError, match="2 metadata entries for 1 ids"):
        VectorsInserted.from_json({**data, "metadata": ["", ""]})


# -- replay ---------------------------------------------------------------------------------------


def test_restart_from_the_log_alone_reproduces_everything(data_dir: Path) -> None:
    engine = Engine.open(str(data_dir))
    fill(engine)
    before = state(engine)
    engine._storage.close()  # type: ignore[union-attr]  # a crash: no snapshot
    assert not (data_dir / "snapshot.jsonl").exists()
    again = Engine.open(str(data_dir))
    assert state(again) == before
    assert again.insert("db", "c", [[1.0, 1.0, 1.0, 1.0]]) == [11]  # next id survives
    again.close()


def test_restart_from_a_snapshot_plus_later_writes(data_dir: Path) -> None:
    engine = Engine.open(str(data_dir))
    fill(engine)
    saved = engine.save()
    assert saved.persisted and saved.size_bytes == (data_dir / "snapshot.jsonl").stat().st_size
    assert [p.name for p in log_files(data_dir)] == ["log.000002.jsonl"]  # older logs compacted away
    assert log_files(data_dir)[0].stat().st_size == 0
    engine.delete("db", "c", [4])
    engine.insert("db", "c", [[0.0, 0.0, 0.0, 1.0]], [b"after"])
    before = state(engine)
    engine.close()
    again = Engine.open(str(data_dir))
    assert state(again) == before
    info = again.collection_info("db", "c")
    assert (info.vector_count, info.deleted_count) == (7, 4)
    again.close()


def test_ids_are_not_reused_after_deleting_everything_and_snapshotting(data_dir: Path) -> None:
    engine = Engine.open(str(data_dir))
    engine.create_database("db")
    engine.create_collection("db", "c", Metric.L2)
    engine.insert("db", "c", np.ones((40, 2), np.float32))
    engine.delete("db", "c", list(range(1, 41)))
    engine.save()
    engine.close()
    again = Engine.open(str(data_dir))
    info = again.collection_info("db", "c")
    assert (info.dimension, info.vector_count, info.deleted_count) == (2, 0, 40)
    with pytest.raises(InvalidArgumentError, match=r"has dimension 1, expected 2$"):
        again.insert("db", "c", [[1.0]])
    assert again.insert("db", "c", [[1.0, 2.0]]) == [41]
    again.close()


_UNACKNOWLEDGED_INSERT = encode_record(
    VectorsInserted("db", "c", [99, 100], np.ones((2, 4), np.float32), [b"", b"m"]), raw_vectors=True
)


@pytest.mark.parametrize(
    "torn",
    [
        encode_record(DatabaseCreated("never-acknowledged"))[:20],  # inside a line
        _UNACKNOWLEDGED_INSERT[:40],  # inside an insert's line
        _UNACKNOWLEDGED_INSERT[:-5],  # inside its vector bytes
        _UNACKNOWLEDGED_INSERT[:-1] + b"\x7f",  # whole, but its last byte never reached the disk
    ],
    ids=["line", "insert line", "vector bytes", "last vector byte"],
)
def test_a_torn_final_record_is_dropped_with_a_warning(
    data_dir: Path, caplog: pytest.LogCaptureFixture, torn: bytes
) -> None:
    engine = Engine.open(str(data_dir))
    fill(engine)
    before = state(engine)
    engine.close()
    log = log_files(data_dir)[-1]
    good_size = log.stat().st_size
    with open(log, "ab") as out:
        out.write(torn)
    with caplog.at_level(logging.WARNING, logger="scintirete_integrations.lite.storage"):
        again = Engine.open(str(data_dir))
    assert "torn final record" in caplog.text and log.name in caplog.text
    assert log.stat().st_size == good_size  # cut off, so later appends follow whole records
    assert state(again) == before
    again.create_database("later")
    again.close()
    third = Engine.open(str(data_dir))
    assert "later" in third.list_databases()
    third.close()


def test_a_corrupt_record_in_the_middle_refuses_to_start(data_dir: Path) -> None:
    engine = Engine.open(str(data_dir))
    fill(engine)
    engine.close()
    log = log_files(data_dir)[-1]
    records = file_records(log.read_bytes())
    records[2] = records[2].replace(b'"db"', b'"dB"', 1)
    log.write_bytes(b"".join(records))
    with pytest.raises(CorruptLogError, match=rf"{log.name} line 3: CRC mismatch") as error:
        Engine.open(str(data_dir))
    assert isinstance(error.value, InternalError)
    Storage(data_dir).close()  # the failed open released the directory


def test_a_record_that_does_not_fit_the_state_is_corruption(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "log.000001.jsonl").write_bytes(
        encode_record(CollectionCreated("missing", "c", "l2", 16, 200))
    )
    with pytest.raises(CorruptLogError, match="line 1: cannot replay: database 'missing' not found"):
        Engine.open(str(data_dir))


def file_records(data: bytes) -> list[bytes]:
    """A snapshot or log cut into its records: each line, with the bytes that follow an insert
    line (its vectors) or a rows line (columns, padding, vectors and room)."""
    records, at = [], 0
    while at < len(data):
        end = data.index(b"\n", at) + 1
        line = json.loads(data[at + 9 : end - 1])
        after = line.get("raw", 0)
        if line["op"] == "rows":
            count = line["count"]
            columns = end + count * (16 + 8 * line["prefix"]) + line["metadata"]
            after = columns + -columns % 4096 - end + (count + line["spare"]) * line["dim"] * 4
        records.append(data[at : end + after])
        at = end + after
    return records


def _damage_rows(records: list[bytes], how: Callable[[bytes], bytes], cut: bool = False) -> list[bytes]:
    """The snapshot with its last rows record (line, columns, vectors) changed by ``how``, and
    with ``cut`` the file ending there (a torn write)."""
    last = max(i for i, record in enumerate(records) if b'"op":"rows"' in record.split(b"\n", 1)[0])
    return [*records[:last], how(records[last]), *([] if cut else records[last + 1 :])]


def _flip_first_column_byte(record: bytes) -> bytes:
    at = record.index(b"\n") + 1
    return record[:at] + bytes([record[at] ^ 1]) + record[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda records: records[:-1], "incomplete \\(no end marker\\)"),
        (lambda records: [*records[:-2], records[-1]], "end marker counts"),
        (lambda records: [records[1], *records[1:]], "not a version 3 snapshot header"),
        (lambda records: [*records, records[-1]], "data after the end marker"),
        (lambda records: [records[0], records[1][:-3] + b"x\n", *records[2:]], "record 2: CRC mismatch"),
        (lambda records: _damage_rows(records, _flip_first_column_byte), "CRC mismatch in the rows record"),
        (
            lambda records: _damage_rows(records, lambda r: r[: r.index(b"\n") + 20], cut=True),
            "incomplete rows",
        ),
        (lambda records: _damage_rows(records, lambda r: r[:-4], cut=True), "ends inside its vectors"),
    ],
)
def test_a_damaged_snapshot_refuses_to_start(data_dir: Path, damage: object, message: str) -> None:
    engine = Engine.open(str(data_dir))
    fill(engine)
    engine.save()
    engine.close()
    snapshot = data_dir / "snapshot.jsonl"
    records = file_records(snapshot.read_bytes())
    snapshot.write_bytes(b"".join(damage(records)))  # type: ignore[operator]
    with pytest.raises(CorruptLogError, match=message):
        Engine.open(str(data_dir))


def _legacy_snapshot(engine: Engine, version: int) -> bytes:
    """The engine's state as a snapshot of ``version`` 1 (base64 vectors in the lines) or 2 (raw
    vector bytes after them): inserts instead of rows records."""
    generation = engine._storage.rotate()  # type: ignore[union-attr]
    out = [frame({"op": "snapshot", "version": version, "generation": generation})]
    count = 0
    for record in engine._state_records():
        if isinstance(record, StoredRows):
            rows = len(record.ids)
            record = VectorsInserted(
                record.db, record.collection, record.ids.tolist(), record.vectors[:rows], record.metadata
            )
            if len(record.ids) != len(record.metadata) or record.vectors.shape[0] != rows:
                raise AssertionError("test fixture: rows record with a selection")
        out.append(encode_record(record, raw_vectors=version == 2))
        count += 1
    out.append(frame({"op": "end", "records": count}))
    return b"".join(out)


@pytest.mark.parametrize("version", [1, 2])
def test_snapshots_of_versions_1_and_2_still_open(data_dir: Path, version: int) -> None:
    engine = Engine.open(str(data_dir))
    engine.create_database("db")
    engine.create_collection("db", "c", Metric.L2)
    engine.insert("db", "c", np.arange(60, dtype=np.float32).reshape(20, 3), [b"m%d" % i for i in range(20)])
    engine.create_collection("db", "empty", Metric.COSINE)
    before = state(engine)
    legacy = _legacy_snapshot(engine, version)
    engine.close()
    for log in log_files(data_dir):
        log.unlink()
    (data_dir / "snapshot.jsonl").write_bytes(legacy)
    reopened = Engine.open(str(data_dir))
    try:
        assert state(reopened) == before
    finally:
        reopened.close()


def test_logs_must_continue_the_snapshot(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "log.000003.jsonl").write_bytes(b"")
    with pytest.raises(CorruptLogError, match="is the snapshot missing"):
        Engine.open(str(data_dir))


def test_crash_after_snapshot_rename_does_not_replay_old_logs_twice(data_dir: Path) -> None:
    engine = Engine.open(str(data_dir))
    fill(engine)
    old_log = log_files(data_dir)[0].read_bytes()
    engine.save()
    before = state(engine)
    engine.close()
    (data_dir / "log.000001.jsonl").write_bytes(old_log)  # as if deleting it had not happened
    (data_dir / "snapshot.jsonl.tmp").write_bytes(b"half a snapshot")
    again = Engine.open(str(data_dir))
    assert state(again) == before
    assert not (data_dir / "log.000001.jsonl").exists()
    assert not (data_dir / "snapshot.jsonl.tmp").exists()
    again.close()


def test_a_failed_snapshot_keeps_every_write(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine.open(str(data_dir))
    fill(engine)

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage_module.os, "replace", full_disk)
    with pytest.raises(StorageError, match=r"could not write snapshot .*No space left on device"):
        engine.save()
    monkeypatch.undo()
    engine.insert("db", "c", [[5.0, 5.0, 5.0, 5.0]])  # goes to the new log generation
    before = state(engine)
    engine._storage.close()  # type: ignore[union-attr]  # crash
    assert [p.name for p in log_files(data_dir)] == ["log.000001.jsonl", "log.000002.jsonl"]
    again = Engine.open(str(data_dir))
    assert state(again) == before
    again.close()


# -- failing disks --------------------------------------------------------------------------------


def test_an_unusable_data_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match=f"data directory {blocker / 'data'} is not usable"):
        Engine.open(str(blocker / "data"))


def test_a_directory_is_used_by_one_process_at_a_time(engine: Engine, data_dir: Path) -> None:
    with pytest.raises(StorageError, match="in use by another process"):
        Storage(data_dir)


def test_a_full_disk_fails_the_write_and_leaves_memory_and_log_unchanged(
    engine: Engine, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(engine)
    before = state(engine)
    real_write = os.write

    def half_then_full(fd: int, data: memoryview) -> int:
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage_module.os, "write", half_then_full)
    with pytest.raises(StorageError, match=r"could not write to .*log.000001.jsonl: No space left on device"):
        engine.insert("db", "c", [[9.0, 9.0, 9.0, 9.0]], [b"lost"])
    with pytest.raises(InternalError):
        engine.create_database("lost")
    monkeypatch.undo()
    assert state(engine) == before
    assert engine.insert("db", "c", [[9.0, 9.0, 9.0, 9.0]]) == [11]
    after = state(engine)
    engine.close()
    again = Engine.open(str(data_dir))
    assert state(again) == after
    again.close()


def test_a_failed_cleanup_stops_further_writes(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(engine)

    def fail(*args: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage_module.os, "write", fail)
    monkeypatch.setattr(storage_module.os, "ftruncate", fail)
    with pytest.raises(StorageError):
        engine.create_database("x")
    monkeypatch.undo()
    with pytest.raises(StorageError, match=r"stopped accepting writes .*could not cut a partial record"):
        engine.create_database("y")
    assert "x" not in engine.list_databases()


# -- fsync policies -------------------------------------------------------------------------------


def count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(storage_module.os, "fsync", counting)
    return calls


def test_fsync_always_syncs_every_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(tmp_path, fsync="always")
    storage.replay(lambda record: None)
    calls = count_fsyncs(monkeypatch)
    storage.append(DatabaseCreated("a"))
    storage.append(DatabaseCreated("b"))
    assert len(calls) == 2
    storage.sync()  # nothing new to sync? it was synced, but the dirty flag says written
    storage.close()


def test_fsync_never_leaves_it_to_the_os_until_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(tmp_path, fsync="never")
    storage.replay(lambda record: None)
    calls = count_fsyncs(monkeypatch)
    for name in "abc":
        storage.append(DatabaseCreated(name))
    assert calls == []
    assert storage.log_bytes == (tmp_path / "log.000001.jsonl").stat().st_size
    storage.close()
    assert len(calls) == 1  # a clean close syncs


def test_fsync_everysec_syncs_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_fsyncs(monkeypatch)
    storage = Storage(tmp_path, fsync="everysec")
    storage.replay(lambda record: None)
    storage.append(DatabaseCreated("a"))
    assert calls == []
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(calls) == 1
    storage.sync()  # nothing new since: no second fsync
    assert len(calls) == 1
    storage.close()


def test_a_failed_fsync_stops_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(tmp_path, fsync="never")
    storage.replay(lambda record: None)
    storage.append(DatabaseCreated("a"))

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage_module.os, "fsync", broken)
    with pytest.raises(StorageError, match=r"fsync of .* failed"):
        storage.sync()
    with pytest.raises(StorageError, match="stopped accepting writes"):
        storage.append(DatabaseCreated("b"))
    monkeypatch.undo()
    storage.close()


def test_storage_misuse_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync must be one of always, everysec, never"):
        Storage(tmp_path, fsync="sometimes")  # type: ignore[arg-type]
    storage = Storage(tmp_path)
    assert "fsync='everysec'" in repr(storage)
    with pytest.raises(StorageError, match="not replayed yet"):
        storage.append(DatabaseCreated("a"))
    storage.replay(lambda record: None)
    with pytest.raises(RuntimeError, match="runs once"):
        storage.replay(lambda record: None)
    storage.close()
    storage.close()
    with pytest.raises(StorageError, match="closed"):
        storage.append(DatabaseCreated("a"))


def test_rotate_and_write_snapshot_directly(tmp_path: Path) -> None:
    storage = Storage(tmp_path, fsync="never")
    storage.replay(lambda record: None)
    storage.append(DatabaseCreated("a"))
    assert storage.rotate() == 2
    assert storage.log_bytes == 0
    size = storage.write_snapshot(2, [DatabaseCreated("a")])
    assert size == (tmp_path / "snapshot.jsonl").stat().st_size
    assert [p.name for p in log_files(tmp_path)] == ["log.000002.jsonl"]
    storage.append(DatabaseCreated("b"))
    storage.close()
    seen: list[Record] = []
    again = Storage(tmp_path)
    again.replay(seen.append)
    assert seen == [DatabaseCreated("a"), DatabaseCreated("b")]
    again.close()


def test_a_long_log_is_compacted_automatically(data_dir: Path) -> None:
    engine = Engine(Storage(data_dir, fsync="never"), auto_snapshot_bytes=1)
    engine.create_database("db")
    engine.close()  # waits for the background snapshot
    assert (data_dir / "snapshot.jsonl").exists()
    again = Engine.open(str(data_dir))
    assert again.list_databases() == ["db"]
    again.close()


def test_bg_save_snapshots_in_the_background(engine: Engine, data_dir: Path) -> None:
    fill(engine)
    assert engine.bg_save() == "bgsave_1"
    assert engine.bg_save() == "bgsave_2"
    engine.close()
    assert (data_dir / "snapshot.jsonl").exists()
    assert [p.name for p in log_files(data_dir)] == ["log.000003.jsonl"]


def test_what_was_dropped_while_an_automatic_snapshot_was_written_is_folded_in_next(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A compaction drops the old generations while the snapshot taken mid-way is being written;
    # without another snapshot the data directory would keep them until the next write.
    storage = Storage(data_dir, fsync="never")
    engine = Engine(storage)
    entered, release = threading.Event(), threading.Event()
    written: list[int] = []
    real_write = storage.write_snapshot

    def held_write(generation: int, records: Iterator[Record]) -> int:
        if not written:
            entered.set()  # the state it writes is captured
            assert release.wait(10)
        size = real_write(generation, records)
        written.append(size)
        return size

    monkeypatch.setattr(storage, "write_snapshot", held_write)
    engine.create_database("db")
    engine.create_collection("db", "old", Metric.L2)
    engine.create_collection("db", "kept", Metric.L2)
    engine.insert("db", "kept", np.ones((10, 4), np.float32), [b""] * 10)
    big = np.random.default_rng(0).standard_normal((1_200, 1_024)).astype(np.float32)  # 4.9 MB: due
    engine.insert("db", "old", big, [b""] * len(big))  # starts an automatic snapshot, held
    assert entered.wait(10)
    engine.drop_collection("db", "old")  # while it is written
    release.set()
    for _ in range(200):
        if len(written) == 2:
            break
        time.sleep(0.05)
    engine.close()
    assert len(written) == 2 and written[1] < written[0] / 10  # the second one without "old"
    assert (data_dir / "snapshot.jsonl").stat().st_size == written[1]
