"""Server persistence in Storage and Engine: what a restart keeps, what a crash loses (no sockets)."""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scintirete_integrations.lite import storage as storage_module
from scintirete_integrations.lite.engine import Engine
from scintirete_integrations.lite.log_records import (
    CollectionCreated,
    DatabaseCreated,
    Record,
    VectorsDeleted,
    VectorsInserted,
)
from scintirete_integrations.lite.server_log import ServerPersistence
from scintirete_integrations.lite.storage import CorruptLogError, Storage, StorageError
from scintirete_integrations.models import Metric

#: No background flush: what stays buffered depends on the writes alone.
SERVER = ServerPersistence(log_flush_interval=None)


def small(first_id: int, metadata: bytes = b"\x0a\x01x") -> VectorsInserted:
    return VectorsInserted("d", "c", [first_id], np.full((1, 4), first_id, np.float32), [metadata])


def large(first_id: int, metadata: bytes = b"m") -> VectorsInserted:
    """One vector of 2,049 floats: over 8,192 bytes, so its write leaves nothing buffered."""
    return VectorsInserted("d", "c", [first_id], np.full((1, 2049), first_id, np.float32), [metadata])


def replayed(directory: Path, server: ServerPersistence | None = SERVER) -> list[Record]:
    seen: list[Record] = []
    storage = Storage(directory, server=server)
    try:
        storage.replay(seen.append)
    finally:
        storage.close()
    return seen


def summary(records: list[Record]) -> list[tuple[str, object]]:
    """Records as comparable tuples: inserts by ids, vector bytes and metadata."""
    out: list[tuple[str, object]] = []
    for record in records:
        if isinstance(record, VectorsInserted):
            out.append((record.op, (list(record.ids), record.vectors.tobytes(), list(record.metadata))))
        else:
            out.append((record.op, record))
    return out


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Callable[..., Storage]]:
    storages: list[Storage] = []

    def open_storage(server: ServerPersistence | None = SERVER) -> Storage:
        storage = Storage(tmp_path, server=server)
        storage.replay(lambda record: None)
        storages.append(storage)
        return storage

    yield open_storage
    for storage in storages:
        storage.close()


def test_the_log_keeps_ids_elements_and_deletes_but_not_metadata(
    tmp_path: Path, opened: Callable[..., Storage]
) -> None:
    storage = opened()
    records = [DatabaseCreated("d"), CollectionCreated("d", "c", "l2", 16, 200), small(1), small(2)]
    records.append(VectorsDeleted("d", "c", [1]))
    for record in records:
        storage.append(record)
    assert "server=ServerPersistence(" in repr(storage)
    assert storage.since_snapshot()[0] == 5
    storage.close()  # a clean stop flushes the buffer
    assert [path.name for path in tmp_path.glob("log.*")] == ["log.000001.aof"]
    assert summary(replayed(tmp_path)) == summary(
        [*records[:2], small(1, b""), small(2, b""), records[4]]  # metadata comes back empty
    )


def test_abandon_loses_the_buffered_commands_only(tmp_path: Path, opened: Callable[..., Storage]) -> None:
    storage = opened()
    storage.append(small(1))
    storage.abandon()  # kill -9: the small command was still in the buffer
    assert (tmp_path / "log.000001.aof").stat().st_size == 0
    assert replayed(tmp_path) == []
    storage = opened()
    for record in (small(1), large(2), small(3)):
        storage.append(record)
    storage.abandon()
    assert summary(replayed(tmp_path)) == summary([small(1, b""), large(2, b"")])  # flushed by the large one
    storage.abandon()  # twice is harmless


def test_exact_persistence_loses_nothing_when_abandoned(
    tmp_path: Path, opened: Callable[..., Storage]
) -> None:
    storage = opened(None)
    storage.append(small(1))
    storage.abandon()
    assert summary(replayed(tmp_path, None)) == summary([small(1)])


def test_a_snapshot_starts_an_empty_log_after_flushing_the_old_one(
    tmp_path: Path, opened: Callable[..., Storage]
) -> None:
    storage = opened()
    storage.append(DatabaseCreated("d"))
    assert storage.rotate() == 2
    assert (tmp_path / "log.000001.aof").stat().st_size > 0  # flushed: whole if the snapshot fails
    assert storage.since_snapshot()[0] == 0
    storage.write_snapshot(2, [DatabaseCreated("d")])
    assert sorted(path.name for path in tmp_path.glob("log.*")) == ["log.000002.aof"]
    assert (tmp_path / "log.000002.aof").stat().st_size == 0
    storage.append(DatabaseCreated("e"))
    storage.close()
    assert replayed(tmp_path) == [DatabaseCreated("d"), DatabaseCreated("e")]


def test_the_background_flush_writes_the_buffer_out(tmp_path: Path, opened: Callable[..., Storage]) -> None:
    storage = opened(ServerPersistence(log_flush_interval=0.01))
    storage.append(small(1))
    log = tmp_path / "log.000001.aof"
    deadline = time.monotonic() + 30
    while log.stat().st_size == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    storage.abandon()
    assert summary(replayed(tmp_path)) == summary([small(1, b"")])


def test_a_torn_final_command_is_dropped_and_damage_before_the_end_refuses_to_start(
    tmp_path: Path, opened: Callable[..., Storage], caplog: pytest.LogCaptureFixture
) -> None:
    storage = opened()
    storage.append(DatabaseCreated("a"))
    storage.append(DatabaseCreated("b"))
    storage.close()
    log = tmp_path / "log.000001.aof"
    whole = log.read_bytes()
    log.write_bytes(whole[:-1])
    with caplog.at_level(logging.WARNING, logger="scintirete_integrations.lite.storage"):
        assert replayed(tmp_path) == [DatabaseCreated("a")]
    assert "command 2: dropping a torn final record (incomplete command" in caplog.text
    assert log.stat().st_size == len(whole) // 2  # cut off, so later appends follow whole commands
    damaged = bytearray(whole)
    damaged[10] ^= 0xFF
    log.write_bytes(bytes(damaged))
    with pytest.raises(CorruptLogError, match=r"log.000001.aof command 1: CRC mismatch; the log is damaged"):
        replayed(tmp_path)


def test_switching_persistence_needs_a_snapshot_first(tmp_path: Path, opened: Callable[..., Storage]) -> None:
    storage = opened(None)
    storage.append(DatabaseCreated("exact"))
    storage.close()
    with pytest.raises(StorageError, match=r"holds writes logged with persistence='exact'; open .* and Save"):
        replayed(tmp_path)
    storage = opened(None)
    storage.write_snapshot(storage.rotate(), [DatabaseCreated("exact")])
    storage.close()
    storage = opened()  # the exact log is empty after the snapshot: switching is safe
    assert not list(tmp_path.glob("log.*.jsonl"))
    storage.append(DatabaseCreated("server"))
    storage.close()
    with pytest.raises(
        StorageError, match=r"persistence='server'; open .* before switching to persistence='exact'"
    ):
        replayed(tmp_path, None)
    assert replayed(tmp_path) == [DatabaseCreated("exact"), DatabaseCreated("server")]


def test_a_failed_write_stops_the_log_as_gos_bufio_does(
    tmp_path: Path, opened: Callable[..., Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = opened()
    storage.append(small(1))

    def full(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage_module.os, "write", full)
    with pytest.raises(StorageError, match=r"could not write to .*log.000001.aof: No space left on device"):
        storage.append(large(2))
    monkeypatch.undo()
    with pytest.raises(StorageError, match="stopped accepting writes"):
        storage.append(small(3))
    storage.close()  # no flush after a failure: the log is not extended past the damage
    assert os.path.getsize(tmp_path / "log.000001.aof") == 0


# -- the engine over server persistence -----------------------------------------------------------


def open_engine(directory: Path, **options: Any) -> Engine:
    return Engine.open(directory, persistence=ServerPersistence(**{"log_flush_interval": None, **options}))


def rows(engine: Engine, name: str = "c") -> list[tuple[int, bytes, list[float]]]:
    """Every live row of db/name: id, metadata bytes, elements."""
    info = engine.collection_info("db", name)
    hits = engine.search("db", name, np.zeros(info.dimension), 1000, ef_search=1000, include_vectors=True)
    assert hits.vectors is not None
    return sorted(zip(hits.ids, hits.metadata, hits.vectors.tolist(), strict=True))


def setup(engine: Engine, name: str = "c") -> None:
    engine.create_database("db")
    engine.create_collection("db", name, Metric.L2)


def test_a_restart_replays_the_log_with_empty_metadata(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    setup(engine)
    assert engine.insert("db", "c", [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [b"\x0a\x01a", b"b", b"c"]) == [
        1,
        2,
        3,
    ]
    assert engine.delete("db", "c", [2]) == 1
    before = rows(engine)
    engine.close()
    engine = open_engine(tmp_path)
    assert rows(engine) == [(id_, b"", elements) for id_, _, elements in before]
    info = engine.collection_info("db", "c")
    assert (info.dimension, info.vector_count, info.deleted_count) == (2, 2, 1)
    engine.close()


@pytest.mark.parametrize("snapshot", ["save", "bg_save"])
def test_a_snapshot_keeps_metadata_and_empties_the_log(tmp_path: Path, snapshot: str) -> None:
    engine = open_engine(tmp_path)
    setup(engine)
    engine.insert("db", "c", [[1.0, 2.0]], [b"kept"])
    getattr(engine, snapshot)()
    engine.insert("db", "c", [[3.0, 4.0]], [b"lost"])
    engine.close()  # waits for a background snapshot
    assert sorted(path.name for path in tmp_path.glob("log.*")) == [
        "log.000002.aof"
    ]  # the snapshot truncated it
    engine = open_engine(tmp_path)
    assert rows(engine) == [(1, b"kept", [1.0, 2.0]), (2, b"", [3.0, 4.0])]
    engine.close()


def test_a_periodic_snapshot_follows_the_write_count_rule(tmp_path: Path) -> None:
    engine = open_engine(tmp_path, snapshot_interval=0.005, snapshot_min_writes=3)
    setup(engine)  # two write commands: no snapshot is due yet
    engine.insert("db", "c", [[1.0, 2.0]], [b"kept"])  # the third
    snapshot = tmp_path / "snapshot.jsonl"
    deadline = time.monotonic() + 30
    while not snapshot.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    engine.crash()  # nothing buffered survives, but the snapshot does
    engine = open_engine(tmp_path)
    assert rows(engine) == [(1, b"kept", [1.0, 2.0])]
    engine.close()


def test_a_long_log_is_not_snapshotted_as_exact_persistence_would(tmp_path: Path) -> None:
    engine = Engine(Storage(tmp_path, server=SERVER), auto_snapshot_bytes=1)
    engine.create_database("db")
    engine.close()
    assert not (tmp_path / "snapshot.jsonl").exists()


def test_a_crash_loses_a_small_write_that_a_large_one_did_not_flush(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    setup(engine, "small")
    engine.insert("db", "small", [[1.0, 1.0]], [b"m"])
    engine.crash()  # every command so far was small: all still buffered
    engine = open_engine(tmp_path)
    assert engine.list_databases() == []
    setup(engine, "small")
    engine.create_collection("db", "large", Metric.L2)
    engine.insert("db", "small", [[1.0, 1.0]], [b"m"])
    engine.insert("db", "large", np.ones((1, 2049), np.float32), [b"m"])  # > 8 KB: flushes all before it
    engine.insert("db", "small", [[2.0, 2.0]], [b"m"])  # buffered again
    engine.crash()
    engine = open_engine(tmp_path)
    assert rows(engine, "small") == [(1, b"", [1.0, 1.0])]
    assert [row[:2] for row in rows(engine, "large")] == [(1, b"")]
    engine.close()


def test_ids_go_on_from_the_largest_id_held_after_a_restart(tmp_path: Path) -> None:
    engine = open_engine(tmp_path)
    setup(engine)
    assert engine.insert("db", "c", [[1.0], [2.0], [3.0]]) == [1, 2, 3]
    engine.delete("db", "c", [3])  # deleted, but still held: its id is not handed out again
    engine.close()
    engine = open_engine(tmp_path)
    assert engine.insert("db", "c", [[4.0]]) == [4]
    engine.crash()  # that insert was still buffered: the restarted server holds ids 1 to 3
    engine = open_engine(tmp_path)
    info = engine.collection_info("db", "c")
    assert (info.vector_count, info.deleted_count) == (2, 1)
    assert engine.insert("db", "c", [[5.0]]) == [4]  # so id 4 is handed out again, to another vector
    engine.close()
