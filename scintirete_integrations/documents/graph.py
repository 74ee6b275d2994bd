"""A graph index over a store's own vectors, for large collections: it proposes, the matrix decides.

An exact scan reads every vector (about 7 ms at 100,000 x 384-d on 2 cores, 70 ms at
1,000,000). Above ``approximate_search_from`` records a store asks an HNSW graph (usearch,
the ``[ann]`` extra) for a few hundred candidates and scores those exactly from its float32
matrix, so what comes back carries exact distances and ties are broken as in an exact scan;
only a true neighbour the graph did not propose can be missed (recall@10 1.000 at 100,000
clustered embeddings with 200 candidates, 0.995 with 100). The graph stores int8 codes for cosine and float16
otherwise: a quarter or half of the matrix, enough to propose.

Keys: every row of the vector table gets a key that never changes (rows move when the table
packs itself), so the graph can be saved with the view cache and stay valid. The graph is
brought up to date lazily, before a search: rows added since and keys removed since. A large
catch-up (a bulk ingest, a view rebuilt) runs on a background thread while searches stay exact;
a store's final save waits for it, so the next process opens with the graph.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

import numpy as np

from ..models import Metric

try:
    from usearch.index import Index as _Index
except ImportError:  # the [ann] extra is not installed: every search stays exact
    _Index = None  # type: ignore[misc, assignment]

__all__ = ["AVAILABLE", "GraphFailed", "GraphIndex"]

AVAILABLE = _Index is not None
CANDIDATES = 200  # proposals scored exactly per search, at least; 4 per result asked for (100: recall@10 0.995 at 100k, 200: 1.000)
# ...and one per this many records: at 1,000,000 clustered 384-d vectors 200 proposals gave
# recall@10 0.985, 300 gave 0.990, 600 0.996 (1.4, 2.1, 3.4 ms).
RECORDS_PER_PROPOSAL = 3_000
BACKGROUND_FROM = 20_000  # a catch-up adding more rows than this runs on a thread
FEED_FROM = 8_192  # while a store writes, this many rows not yet in the graph start a build on a thread
_CHUNK = 8_192  # rows added per call on the thread: a stop request is seen within a chunk
_CONNECTIVITY = 16  # HNSW links per node
_EXPANSION_ADD = 128  # beam while inserting
_EXPANSION_SEARCH = 64  # beam while searching (at least the proposals asked for)
_KINDS = {
    Metric.COSINE: ("cos", "i8"),
    Metric.L2: ("l2sq", "f16"),
    Metric.INNER_PRODUCT: ("ip", "f16"),
}
_builders: weakref.WeakSet[GraphIndex] = weakref.WeakSet()


class GraphFailed(Exception):
    """The graph is incomplete (its build failed or was stopped): drop it and build another."""


class GraphIndex:
    """The graph of one vector table: keys below :attr:`added_below` were added, minus those
    removed since; :meth:`catch_up` adds the rest. Not thread-safe: the owning store's lock is
    held around every call but the background build, which touches only the graph itself."""

    def __init__(self, metric: Metric, dimension: int, graph: Any = None, added_below: int = 0) -> None:
        assert _Index is not None, "GraphIndex needs usearch (pip install 'scintirete-integrations[ann]')"
        kind, dtype = _KINDS[metric]
        self.metric = metric
        self.dimension = dimension
        self._graph = graph
        if graph is None:
            self._graph = _Index(
                ndim=dimension,
                metric=kind,
                dtype=dtype,
                connectivity=_CONNECTIVITY,
                expansion_add=_EXPANSION_ADD,
                expansion_search=_EXPANSION_SEARCH,
            )
        self.added_below = added_below
        self.removed: list[int] = []  # keys removed from the table, not yet from the graph
        self._builder: threading.Thread | None = None
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._viewed: memoryview | None = None  # the bytes a graph loaded as a view lies in

    def _writable(self) -> None:
        """A graph viewed where it lies cannot change: copy it into memory first."""
        if self._viewed is not None:
            self._graph = _Index.restore(self._viewed)
            self._viewed = None

    @classmethod
    def load(
        cls, metric: Metric, dimension: int, data: bytes | bytearray | memoryview, added_below: int
    ) -> GraphIndex:
        """A graph saved by :meth:`save`; ValueError when the bytes are not one of this shape.

        A ``memoryview`` (of a mapped file) is searched where it lies, not copied: the process
        holds only the nodes searches visit. The graph is copied into memory before its first
        change."""
        assert _Index is not None
        try:
            graph = _Index.restore(data, view=isinstance(data, memoryview))
        except Exception as exc:
            raise ValueError(f"graph index not readable: {exc}") from exc
        kind, _ = _KINDS[metric]
        if graph is None or graph.ndim != dimension or str(graph.metric_kind).split(".")[-1].lower() != kind:
            raise ValueError("graph index of another shape or metric")
        loaded = cls(metric, dimension, graph, added_below)
        if isinstance(data, memoryview):
            loaded._viewed = data
        return loaded

    def save(self) -> bytes:
        """The graph's bytes (call after :meth:`catch_up` returned True, so it matches the table)."""
        data = self._graph.save()
        assert data is not None
        return bytes(data)

    def __len__(self) -> int:
        return len(self._graph)

    @property
    def building(self) -> bool:
        return self._builder is not None and self._builder.is_alive()

    def wait(self) -> None:
        """Let a background build finish."""
        if self._builder is not None:
            self._builder.join()

    def stop(self) -> None:
        """End a background build after its current chunk (the graph is then incomplete: dropped)."""
        self._stop.set()
        self.wait()

    def current(self, next_key: int) -> bool:
        """Whether the graph already matches a table whose next key is ``next_key``: nothing to
        add or remove, no build running or failed. The per-search check, O(1)."""
        return (
            next_key <= self.added_below and not self.removed and self._failure is None and not self.building
        )

    def catch_up(
        self,
        keys: np.ndarray,
        vectors: np.ndarray,
        live: np.ndarray,
        next_key: int,
        wait: bool = False,
        background_from: int | None = None,
    ) -> bool:
        """Bring the graph to the table whose rows have ``keys``, ``vectors`` and ``live`` flags,
        and whose next key is ``next_key``.

        Returns whether the graph can answer now: False while a background build runs (then the
        caller scans exactly). With ``wait`` the catch-up runs to its end on this thread; else
        one adding more than ``background_from`` rows (:data:`BACKGROUND_FROM`) runs on a thread."""
        if self.building:
            if not wait:
                return False
            self.wait()
        if self._failure is not None:
            raise GraphFailed(f"building the graph index failed: {self._failure!r}") from self._failure
        new = np.flatnonzero((keys >= self.added_below) & live)
        if self.removed or len(new):
            self._writable()
        if self.removed:
            self._graph.remove(np.array(self.removed, dtype=np.uint64))
            self.removed = []
        # Every key below next_key is now added or gone (a dead row is never added).
        self.added_below = max(self.added_below, next_key)
        if not len(new):
            return True
        # Rows already in a matrix never change in place (a table that grows or packs makes a new
        # one), so the thread may read them later; chunks keep the copies small.
        new_keys = keys[new].astype(np.uint64)
        if wait or len(new) <= (BACKGROUND_FROM if background_from is None else background_from):
            self._add(new_keys, vectors, new)
            return True
        self._stop.clear()
        self._builder = threading.Thread(
            target=self._build, args=(new_keys, vectors, new), name="scintirete-graph", daemon=True
        )
        _builders.add(self)
        self._builder.start()
        return False

    def _add(self, keys: np.ndarray, vectors: np.ndarray, rows: np.ndarray) -> None:
        for start in range(0, len(keys), _CHUNK):
            if self._stop.is_set():
                raise GraphFailed("stopped before it was complete")
            chunk = rows[start : start + _CHUNK]
            # One thread: usearch's parallel insertion left about 1 node in 5,000 unreachable
            # (a stored vector not found by its own query); one thread left none in our trials.
            self._graph.add(keys[start : start + _CHUNK], vectors[chunk], threads=1)

    def _build(self, keys: np.ndarray, vectors: np.ndarray, rows: np.ndarray) -> None:
        try:
            self._add(keys, vectors, rows)
        except BaseException as exc:  # reported by the next catch_up, on the caller's thread
            self._failure = exc

    def propose(self, query: np.ndarray, count: int) -> np.ndarray:
        """Keys of up to ``count`` stored vectors near ``query`` (approximately the nearest)."""
        found = self._graph.search(query, count, threads=1)
        return np.asarray(found.keys, dtype=np.int64)


@atexit.register
def _stop_builders() -> None:
    """A build thread still inside usearch while the interpreter tears down could crash the exit."""
    for graph in list(_builders):
        graph.stop()
