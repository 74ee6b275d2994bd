"""The Lite engine: databases, collections, server-assigned ids, and search through an index.

It reproduces what an unmodified Scintirete server does (see ``shared/scintirete-v1.md``):
ids count up from 1 per collection and are never reused, deletes are soft, the dimension is
fixed by the first insert, and a search returns at most ``min(top_k, ef, live)`` results.
Search goes through the server's index (``index/``): an exact scan, so live data never becomes
unreachable, or an HNSW graph that loses data the way the real server's does.

Metadata is opaque here: the servicer stores each vector's serialized ``Struct`` bytes and
gets the same bytes back, so neither inserts nor searches decode it.

Knows nothing about gRPC. Failures raise the classes of ``errors.py`` with the messages the
real server uses, e.g. ``NotFoundError("database 'x' not found")``.

>>> import numpy as np
>>> from scintirete_integrations.models import Metric
>>> engine = Engine()
>>> engine.create_database("docs")
>>> _ = engine.create_collection("docs", "notes", Metric.L2)
>>> engine.insert("docs", "notes", np.eye(3, dtype=np.float32))
[1, 2, 3]
>>> hits = engine.search("docs", "notes", [1.0, 0.0, 0.0], top_k=2)
>>> hits.ids, hits.distances[0]
([1, 2], 0.0)
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AlreadyExistsError, InternalError, InvalidArgumentError, NotFoundError
from ..models import CollectionInfo, HnswConfig, Metric
from .distances import cosine_distance, inner_product_distance, l2_distance, ranked
from .index import DEFAULT_INDEX, INDEX_KINDS, IndexKind
from .index.exact import key_aux, nearest
from .index.hnsw import HnswGraph
from .log_records import (
    CollectionCreated,
    CollectionDropped,
    CollectionState,
    DatabaseCreated,
    DatabaseDropped,
    Record,
    VectorsDeleted,
    VectorsInserted,
)
from .server_log import PeriodicSnapshots, Persistence, server_persistence
from .storage import FsyncPolicy, Storage

__all__ = [
    "DEFAULT_EF_CONSTRUCTION",
    "DEFAULT_EF_SEARCH",
    "DEFAULT_M",
    "Engine",
    "SaveInfo",
    "SearchResult",
    "check_name",
    "cosine_distance",
    "inner_product_distance",
    "l2_distance",
]

logger = logging.getLogger(__name__)

Matrix = np.ndarray[Any, np.dtype[np.float32]]
Floats = np.ndarray[Any, np.dtype[np.float64]]
#: What insert accepts: an (n, dim) array, or rows (arrays or sequences of numbers).
VectorsLike = Matrix | Sequence[Matrix] | Sequence[Sequence[float]]

DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
#: Upstream's HNSW beam when a search sends no (or a non-positive) ef_search; it caps the results.
DEFAULT_EF_SEARCH = 50

_SNAPSHOT_CHUNK_ROWS = 4096
_DEFAULT_AUTO_SNAPSHOT_BYTES = 256 * 1024 * 1024
_AUTO_SNAPSHOT_MIN_BYTES = 4 * 1024 * 1024
_AUTO_SNAPSHOT_SHARE = 4  # a log a quarter of the snapshot's size is folded into it
_AUTO_SNAPSHOT = "auto-snapshot"


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    """Nearest neighbours, closest first (ties: lower id first).

    ``metadata`` holds the opaque bytes given at insert; ``vectors`` (one row per hit) only
    when the search asked for them.
    """

    ids: list[int]
    distances: list[float]
    metadata: list[bytes]
    vectors: Matrix | None = None


@dataclass(frozen=True)
class SaveInfo:
    """What a snapshot wrote; ``persisted`` is False for an in-memory engine."""

    persisted: bool
    size_bytes: int
    duration_seconds: float


# -- one collection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    """An immutable picture of a collection for a search or a snapshot outside the lock.

    Valid because rows are only ever appended past ``size`` in place; deletes and
    compactions replace arrays instead of editing them.
    """

    metric: Metric
    dimension: int
    size: int
    max_norm: float
    vectors: Matrix
    aux: Matrix
    ids: np.ndarray[Any, np.dtype[np.uint64]]
    live: np.ndarray[Any, np.dtype[np.bool_]] | None  # None: every row is live
    metadata: list[bytes]


class _Collection:
    """Rows in a float32 matrix with spare capacity, plus ids, liveness and metadata per row."""

    def __init__(self, name: str, metric: Metric, hnsw: HnswConfig, graph: HnswGraph | None = None) -> None:
        self.name = name
        self.metric = metric
        self.hnsw = hnsw
        #: The graph over every row ever inserted (deleted ones too), or None for exact scans.
        self.graph = graph
        self.dimension = 0
        self.next_id = 1
        self.live_count = 0
        self.deleted_count = 0
        self.size = 0  # rows in use: live plus soft-deleted ones not compacted away yet
        self.max_norm = 0.0
        self.metadata_bytes = 0
        self.vectors: Matrix = np.empty((0, 0), np.float32)
        self.aux: Matrix = np.empty(0, np.float32)
        self.ids: np.ndarray[Any, np.dtype[np.uint64]] = np.empty(0, np.uint64)
        self.live: np.ndarray[Any, np.dtype[np.bool_]] = np.empty(0, np.bool_)
        self.metadata: list[bytes] = []

    def info(self) -> CollectionInfo:
        memory = (
            self.vectors.nbytes + self.aux.nbytes + self.ids.nbytes + self.live.nbytes + self.metadata_bytes
        )
        return CollectionInfo(
            name=self.name,
            dimension=self.dimension,
            vector_count=self.live_count,
            deleted_count=self.deleted_count,
            memory_bytes=memory,
            metric=self.metric,
            hnsw=self.hnsw,
        )

    def _reserve(self, rows: int) -> None:
        capacity = len(self.ids)
        if self.size + rows <= capacity:
            return
        capacity = max(self.size + rows, 2 * capacity, 64)  # doubling: appends cost O(1) amortised
        self.vectors = _grown(self.vectors, self.size, (capacity, self.dimension))
        self.aux = _grown(self.aux, self.size, (capacity,))
        self.ids = _grown(self.ids, self.size, (capacity,))
        self.live = _grown(self.live, self.size, (capacity,))

    def append(self, ids: Sequence[int], vectors: Matrix, metadata: Sequence[bytes]) -> None:
        count = len(ids)
        # The engine checked these for a new write; a replayed record that breaks them is damage.
        if vectors.shape != (count, self.dimension or vectors.shape[1]) or len(metadata) != count:
            raise InternalError(
                f"{count} ids, {len(metadata)} metadata and vectors of shape {vectors.shape} do not fit"
            )
        if count and self.size and ids[0] <= self.ids[self.size - 1]:
            raise InternalError(f"id {ids[0]} is not above the last id {self.ids[self.size - 1]}")
        if count == 0:
            return
        self.dimension = vectors.shape[1]
        self._reserve(count)
        start, stop = self.size, self.size + count
        self.vectors[start:stop] = vectors
        squares = np.einsum("ij,ij->i", vectors, vectors)
        self.aux[start:stop] = key_aux(self.metric, squares)
        self.ids[start:stop] = ids
        self.live[start:stop] = True
        self.metadata.extend(metadata)
        self.metadata_bytes += sum(map(len, metadata))
        self.max_norm = max(self.max_norm, float(np.sqrt(squares.max())))
        self.size = stop
        self.live_count += count
        self.next_id = max(self.next_id, int(ids[-1]) + 1)
        if self.graph is not None:
            while len(self.graph) < stop:
                self.graph.add(self.vectors, self.aux)

    def live_rows_of(self, ids: Sequence[int]) -> np.ndarray[Any, np.dtype[np.intp]]:
        """Rows holding live vectors with these ids; unknown ids are skipped."""
        wanted = np.unique(np.asarray([i for i in ids if 0 < i < 2**64], dtype=np.uint64))
        stored = self.ids[: self.size]  # ascending: ids are assigned in increasing order
        rows = np.searchsorted(stored, wanted)
        inside = rows < self.size
        rows, wanted = rows[inside], wanted[inside]
        rows = rows[stored[rows] == wanted]
        live: np.ndarray[Any, np.dtype[np.intp]] = rows[self.live[rows]]
        return live

    def delete_rows(self, rows: np.ndarray[Any, np.dtype[np.intp]]) -> None:
        live = self.live.copy()  # copy-on-write: searches in flight keep their picture
        live[rows] = False
        self.live = live
        self.live_count -= len(rows)
        self.deleted_count += len(rows)
        dead = self.size - self.live_count
        if self.graph is None and dead > 1024 and dead > self.live_count:  # graph nodes stay
            self._compact()

    def _compact(self) -> None:
        """Drop soft-deleted rows once they outnumber live ones (they only cost scan time)."""
        keep = np.flatnonzero(self.live[: self.size])
        self.vectors = self.vectors[keep]
        self.aux = self.aux[keep]
        self.ids = self.ids[keep]
        self.live = np.ones(len(keep), np.bool_)
        self.metadata = [self.metadata[row] for row in keep]
        self.metadata_bytes = sum(map(len, self.metadata))
        self.size = len(keep)

    def view(self) -> _View:
        size = self.size
        return _View(
            metric=self.metric,
            dimension=self.dimension,
            size=size,
            max_norm=self.max_norm,
            vectors=self.vectors[:size],
            aux=self.aux[:size],
            ids=self.ids[:size],
            live=None if self.live_count == size else self.live[:size],
            metadata=self.metadata,
        )


def _grown(array: np.ndarray[Any, Any], used: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    bigger = np.empty(shape, dtype=array.dtype)
    if used:
        bigger[:used] = array[:used]
    return bigger


def _first_live_rows(view: _View, count: int) -> np.ndarray[Any, np.dtype[np.intp]]:
    rows = np.flatnonzero(view.live) if view.live is not None else np.arange(view.size)
    return rows[:count]


# -- the engine -----------------------------------------------------------------------------------


def check_name(name: str, what: str) -> None:
    """Reject an empty database or collection name (``what`` says which) as upstream does."""
    if not name:
        raise InvalidArgumentError(f"{what} name cannot be empty")


class Engine:
    """All databases and collections of one Lite server, optionally persisted.

    Thread-safe: one ``RLock`` guards the state. Searches take an immutable view under the
    lock and scan outside it, so they run in parallel with each other and with writes.

    In memory::

        engine = Engine()

    Persistent (replays the directory, then logs every write before applying it)::

        engine = Engine.open("./data", fsync="everysec")
        ...
        engine.save()   # snapshot: compacts the log
        engine.close()

    A log (plus the collections dropped since) longer than a quarter of the last snapshot
    (and 4 MiB), or than
    ``auto_snapshot_bytes`` (default 256 MiB), triggers a background snapshot, so a data
    directory stays within about 1.25 times what its data takes, whatever the write history. With server persistence (``Engine.open(..., persistence="server")``, see
    ``server_log.py``) the log drops metadata and snapshots follow the real server's
    periodic rule instead; :meth:`crash` then loses the log's buffered bytes.

    ``index`` picks how collections search: ``"exact"`` scans every row; ``"hnsw"`` builds
    the real server's graph (``index/hnsw.py``), with its unreachable data. Each graph draws
    its levels from a generator seeded by ``index_seed`` and the collection's names, so the
    same writes build the same graphs, also when a restart replays them.
    """

    def __init__(
        self,
        storage: Storage | None = None,
        *,
        auto_snapshot_bytes: int | None = None,
        index: IndexKind = DEFAULT_INDEX,
        index_seed: int = 0,
    ) -> None:
        if index not in INDEX_KINDS:
            raise ValueError(f"index must be one of {', '.join(INDEX_KINDS)}, got {index!r}")
        if index_seed < 0:
            raise ValueError(f"index_seed must be a non-negative integer, got {index_seed}")
        self.index: IndexKind = index
        self.index_seed = index_seed
        self._lock = threading.RLock()
        self._snapshot_lock = threading.Lock()
        self._databases: dict[str, dict[str, _Collection]] = {}
        self._storage = storage
        self._auto_snapshot_bytes = auto_snapshot_bytes or _DEFAULT_AUTO_SNAPSHOT_BYTES
        self._bg_jobs = 0
        self._auto_snapshot_running = False
        self._dropped_bytes = 0  # of collections dropped since the last snapshot
        self._bg_threads: list[threading.Thread] = []
        self._periodic: PeriodicSnapshots | None = None
        if storage is not None:
            storage.replay(self._apply)
            if storage.server is not None and storage.server.snapshot_interval is not None:
                self._periodic = PeriodicSnapshots(storage.server, storage.since_snapshot, self.save)
                self._periodic.start()

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = "everysec",
        index: IndexKind = DEFAULT_INDEX,
        index_seed: int = 0,
        persistence: Persistence = "exact",
    ) -> Engine:
        """An engine persisted in ``data_dir`` (created when missing), exactly or as the real server does."""
        storage = Storage(data_dir, fsync=fsync, server=server_persistence(persistence))
        try:
            return cls(storage, index=index, index_seed=index_seed)
        except BaseException:
            storage.close()
            raise

    @property
    def persistent(self) -> bool:
        return self._storage is not None

    @property
    def unsaved(self) -> bool:
        """Whether the log holds writes that no snapshot contains yet (False in memory)."""
        return self._storage is not None and self._storage.log_bytes > 0

    # -- writes: validate, log, apply ---------------------------------------------------------------

    def _commit(self, record: Record) -> None:
        """Log first, then apply: a failed write leaves memory as it was. Call with the lock held."""
        if self._storage is not None:
            self._storage.append(record)
        self._apply(record)
        self._maybe_snapshot()

    def _apply(self, record: Record) -> None:
        if isinstance(record, VectorsInserted):
            self._collection(record.db, record.collection).append(
                record.ids, np.asarray(record.vectors, np.float32), record.metadata
            )
        elif isinstance(record, VectorsDeleted):
            collection = self._collection(record.db, record.collection)
            collection.delete_rows(collection.live_rows_of(record.ids))
        elif isinstance(record, DatabaseCreated):
            if record.name in self._databases:
                raise AlreadyExistsError(f"database '{record.name}' already exists")
            self._databases[record.name] = {}
        elif isinstance(record, DatabaseDropped):
            self._database(record.name)  # raises NotFoundError for an unknown name
            del self._databases[record.name]
        elif isinstance(record, CollectionCreated):
            self._apply_collection_created(record)
        elif isinstance(record, CollectionDropped):
            del self._database(record.db)[record.name]
        else:
            collection = self._collection(record.db, record.collection)
            collection.dimension = record.dimension
            collection.next_id = record.next_id
            collection.deleted_count = record.deleted_count

    def _apply_collection_created(self, record: CollectionCreated) -> None:
        database = self._database(record.db)
        if record.name in database:
            raise AlreadyExistsError(f"collection '{record.name}' already exists in database '{record.db}'")
        hnsw = HnswConfig(m=record.m, ef_construction=record.ef_construction)
        metric = Metric.parse(record.metric)
        graph = None
        if self.index == "hnsw":
            names = [zlib.crc32(name.encode("utf-8")) for name in (record.db, record.name)]
            rng = np.random.default_rng([self.index_seed, *names])
            graph = HnswGraph(metric, record.m, record.ef_construction, rng)
        database[record.name] = _Collection(record.name, metric, hnsw, graph)

    def _database(self, name: str) -> dict[str, _Collection]:
        database = self._databases.get(name)
        if database is None:
            raise NotFoundError(f"database '{name}' not found")
        return database

    def _collection(self, db: str, name: str) -> _Collection:
        collection = self._database(db).get(name)
        if collection is None:
            raise NotFoundError(f"collection '{name}' not found in database '{db}'")
        return collection

    # -- databases ----------------------------------------------------------------------------------

    def create_database(self, name: str) -> None:
        check_name(name, "database")
        with self._lock:
            if name in self._databases:
                raise AlreadyExistsError(f"database '{name}' already exists")
            self._commit(DatabaseCreated(name))

    def drop_database(self, name: str) -> int:
        """Drop a database with all its collections; returns how many collections it held."""
        check_name(name, "database")
        with self._lock:
            dropped = len(self._database(name))
            self._commit(DatabaseDropped(name))
        return dropped

    def list_databases(self) -> list[str]:
        with self._lock:
            return sorted(self._databases)

    # -- collections --------------------------------------------------------------------------------

    def create_collection(
        self, db: str, name: str, metric: Metric | None, hnsw: HnswConfig | None = None
    ) -> CollectionInfo:
        """Create an empty collection; HNSW values <= 0 become the defaults (m 16, ef_construction 200)."""
        check_name(db, "database")
        check_name(name, "collection")
        if metric is None:
            raise InvalidArgumentError("distance metric must be specified")
        hnsw = hnsw or HnswConfig()
        m = hnsw.m if hnsw.m > 0 else DEFAULT_M
        ef_construction = hnsw.ef_construction if hnsw.ef_construction > 0 else DEFAULT_EF_CONSTRUCTION
        with self._lock:
            if name in self._database(db):
                raise AlreadyExistsError(f"collection '{name}' already exists in database '{db}'")
            self._commit(CollectionCreated(db, name, Metric.parse(metric).value, m, ef_construction))
            return self._collection(db, name).info()

    def drop_collection(self, db: str, name: str) -> int:
        """Drop a collection; returns its live vector count."""
        check_name(db, "database")
        check_name(name, "collection")
        with self._lock:
            collection = self._collection(db, name)
            dropped = collection.live_count
            # What the snapshot still holds of it counts toward the next snapshot like log bytes.
            self._dropped_bytes += collection.size * max(collection.dimension, 1) * 4
            self._commit(CollectionDropped(db, name))
        return dropped

    def collection_info(self, db: str, name: str) -> CollectionInfo:
        check_name(db, "database")
        check_name(name, "collection")
        with self._lock:
            return self._collection(db, name).info()

    def list_collections(self, db: str) -> list[CollectionInfo]:
        check_name(db, "database")
        with self._lock:
            database = self._database(db)
            return [database[name].info() for name in sorted(database)]

    # -- vectors ------------------------------------------------------------------------------------

    def insert(
        self,
        db: str,
        collection: str,
        vectors: VectorsLike,
        metadata: Sequence[bytes] | None = None,
    ) -> list[int]:
        """Append vectors; returns the ids assigned to them, in order.

        ``vectors`` is an (n, dim) array or a sequence of rows (rows of different lengths are
        reported as upstream does). ``metadata`` holds one opaque bytes value per vector.
        """
        check_name(db, "database")
        check_name(collection, "collection")
        if len(vectors) == 0:
            raise InvalidArgumentError("no vectors provided")
        if isinstance(vectors, np.ndarray) and vectors.ndim == 2:
            lengths = [vectors.shape[1]] * len(vectors)
        else:
            try:
                lengths = [len(row) for row in vectors]
            except TypeError:
                raise InvalidArgumentError("vectors must be a sequence of rows of numbers") from None
        if 0 in lengths:
            raise InvalidArgumentError("vector elements cannot be empty")
        blobs = list(metadata) if metadata is not None else [b""] * len(lengths)
        if len(blobs) != len(lengths):
            raise InvalidArgumentError(f"got {len(blobs)} metadata values for {len(lengths)} vectors")
        with self._lock:
            target = self._collection(db, collection)
            _check_dimensions(lengths, target.dimension)
            matrix = _as_matrix(vectors)
            first = target.next_id
            ids = list(range(first, first + len(lengths)))
            self._commit(VectorsInserted(db, collection, ids, matrix, blobs))
        return ids

    def delete(self, db: str, collection: str, ids: Sequence[int]) -> int:
        """Soft-delete by id; unknown or already deleted ids are skipped. Returns how many were live."""
        check_name(db, "database")
        check_name(collection, "collection")
        if len(ids) == 0:
            raise InvalidArgumentError("no IDs provided")
        with self._lock:
            target = self._collection(db, collection)
            rows = target.live_rows_of(ids)
            if len(rows):
                self._commit(VectorsDeleted(db, collection, target.ids[rows].tolist()))
        return len(rows)

    def search(
        self,
        db: str,
        collection: str,
        query: Sequence[float] | Matrix,
        top_k: int,
        *,
        ef_search: int | None = None,
        include_vectors: bool = False,
    ) -> SearchResult:
        """Nearest neighbours of ``query`` the index finds, closest first, with exact distances.

        Returns ``min(top_k, ef, live)`` hits where ``ef`` is ``ef_search`` when > 0, else 50,
        as upstream's HNSW beam caps them; a graph index returns fewer when its beam reaches
        fewer live vectors. A query of the wrong dimension is not an error:
        it gets that many hits, each at distance +inf (upstream does the same).
        """
        check_name(db, "database")
        check_name(collection, "collection")
        vector = np.asarray(query, dtype=np.float32)
        if vector.ndim != 1:
            raise InvalidArgumentError(f"query vector must be one-dimensional, got shape {vector.shape}")
        if len(vector) == 0:
            raise InvalidArgumentError("query vector cannot be empty")
        if top_k <= 0:
            raise InvalidArgumentError("top_k must be positive")
        ef = ef_search if ef_search and ef_search > 0 else DEFAULT_EF_SEARCH
        with self._lock:
            target = self._collection(db, collection)
            view = target.view()
            count = min(top_k, ef, target.live_count)
            reached = None
            if target.graph is not None and count and len(vector) == view.dimension:
                # Under the lock: inserts edit the graph in place.
                reached = target.graph.search(view.vectors, view.aux, view.live, vector, ef)
        if count == 0:
            return SearchResult([], [], [])
        if len(vector) != view.dimension:
            rows = _first_live_rows(view, count)
            distances = [float("inf")] * len(rows)
        else:
            if reached is None:
                rows, exact = nearest(view, vector, count)
            else:
                rows, exact = ranked(view.metric, view.vectors, reached.astype(np.intp), vector, count)
            distances = exact.tolist()
        return SearchResult(
            ids=view.ids[rows].tolist(),
            distances=distances,
            metadata=[view.metadata[row] for row in rows],
            vectors=view.vectors[rows] if include_vectors else None,
        )

    # -- snapshots ----------------------------------------------------------------------------------

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

    def _maybe_snapshot(self) -> None:
        """Compact a long log in the background (exact persistence only). Lock held."""
        storage = self._storage
        if storage is None or storage.server is not None or self._auto_snapshot_running:
            return  # the real server snapshots by its periodic rule only
        due = max(_AUTO_SNAPSHOT_MIN_BYTES, storage.snapshot_bytes // _AUTO_SNAPSHOT_SHARE)
        if storage.log_bytes + self._dropped_bytes < min(due, self._auto_snapshot_bytes):
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

    def close(self) -> None:
        """Wait for background snapshots, then sync and release the data directory."""
        self._stop_snapshots()
        if self._storage is not None:
            self._storage.close()

    def crash(self) -> None:
        """Release the data directory as kill -9 would: no snapshot, the log's buffered bytes lost.

        For crash tests in one process: a new engine can then open the directory and replay
        what a killed server leaves. Snapshots already running finish first.
        """
        self._stop_snapshots()
        if self._storage is not None:
            self._storage.abandon()

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
        else:
            # A graph is a function of every vector ever inserted, in order: keep the deleted
            # rows (without metadata) and delete them again, so a replay rebuilds the same graph.
            rows = np.arange(view.size)
        for start in range(0, len(rows), _SNAPSHOT_CHUNK_ROWS):
            chunk = rows[start : start + _SNAPSHOT_CHUNK_ROWS]
            live = view.live
            yield VectorsInserted(
                created.db,
                created.name,
                view.ids[chunk].tolist(),
                view.vectors[chunk],
                [view.metadata[row] if live is None or live[row] else b"" for row in chunk],
            )
        if graph:
            if view.live is not None:
                yield VectorsDeleted(created.db, created.name, view.ids[~view.live].tolist())
            yield state  # after the deletes: it sets the counters outright


def _check_dimensions(lengths: list[int], dimension: int) -> None:
    expected = dimension or lengths[0]
    suffix = "" if dimension else " (from first vector)"
    for index, length in enumerate(lengths):
        if length != expected:
            raise InvalidArgumentError(f"vector[{index}] has dimension {length}, expected {expected}{suffix}")


def _as_matrix(vectors: VectorsLike) -> Matrix:
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"vectors must hold numbers only: {exc}") from None
    if matrix.ndim != 2:
        raise InternalError(f"expected a 2-d matrix of vectors, got shape {matrix.shape}")
    return matrix
