"""Server persistence in Storage and Engine: what a restart keeps, what a crash loses (no sockets)."""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from scintirete_integrations.lite import storage as storage_module
from scintirete_integrations.lite.log_records import (
    CollectionCreated,
    DatabaseCreated,
    Record,
    VectorsDeleted,
    VectorsInserted,
)
from scintirete_integrations.lite.server_log import ServerPersistence
from scintirete_integrations.lite.storage import CorruptLogError, Storage, StorageError

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
