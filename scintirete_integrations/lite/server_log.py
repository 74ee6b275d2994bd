"""Server persistence: Lite's log written the way an unmodified Scintirete server (v0.2.1) writes its own.

The real server logs every write command and replays the log at start, but its log loses
things that Lite's exact log keeps. This module reproduces those losses, so code meant for
the real server (the document layer above all) can be tested against them in CI:

- **Metadata is dropped.** The server's log encoder writes every vector's metadata as the
  two bytes ``{}``: vectors replayed from the log come back with empty metadata. Elements and
  ids are kept exactly; deletes, and creating or dropping databases and collections, are
  logged and replayed. Only a snapshot (``Save``, ``BgSave``, the periodic one) keeps
  metadata, and a snapshot truncates the log.
- **The last bytes sit in a 4,096-byte buffer.** Each command goes to the log as two writes,
  a 4-byte length prefix and then the encoded command, into Go's ``bufio.Writer``
  (:class:`BufioWriter` here), which a background task flushes (every second with
  ``aof_sync_strategy = "everysec"``, every 5 minutes with ``"no"``) and a clean stop flushes.
  A crash (kill -9) loses whatever is still buffered.
- **Nothing is snapshotted at shutdown**, and periodic snapshots happen only at a tick when
  enough commands came since the last one, or enough time passed (:class:`PeriodicSnapshots`).

A log file (``log.000001.aof`` in the data directory; the snapshot is the exact one,
``snapshot.jsonl``) is a sequence of commands, all integers little-endian::

    command  = u32 length | body                    length = len(body)
    body     = u32 CRC32 of what follows | u8 op | i64 time (unix seconds, unused on replay) | fields
    string   = u32 length | UTF-8 bytes
    op 1 create_database, 2 drop_database:  string name
    op 3 create_collection:  string db | string name | string metric | u32 m | u32 ef_construction
    op 4 drop_collection:    string db | string name
    op 5 insert:             string db | string collection | u32 count |
                             count x (u64 id | u32 dim | dim x f32 | string metadata, always "{}")
    op 6 delete:             string db | string collection | u32 count | count x u64 id

Its size follows the server's FlatBuffers encoding closely enough for what matters: 4 bytes
per float element, a few more per vector (id, lengths, ``{}``), a few dozen per command.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

import numpy as np

from .log_records import (
    CollectionCreated,
    CollectionDropped,
    DatabaseCreated,
    DatabaseDropped,
    Record,
    VectorsDeleted,
    VectorsInserted,
)

__all__ = [
    "BUFIO_SIZE",
    "PERSISTENCE_MODES",
    "BufioWriter",
    "PeriodicSnapshots",
    "Persistence",
    "ServerPersistence",
    "command_chunks",
    "decode_command",
    "read_commands",
    "server_persistence",
]

logger = logging.getLogger(__name__)

#: Go's ``bufio.NewWriter`` default size, which the real server's log uses.
BUFIO_SIZE = 4096
PERSISTENCE_MODES: tuple[str, ...] = ("exact", "server")


@dataclass(frozen=True)
class ServerPersistence:
    """Options of server persistence; ``persistence="server"`` means ``ServerPersistence()``.

    ``log_flush_interval``: seconds between background flushes of the log's 4,096-byte buffer.
    The default, 300, is the real server's with the shipped ``aof_sync_strategy = "no"``; 1.0
    matches ``"everysec"``; None never flushes in the background, so what stays buffered
    depends only on the writes (deterministic tests).

    ``snapshot_interval``: seconds between the ticks of the periodic snapshot (the server's
    ``rdb_interval_minutes``); None (default) takes none. At a tick a snapshot is taken only
    when at least ``snapshot_min_writes`` (200) write commands came since the last snapshot,
    or ``snapshot_max_age`` seconds (1,800) passed since it, as on the server.
    """

    log_flush_interval: float | None = 300.0
    snapshot_interval: float | None = None
    snapshot_min_writes: int = 200
    snapshot_max_age: float = 1800.0

    def __post_init__(self) -> None:
        for name in ("log_flush_interval", "snapshot_interval"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
        if self.snapshot_min_writes < 0 or not self.snapshot_max_age > 0:
            raise ValueError(
                "snapshot_min_writes must be >= 0 and snapshot_max_age > 0, got "
                f"{self.snapshot_min_writes!r} and {self.snapshot_max_age!r}"
            )


#: What ``persistence=`` accepts: "exact" (Lite's own log), "server", or server options.
Persistence = Literal["exact", "server"] | ServerPersistence


def server_persistence(persistence: Persistence) -> ServerPersistence | None:
    """The server options ``persistence`` stands for, or None for exact persistence."""
    if isinstance(persistence, ServerPersistence):
        return persistence
    if persistence == "server":
        return ServerPersistence()
    if persistence == "exact":
        return None
    raise ValueError(
        f"persistence must be one of {', '.join(PERSISTENCE_MODES)} or a ServerPersistence, "
        f"got {persistence!r}"
    )


# -- the buffer -----------------------------------------------------------------------------------


class BufioWriter:
    """Go's ``bufio.Writer``: the same ``Write`` and ``Flush``, in front of ``sink``.

    ``write(p)``: while ``p`` is longer than the free space, either the buffer is empty and
    all of ``p`` goes straight to ``sink``, or as much as fits is copied in, the buffer is
    flushed, and the rest continues; what remains is copied into the buffer. So a write of
    more than ``2 * size`` bytes leaves nothing buffered, and a short one may stay buffered
    until a later write fills the buffer, or :meth:`flush`.
    """

    def __init__(self, sink: Callable[[bytes | memoryview], None], size: int = BUFIO_SIZE) -> None:
        self._sink = sink
        self.size = size
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes written but not yet handed to ``sink``."""
        return len(self._buffer)

    def write(self, data: bytes) -> None:
        rest = memoryview(data)
        while len(rest) > self.size - len(self._buffer):
            if not self._buffer:
                self._sink(rest)  # a large write into an empty buffer skips the copy
                return
            room = self.size - len(self._buffer)
            self._buffer += rest[:room]
            rest = rest[room:]
            self.flush()
        self._buffer += rest

    def flush(self) -> None:
        """Hand the buffered bytes to ``sink``; on an error they stay buffered."""
        if self._buffer:
            self._sink(bytes(self._buffer))
            self._buffer.clear()

    def discard(self) -> None:
        """Forget the buffered bytes, as a killed process does."""
        self._buffer.clear()


# -- the command format ---------------------------------------------------------------------------

_OPS: dict[type, int] = {
    DatabaseCreated: 1,
    DatabaseDropped: 2,
    CollectionCreated: 3,
    CollectionDropped: 4,
    VectorsInserted: 5,
    VectorsDeleted: 6,
}
_U32 = struct.Struct("<I")
_HEAD = struct.Struct("<Bq")  # op, time
_EMPTY_METADATA = b"{}"


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _U32.pack(len(raw)) + raw


def _row_type(dim: int) -> np.dtype[Any]:
    """One logged vector: id, element count, elements, metadata length and ``{}``; packed."""
    return np.dtype(
        [("id", "<u8"), ("dim", "<u4"), ("elements", "<f4", (dim,)), ("len", "<u4"), ("meta", "S2")]
    )


def _fields(record: Record) -> bytes:
    if isinstance(record, DatabaseCreated | DatabaseDropped):
        return _string(record.name)
    if isinstance(record, CollectionCreated):
        names = _string(record.db) + _string(record.name) + _string(record.metric)
        return names + struct.pack("<II", record.m, record.ef_construction)
    if isinstance(record, CollectionDropped):
        return _string(record.db) + _string(record.name)
    if isinstance(record, VectorsInserted):
        count, dim = record.vectors.shape
        rows = np.empty(count, _row_type(dim))
        rows["id"], rows["dim"], rows["elements"] = record.ids, dim, record.vectors
        rows["len"], rows["meta"] = len(_EMPTY_METADATA), _EMPTY_METADATA  # the server drops metadata
        return _string(record.db) + _string(record.collection) + _U32.pack(count) + rows.tobytes()
    if isinstance(record, VectorsDeleted):
        ids = np.asarray(record.ids, "<u8").tobytes()
        return _string(record.db) + _string(record.collection) + _U32.pack(len(record.ids)) + ids
    raise TypeError(f"{type(record).__name__} belongs in snapshots, not in the log")


def command_chunks(record: Record) -> tuple[bytes, bytes]:
    """The two writes that log ``record``: its 4-byte length prefix, then the command itself.

    An insert of vectors holding N float elements in all is more than 4 * N bytes, as on the
    server. Hence, with the 4,096-byte buffer: once an insert of a vector with more than
    2,048 elements (over 8,192 bytes) returns, it and every command before it are in the
    file; a small command may stay in the buffer, and a crash then loses it.
    """
    fields = _fields(record)
    rest = _HEAD.pack(_OPS[type(record)], int(time.time())) + fields
    body = _U32.pack(zlib.crc32(rest)) + rest
    return _U32.pack(len(body)), body


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ValueError("command ends early")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u32(self) -> int:
        (value,) = _U32.unpack(self.take(4))
        return int(value)

    def string(self) -> str:
        return self.take(self.u32()).decode("utf-8")


def _inserted(db: str, collection: str, reader: _Reader) -> VectorsInserted:
    count = reader.u32()
    if count == 0:
        raise ValueError("an insert of no vectors")
    if reader.pos + 12 > len(reader.data):
        raise ValueError("command ends early")
    (dim,) = _U32.unpack_from(reader.data, reader.pos + 8)  # the first vector's: all must share it
    rows = np.frombuffer(reader.take(count * _row_type(dim).itemsize), _row_type(dim))
    if dim == 0 or (rows["dim"] != dim).any() or (rows["meta"] != _EMPTY_METADATA).any():
        raise ValueError("malformed vectors in an insert")
    vectors = np.ascontiguousarray(rows["elements"], np.float32)
    # Replayed rows get empty metadata: an empty Struct, whose serialization is no bytes.
    return VectorsInserted(db, collection, rows["id"].tolist(), vectors, [b""] * count)


def decode_command(body: bytes) -> Record:
    """The record one logged command (without its length prefix) holds; ValueError when damaged."""
    if len(body) < 4 + _HEAD.size or _U32.unpack(body[:4])[0] != zlib.crc32(body[4:]):
        raise ValueError("CRC mismatch")
    reader = _Reader(body)
    reader.pos = 4
    op, _ = _HEAD.unpack(reader.take(_HEAD.size))
    record: Record
    if op in (1, 2):
        record = (DatabaseCreated if op == 1 else DatabaseDropped)(reader.string())
    elif op == 3:
        db, name, metric = reader.string(), reader.string(), reader.string()
        record = CollectionCreated(db, name, metric, reader.u32(), reader.u32())
    elif op == 4:
        record = CollectionDropped(reader.string(), reader.string())
    elif op in (5, 6):
        db, collection = reader.string(), reader.string()
        if op == 5:
            record = _inserted(db, collection, reader)
        else:
            count = reader.u32()
            record = VectorsDeleted(db, collection, np.frombuffer(reader.take(8 * count), "<u8").tolist())
    else:
        raise ValueError(f"unknown command op {op}")
    if reader.pos != len(body):
        raise ValueError(f"{len(body) - reader.pos} bytes after the command")
    return record


def read_commands(file: IO[bytes]) -> Iterator[tuple[Record, int]]:
    """Each command of a log file with its size in bytes; ValueError (after reading it) when damaged."""
    while prefix := file.read(4):
        if len(prefix) < 4:
            raise ValueError("incomplete length prefix")
        (length,) = _U32.unpack(prefix)
        body = file.read(length)
        if len(body) < length:
            raise ValueError(f"incomplete command ({len(body)} of {length} bytes)")
        yield decode_command(body), 4 + length


# -- periodic snapshots ---------------------------------------------------------------------------


class PeriodicSnapshots:
    """Every ``snapshot_interval`` seconds, call ``save`` when the server's rule says so.

    ``since`` returns (write commands since the last snapshot, seconds since it).
    """

    def __init__(
        self,
        options: ServerPersistence,
        since: Callable[[], tuple[int, float]],
        save: Callable[[], object],
    ) -> None:
        if options.snapshot_interval is None:
            raise ValueError("periodic snapshots need a snapshot_interval")
        self.options = options
        self._since = since
        self._save = save
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lite-periodic-snapshot", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def due(self) -> bool:
        writes, age = self._since()
        return writes >= self.options.snapshot_min_writes or age >= self.options.snapshot_max_age

    def _run(self) -> None:
        assert self.options.snapshot_interval is not None
        while not self._stop.wait(self.options.snapshot_interval):
            try:
                if self.due():
                    self._save()
            except Exception:  # a background thread has no caller to raise to
                logger.exception("periodic snapshot failed")

    def stop(self) -> None:
        """Stop ticking; a snapshot already running finishes first."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
