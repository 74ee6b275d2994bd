"""The engine's snapshots: writing one now or in the background, and deciding when a log is due one.

A snapshot holds the records that rebuild the current state (``_snapshot_records``); writing
it lets storage drop the log before it. :class:`_Snapshots` is the part of
:class:`~.engine.Engine` that takes them: on request (``save``, ``bg_save``), automatically
once the log grows long (exact persistence), and that waits for them at shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .collection import _Collection, _first_live_rows, _View
from .log_records import (
    CollectionCreated,
    CollectionState,
    DatabaseCreated,
    Record,
    StoredRows,
    VectorsDeleted,
    VectorsInserted,
)
from .server_log import PeriodicSnapshots
from .storage import Storage

# Records keep the logger name they had before snapshots left engine.py.
logger = logging.getLogger(__name__.rpartition(".")[0] + ".engine")

_SNAPSHOT_CHUNK_ROWS = 4096
_AUTO_SNAPSHOT_MIN_BYTES = 4 * 1024 * 1024
_AUTO_SNAPSHOT_SHARE = 4  # a log a quarter of the snapshot's size is folded into it
_AUTO_SNAPSHOT = "auto-snapshot"


@dataclass(frozen=True)
class SaveInfo:
    """What a snapshot wrote; ``persisted`` is False for an in-memory engine."""

    persisted: bool
    size_bytes: int
    duration_seconds: float


class _Snapshots:
    """Snapshots of an :class:`~.engine.Engine`; the engine's ``__init__`` sets these attributes."""

    _lock: threading.RLock
    _snapshot_lock: threading.Lock
    _databases: dict[str, dict[str, _Collection]]
    _storage: Storage | None
    _auto_snapshot_bytes: int | None
    _bg_jobs: int
    _auto_snapshot_running: bool
    _dropped_bytes: int
    _bg_threads: list[threading.Thread]
    _periodic: PeriodicSnapshots | None

    def save(self) -> SaveInfo:
        """Write a snapshot and compact the log; blocks until it is on disk."""
        started = time.perf_counter()
        if self._storage is None:
            return SaveInfo(False, 0, time.perf_counter() - started)
        with self._snapshot_lock:
            with self._lock:
                generation = self._storage.rotate()
                records = self._state_records()
                self._dropped_bytes = 0
            size = self._storage.write_snapshot(generation, records)
        return SaveInfo(True, size, time.perf_counter() - started)

    def bg_save(self) -> str:
        """Start a snapshot in a background thread and return its job id (``bgsave_1``, ...)."""
        with self._lock:
            self._bg_jobs += 1
            job_id = f"bgsave_{self._bg_jobs}"
        if self._storage is not None:
            self._start_background_save(job_id)
        return job_id

    def _start_background_save(self, job: str) -> None:
        thread = threading.Thread(target=self._background_save, args=(job,), name=f"lite-{job}", daemon=True)
        with self._lock:
            self._bg_threads = [t for t in self._bg_threads if t.is_alive()] + [thread]
        thread.start()

    def _background_save(self, job: str) -> None:
        try:
            info = self.save()
        except Exception:  # a background thread has no caller to raise to
            logger.exception("background snapshot %s failed", job)
        else:
            logger.info(
                "background snapshot %s wrote %d bytes in %.3fs", job, info.size_bytes, info.duration_seconds
            )
        finally:
            if job == _AUTO_SNAPSHOT:
                with self._lock:
                    self._auto_snapshot_running = False
                    self._maybe_snapshot()  # what was dropped while it wrote may be due already

    def _maybe_snapshot(self) -> None:
        """Compact a long log in the background (exact persistence only). Lock held."""
        storage = self._storage
        if storage is None or storage.server is not None or self._auto_snapshot_running:
            return  # the real server snapshots by its periodic rule only
        # Measured against what the snapshot still holds of live data: one taken while a
        # compaction held three generations must not set a bar its own drops never reach.
        kept = max(storage.snapshot_bytes - self._dropped_bytes, 0)
        due = max(_AUTO_SNAPSHOT_MIN_BYTES, kept // _AUTO_SNAPSHOT_SHARE)
        # No fixed cap by default: with one, a large directory would be rewritten whole for every
        # cap's worth of writes (a 1,000,000-record ingest wrote its 3 GB snapshot again per 256 MB).
        if self._auto_snapshot_bytes is not None:
            due = min(due, self._auto_snapshot_bytes)
        if storage.log_bytes + self._dropped_bytes < due:
            return
        self._auto_snapshot_running = True  # one at a time, however many writes cross the limit
        self._start_background_save(_AUTO_SNAPSHOT)

    def _state_records(self) -> Iterator[Record]:
        """Records that rebuild the current state; captured now, serialised lazily. Lock held."""
        pictures = [
            (db, collection, collection.view())
            for db, collections in self._databases.items()
            for collection in collections.values()
        ]
        states = [
            (
                CollectionCreated(db, c.name, c.metric.value, c.hnsw.m, c.hnsw.ef_construction),
                CollectionState(db, c.name, c.dimension, c.next_id, c.deleted_count),
                view,
                c.graph is not None,
            )
            for db, c, view in pictures
        ]
        return _snapshot_records(list(self._databases), states)

    def _stop_snapshots(self) -> None:
        if self._periodic is not None:
            self._periodic.stop()
        with self._lock:
            threads = list(self._bg_threads)
        for thread in threads:
            thread.join()


def _snapshot_records(
    databases: list[str], states: list[tuple[CollectionCreated, CollectionState, _View, bool]]
) -> Iterator[Record]:
    for name in databases:
        yield DatabaseCreated(name)
    for created, state, view, graph in states:
        yield created
        if not graph:
            yield state
            rows = _first_live_rows(view, view.size)
            if len(rows):
                yield _stored_rows(created, view, None if view.live is None else rows)
            continue
        # A graph is a function of every vector ever inserted, in order: keep the deleted
        # rows (without metadata) and delete them again, so a replay rebuilds the same graph.
        for start in range(0, view.size, _SNAPSHOT_CHUNK_ROWS):
            chunk = np.arange(start, min(start + _SNAPSHOT_CHUNK_ROWS, view.size))
            live = view.live
            yield VectorsInserted(
                created.db,
                created.name,
                view.ids[chunk].tolist(),
                view.vectors[chunk],
                [view.metadata[row] if live is None or live[row] else b"" for row in chunk],
            )
        if view.live is not None:
            yield VectorsDeleted(created.db, created.name, view.ids[~view.live].tolist())
        yield state  # after the deletes: it sets the counters outright


def _stored_rows(
    created: CollectionCreated, view: _View, selection: np.ndarray[Any, Any] | None
) -> StoredRows:
    """The live rows of ``view`` (``selection`` of them, or all) as one record (``stored_rows.py``)."""
    everything = slice(None) if selection is None else selection
    metadata = view.metadata[: view.size] if selection is None else [view.metadata[row] for row in selection]
    return StoredRows(
        created.db,
        created.name,
        ids=view.ids[everything],
        aux=view.aux[everything],
        prefix=None if view.prefix is None else view.prefix[everything],
        metadata=metadata,
        max_norm=view.max_norm,
        vectors=view.vectors,
        selection=selection,
        stored=view.stored,
    )
