"""The Lite engine: databases, collections, server-assigned ids, and search through an index.

It reproduces what an unmodified Scintirete server does (see ``shared/scintirete-v1.md``):
ids count up from 1 per collection and are never reused, deletes are soft, the dimension is
fixed by the first insert, and a search returns at most ``min(top_k, ef, live)`` results.
Search goes through the server's index (``index/``): an exact scan, so live data never becomes
unreachable, or an HNSW graph that loses data the way the real server's does.

Metadata is opaque here: the servicer stores each vector's serialized ``Struct`` bytes and
gets the same bytes back, so neither inserts nor searches decode it.

One collection's rows live in ``collection.py``; taking snapshots is ``snapshots.py``'s job.
This module holds the engine itself: its state, the write path (validate, log, apply) and
search. Knows nothing about gRPC. Failures raise the classes of ``errors.py`` with the
messages the real server uses, e.g. ``NotFoundError("database 'x' not found")``.

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

import os
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AlreadyExistsError, InternalError, InvalidArgumentError, NotFoundError
from ..models import CollectionInfo, HnswConfig, Metric
from .collection import _Collection, _first_live_rows
from .distances import cosine_distance, inner_product_distance, l2_distance, ranked
from .index import DEFAULT_INDEX, INDEX_KINDS, IndexKind
from .index.exact import nearest
from .index.hnsw import HnswGraph
from .log_records import (
    CollectionCreated,
    CollectionDropped,
    DatabaseCreated,
    DatabaseDropped,
    Record,
    StoredRows,
    VectorsDeleted,
    VectorsInserted,
)
from .server_log import PeriodicSnapshots, Persistence, server_persistence
from .snapshots import SaveInfo, _Snapshots
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

Matrix = np.ndarray[Any, np.dtype[np.float32]]
Floats = np.ndarray[Any, np.dtype[np.float64]]
#: What insert accepts: an (n, dim) array, or rows (arrays or sequences of numbers).
VectorsLike = Matrix | Sequence[Matrix] | Sequence[Sequence[float]]

DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
#: Upstream's HNSW beam when a search sends no (or a non-positive) ef_search; it caps the results.
DEFAULT_EF_SEARCH = 50


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


# -- the engine -----------------------------------------------------------------------------------


def check_name(name: str, what: str) -> None:
    """Reject an empty database or collection name (``what`` says which) as upstream does."""
    if not name:
        raise InvalidArgumentError(f"{what} name cannot be empty")


class Engine(_Snapshots):
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
    (and 4 MiB), or than ``auto_snapshot_bytes`` when given, triggers a background snapshot, so
    a data directory stays within about 1.25 times what its data takes, whatever the write
    history, and an ingest writes each byte into snapshots a bounded number of times. With server persistence (``Engine.open(..., persistence="server")``, see
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
        self._auto_snapshot_bytes = auto_snapshot_bytes
        self._bg_jobs = 0
        self._auto_snapshot_running = False
        self._dropped_bytes = 0  # of collections dropped since the last snapshot
        self._bg_threads: list[threading.Thread] = []
        self._periodic: PeriodicSnapshots | None = None
        if storage is not None:
            storage.replay(self._apply)
            if storage.outdated and storage.server is None:
                self._start_background_save("format-upgrade")  # the next open maps its rows
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
        elif isinstance(record, StoredRows):
            self._collection(record.db, record.collection).adopt(record)
        else:
            collection = self._collection(record.db, record.collection)
            collection.dimension = record.dimension
            collection.next_id = record.next_id
            collection.deleted_count = record.deleted_count
            if record.rows and not collection.size and record.dimension:
                collection.reserve(record.rows)  # one allocation instead of doubling through them

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
            vectors=view.rows_of(rows) if include_vectors else None,
        )

    # -- shutdown -----------------------------------------------------------------------------------

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
