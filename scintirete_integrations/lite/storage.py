"""Persistence for Scintirete Lite: an append-only log of writes plus compacting snapshots.

A data directory holds::

    LOCK                  locked (flock) while one process has the directory open
    snapshot.jsonl        the last complete snapshot; replaced atomically (tmp + fsync + rename)
    log.000007.jsonl      every acknowledged write since that snapshot, in order

Both files hold the records of ``log_records.py``, one JSON line each, an insert's vectors
following its line as raw bytes (files with base64 vectors inside the line, as older releases
wrote them, are read too). A snapshot writes each collection's rows as one ``rows`` record
whose vectors the next process maps instead of reading (``stored_rows.py``,
``docs/lite-storage.md``). With server
persistence (``server_log.py``) the logs are ``log.000007.aof`` instead, written the way the
real server writes its log: metadata dropped, the last bytes in a 4,096-byte buffer.

Each snapshot names the log generation that continues it. Taking a snapshot first starts a
new log file, then writes the snapshot, then deletes the older logs; a crash at any point
leaves a snapshot plus logs that replay to the acknowledged state. A write is appended to
the log before the engine applies it, so memory is never ahead of the disk.

Recovery: a damaged *final* log line is a write that was never acknowledged (the process
died inside it); it is dropped with a warning and cut off the file. A damaged line anywhere
else, or a damaged snapshot, raises :class:`CorruptLogError` naming file and line.

``fsync`` policy: ``"always"`` syncs every write before it is acknowledged; ``"everysec"``
(default) syncs once a second from a background thread, so an OS crash loses at most about a
second; ``"never"`` leaves it to the OS. Every policy survives a crash of the process itself.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO, Literal

from ..errors import InternalError, ScintireteError
from .files import describe, fsync_directory, lock_file, write_all
from .log_records import Record, StoredRows, encode_record, frame, int_field, record_after, unframe
from .server_log import BufioWriter, ServerPersistence, command_chunks, read_commands
from .stored_rows import read_rows, write_rows

__all__ = [
    "FSYNC_POLICIES",
    "CorruptLogError",
    "FsyncPolicy",
    "Storage",
    "StorageError",
    "fsync_directory",
]

logger = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "everysec", "never"]
FSYNC_POLICIES: tuple[str, ...] = ("always", "everysec", "never")

SNAPSHOT_NAME = "snapshot.jsonl"
LOCK_NAME = "LOCK"
_SNAPSHOT_TMP = SNAPSHOT_NAME + ".tmp"
_LOG_PATTERN = re.compile(r"^log\.(\d{6,})\.(jsonl|aof)$")
# 2: an insert's vectors follow its line as raw bytes (log_records.encode_record);
# 3: a collection's rows are one ``rows`` record whose vectors a reader maps (stored_rows.py)
_FORMAT_VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)


class StorageError(InternalError):
    """The data directory cannot be used: not writable, disk full, locked by another process."""


class CorruptLogError(StorageError):
    """A snapshot or log line is damaged where it cannot be a torn final write."""


class Storage:
    """A data directory: replay it once at start, then append every write and take snapshots.

    The engine drives it; users pass ``data_dir`` to ``LiteServer`` or ``Engine.open``::

        storage = Storage("./data", fsync="everysec")
        storage.replay(apply)                 # snapshot, then the logs, in order
        storage.append(DatabaseCreated("docs"))
        generation = storage.rotate()         # later writes go to a new log file
        storage.write_snapshot(generation, records_of_the_state_at_rotation)
        storage.close()

    ``server`` switches to server persistence (``server_log.py``): the log drops metadata and
    keeps its last bytes in a buffer that :meth:`abandon` loses; ``fsync`` then plays no part,
    the buffer is flushed and synced every ``server.log_flush_interval`` seconds instead.

    Raises :class:`StorageError` (an ``InternalError``) when the directory is unusable and
    :class:`CorruptLogError` when recovery must not guess.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = "everysec",
        server: ServerPersistence | None = None,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}; got {fsync!r}")
        self.directory = Path(directory)
        self.fsync: FsyncPolicy = fsync if server is None else "never"
        self.server = server
        self._suffix = "jsonl" if server is None else "aof"
        self._buffer: BufioWriter | None = None
        self._writes = 0
        self._snapshot_at = time.monotonic()
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._generation = 0
        self._log_bytes = 0
        self._dirty = False
        snapshot = self.directory / SNAPSHOT_NAME
        self.snapshot_bytes = snapshot.stat().st_size if snapshot.exists() else 0
        #: The format of the snapshot replayed (0: none); older ones are rewritten (``outdated``).
        self.snapshot_version = 0
        self._failure: str | None = None
        self._closed = False
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        self._lock_fd = self._claim_directory()

    def __repr__(self) -> str:
        mode = f"fsync={self.fsync!r}" if self.server is None else f"server={self.server!r}"
        return f"Storage({str(self.directory)!r}, {mode})"

    @property
    def log_bytes(self) -> int:
        """Size of the current log file: how much a snapshot would compact."""
        return self._log_bytes

    @property
    def outdated(self) -> bool:
        """Whether the snapshot replayed is of an older format than the one written now."""
        return 0 < self.snapshot_version < _FORMAT_VERSION

    def since_snapshot(self) -> tuple[int, float]:
        """Write commands logged since the last snapshot (or the start), and seconds since then."""
        return self._writes, time.monotonic() - self._snapshot_at

    def _claim_directory(self) -> int:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"data directory {self.directory} is not usable: {describe(exc)}") from exc
        if not lock_file(fd):
            os.close(fd)
            raise StorageError(
                f"data directory {self.directory} is in use by another process (one process owns a "
                f"data directory); to share it, run `scintirete-lite --data-dir {self.directory} "
                "--password PW` once and connect every process with address='127.0.0.1:9090', "
                "password='PW' instead of data_dir="
            )
        return fd

    def _log_path(self, generation: int) -> Path:
        return self.directory / f"log.{generation:06d}.{self._suffix}"

    def _log_generations(self, suffix: str | None = None) -> list[int]:
        found = (_LOG_PATTERN.match(path.name) for path in self.directory.iterdir())
        wanted = suffix or self._suffix
        return sorted(int(match.group(1)) for match in found if match and match.group(2) == wanted)

    def _drop_logs_of_the_other_mode(self, first: int) -> None:
        """Allow a switch of persistence after a snapshot; refuse one that would skip writes."""
        other = "aof" if self.server is None else "jsonl"
        for generation in self._log_generations(other):
            path = self.directory / f"log.{generation:06d}.{other}"
            if generation >= first and path.stat().st_size:
                was, now = ("server", "exact") if self.server is None else ("exact", "server")
                raise StorageError(
                    f"{path} holds writes logged with persistence={was!r}; open {self.directory} with "
                    f"persistence={was!r} and Save before switching to persistence={now!r}"
                )
            path.unlink()

    # -- recovery ---------------------------------------------------------------------------------

    def replay(self, apply: Callable[[Record], None]) -> None:
        """Feed the snapshot and then every log record to ``apply``; then open the log for appends.

        ``apply`` may raise a ScintireteError when a record does not fit the state so far;
        that is reported as corruption at that line.
        """
        if self._fd is not None or self._closed:
            raise RuntimeError("replay() runs once, on a freshly opened Storage")
        with suppress(FileNotFoundError):
            (self.directory / _SNAPSHOT_TMP).unlink()  # left by a crash during a snapshot
        snapshot = self.directory / SNAPSHOT_NAME
        first = self._replay_snapshot(snapshot, apply) if snapshot.exists() else 1
        self._drop_logs_of_the_other_mode(first)
        generations = self._log_generations()
        current = [g for g in generations if g >= first]
        if current != list(range(first, first + len(current))):
            raise CorruptLogError(
                f"{self.directory}: log files {current} do not continue "
                + (
                    f"{snapshot} (generation {first})"
                    if first > 1
                    else "from generation 1; is the snapshot missing?"
                )
            )
        for index, generation in enumerate(current):
            self._replay_log(self._log_path(generation), apply, final=index == len(current) - 1)
        self._open_log(current[-1] if current else first)
        for generation in generations:
            if generation < first:  # already folded into the snapshot; a crash kept them
                with suppress(OSError):
                    self._log_path(generation).unlink()
        interval = 1.0 if self.fsync == "everysec" else self.server and self.server.log_flush_interval
        if interval:
            self._syncer = threading.Thread(
                target=self._sync_every, args=(interval,), name="lite-fsync", daemon=True
            )
            self._syncer.start()
        self._snapshot_at = time.monotonic()

    def _replay_snapshot(self, path: Path, apply: Callable[[Record], None]) -> int:
        """Apply a snapshot and return the log generation that continues it."""
        generation = 0
        count = 0
        ended = False
        with open(path, "rb", buffering=1 << 20) as file:
            number = 0
            while True:
                number += 1
                try:
                    if number == 1:
                        data = unframe(file.readline())
                        if data["op"] != "snapshot" or data.get("version") not in _READABLE_VERSIONS:
                            raise ValueError(f"not a version {_FORMAT_VERSION} snapshot header")
                        generation = int_field(data, "generation")
                        self.snapshot_version = int_field(data, "version")
                        continue
                    line = file.readline()
                    if not line:
                        break
                    if ended:
                        raise ValueError("data after the end marker")
                    data = unframe(line)
                    if data["op"] == "end":
                        if int_field(data, "records") != count:
                            raise ValueError(f"end marker counts {data['records']} records, found {count}")
                        ended = True
                    elif data["op"] == StoredRows.op:
                        apply(read_rows(data, file, path))
                        count += 1
                    else:
                        apply(record_after(data, file))
                        count += 1
                except (ValueError, ScintireteError) as exc:
                    raise CorruptLogError(
                        f"{path} record {number}: {_reason(exc)}; refusing to start"
                    ) from exc
        if not ended:
            raise CorruptLogError(f"{path}: snapshot is incomplete (no end marker); refusing to start")
        return generation

    def _replay_log(self, path: Path, apply: Callable[[Record], None], *, final: bool) -> None:
        offset = 0
        unit = "line" if self.server is None else "command"
        with open(path, "rb") as file:
            records = _read_lines(file) if self.server is None else read_commands(file)
            number = 0
            while True:
                number += 1
                try:
                    item = next(records, None)
                except ValueError as exc:  # the reader consumed the damaged record
                    if not (final and not file.read(1)):
                        raise CorruptLogError(
                            f"{path} {unit} {number}: {exc}; the log is damaged before its end, "
                            "refusing to start (restore a backup or move the file away)"
                        ) from exc
                    logger.warning(
                        "%s %s %d: dropping a torn final record (%s); its write was never acknowledged",
                        path,
                        unit,
                        number,
                        exc,
                    )
                    break
                if item is None:
                    break
                record, size = item
                try:
                    apply(record)
                except ScintireteError as exc:
                    raise CorruptLogError(f"{path} {unit} {number}: cannot replay: {exc.details}") from exc
                offset += size
        if offset != path.stat().st_size:
            os.truncate(path, offset)  # later appends must not follow the torn bytes

    def _open_log(self, generation: int) -> None:
        path = self._log_path(generation)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open log {path}: {describe(exc)}") from exc
        self._fd = fd
        self._generation = generation
        self._log_bytes = os.fstat(fd).st_size
        self._buffer = self._new_buffer(fd)

    def _new_buffer(self, fd: int) -> BufioWriter | None:
        return None if self.server is None else BufioWriter(lambda data: write_all(fd, data))

    # -- writing ----------------------------------------------------------------------------------

    def append(self, record: Record) -> None:
        """Write one record to the log; when this returns, the write may be acknowledged.

        With server persistence, "written" means what the real server means: handed to the
        log's buffer, which may keep it until a later write or a flush.
        """
        chunks = (encode_record(record, raw_vectors=True),) if self.server is None else command_chunks(record)
        with self._lock:
            fd = self._writable_fd()
            path = self._log_path(self._generation)
            if self._buffer is not None:
                try:
                    for chunk in chunks:  # two writes, as the server's: length prefix, then command
                        self._buffer.write(chunk)
                except OSError as exc:
                    # The file may now end inside a command; like Go's bufio, take no more writes.
                    self._failure = f"could not write to {path}: {describe(exc)}"
                    raise StorageError(self._failure) from exc
            else:
                try:
                    write_all(fd, chunks[0])
                    if self.fsync == "always":
                        os.fsync(fd)
                except OSError as exc:
                    self._undo_partial_write(fd, path)
                    raise StorageError(f"could not write to {path}: {describe(exc)}") from exc
            self._log_bytes += sum(map(len, chunks))
            self._writes += 1
            self._dirty = True

    def _writable_fd(self) -> int:
        if self._failure is not None:
            raise StorageError(f"storage stopped accepting writes after an earlier failure: {self._failure}")
        if self._fd is None:
            raise StorageError("storage is closed" if self._closed else "storage was not replayed yet")
        return self._fd

    def _undo_partial_write(self, fd: int, path: Path) -> None:
        """Cut a half-written line off, so the log stays a sequence of whole records."""
        try:
            os.ftruncate(fd, self._log_bytes)
        except OSError as exc:
            self._failure = f"could not cut a partial record off {path}: {describe(exc)}"
            logger.error("%s", self._failure)

    def _flush_buffer(self) -> None:
        """Hand the log's buffered bytes to the file (server persistence). Lock held."""
        if self._buffer is None or not self._buffer.buffered or self._failure is not None:
            return
        try:
            self._buffer.flush()
        except OSError as exc:
            self._failure = f"could not write to {self._log_path(self._generation)}: {describe(exc)}"
            raise StorageError(self._failure) from exc

    def sync(self) -> None:
        """Flush the log's buffer, then fsync the log if anything was written since the last sync."""
        with self._lock:
            if self._fd is None:
                return
            self._flush_buffer()
            if not self._dirty:
                return
            try:
                os.fsync(self._fd)
            except OSError as exc:
                # After a failed fsync the kernel may have dropped the dirty pages: stop writing.
                self._failure = f"fsync of {self._log_path(self._generation)} failed: {describe(exc)}"
                raise StorageError(self._failure) from exc
            self._dirty = False

    def _sync_every(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.sync()
            except StorageError:
                logger.exception("background fsync failed")

    def rotate(self) -> int:
        """Start a new log file and return its generation; call with the engine's state frozen."""
        with self._lock:
            old_fd = self._writable_fd()
            self._flush_buffer()  # the old log holds every write up to the snapshot
            generation = self._generation + 1
            path = self._log_path(generation)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StorageError(f"cannot create log {path}: {describe(exc)}") from exc
            try:
                os.fsync(old_fd)  # the old log must be whole before anything depends on the new one
                fsync_directory(self.directory)
            except OSError as exc:
                os.close(fd)
                with suppress(OSError):
                    path.unlink()
                raise StorageError(f"could not sync {self.directory}: {describe(exc)}") from exc
            os.close(old_fd)
            self._fd, self._generation, self._log_bytes, self._dirty = fd, generation, 0, False
            self._buffer = self._new_buffer(fd)
            self._writes, self._snapshot_at = 0, time.monotonic()
            return generation

    def write_snapshot(self, generation: int, records: Iterable[Record]) -> int:
        """Atomically replace the snapshot with ``records``; return its size in bytes.

        ``generation`` is what :meth:`rotate` returned when ``records`` were captured; logs
        older than it are deleted once the snapshot is safely in place.
        """
        final = self.directory / SNAPSHOT_NAME
        tmp = self.directory / _SNAPSHOT_TMP
        try:
            with open(tmp, "wb") as out:
                out.write(frame({"op": "snapshot", "version": _FORMAT_VERSION, "generation": generation}))
                count = 0
                for record in records:
                    if isinstance(record, StoredRows):
                        write_rows(out, record)
                    else:
                        out.write(encode_record(record, raw_vectors=True))
                    count += 1
                out.write(frame({"op": "end", "records": count}))
                out.flush()
                os.fsync(out.fileno())
                size = out.tell()
            os.replace(tmp, final)
            fsync_directory(self.directory)
        except OSError as exc:
            with suppress(OSError):
                tmp.unlink()
            raise StorageError(f"could not write snapshot {final}: {describe(exc)}") from exc
        self.snapshot_bytes = size
        for old in self._log_generations():
            if old < generation:
                with suppress(OSError):
                    self._log_path(old).unlink()
        return size

    def close(self) -> None:
        """Flush, sync and close the log and release the directory. Safe to call twice."""
        self._release(flush=True)

    def abandon(self) -> None:
        """Release the directory as a killed process would: the log's buffered bytes are lost.

        Nothing is flushed or synced; the files are what kill -9 leaves (for crash tests in one
        process). With exact persistence nothing is buffered, so nothing is lost. Safe to call
        twice, and after :meth:`close`.
        """
        self._release(flush=False)

    def _release(self, *, flush: bool) -> None:
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join()
            self._syncer = None
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fd is not None:
                try:
                    if flush and self._failure is None:
                        self._flush_buffer()
                        os.fsync(self._fd)
                except (OSError, StorageError):
                    logger.exception("final flush and fsync of the log failed")
                finally:
                    os.close(self._fd)
                    self._fd = None
                    self._buffer = None
            os.close(self._lock_fd)


def _read_lines(file: IO[bytes]) -> Iterator[tuple[Record, int]]:
    """Each record of a log with its size in bytes (its line, and the vector bytes after an insert
    line); ValueError (after reading it) when damaged or cut short."""
    while line := file.readline():
        start = file.tell() - len(line)
        record = record_after(unframe(line), file)
        yield record, file.tell() - start


def _reason(exc: BaseException) -> str:
    return exc.details if isinstance(exc, ScintireteError) else str(exc)
