"""The visible records' vectors, held as one float32 matrix so exact search is one matrix product.

A store must hold every visible record's vector anyway: the data collection cannot be read
back reliably (search is its only read), so rebuilding it and scoring what the server cannot
reach both need them. Kept as rows of one matrix in write order, they also let small
collections and rare filters be searched exactly, with Lite's exact scan (``lite/index``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..lite.distances import ranked_rows
from ..lite.index.exact import key_aux, nearest
from ..lite.stored_rows import StoredVectors
from ..models import Metric
from .graph import AVAILABLE as GRAPH_AVAILABLE
from .graph import CANDIDATES, RECORDS_PER_PROPOSAL, GraphFailed, GraphIndex
from .graph import FEED_FROM as GRAPH_FEED_FROM

logger = logging.getLogger(__name__)

Matrix = np.ndarray[Any, np.dtype[np.float32]]
Keys = np.ndarray[Any, np.dtype[np.int64]]
_MIN_ROWS = 64
EXACT_LIMIT = 4096  # candidate sets up to this size are scored whole: no graph or server asked
_GROWTH = 4


class VectorTable:
    """Vectors by string id; rows are appended in write order, freed rows reclaimed in bulk.

    Every row also has a *key* that stays with its vector while rows move: the graph index
    (:mod:`.graph`) names vectors by it. Keys grow with each write; ``_row_of_key`` maps back.
    """

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.dimension = 0
        self.max_norm = 0.0
        self._matrix: Matrix = np.zeros((0, 0), np.float32)
        self._aux: Matrix = np.zeros(0, np.float32)
        self._live = np.zeros(0, bool)
        self._sids: list[str | None] = []
        self.rows: dict[str, int] = {}
        self._keys: Keys = np.zeros(0, np.int64)
        self._row_of_key: Keys = np.zeros(0, np.int64)  # -1: removed; grown by doubling
        self._next_key = 0
        self.graph: GraphIndex | None = None
        #: Set while the matrix is mapped from a view cache (``adopt``): chosen rows are read from
        #: the file, since reading them through the map makes the kernel map whole folios.
        self._stored: StoredVectors | None = None

    # -- the ScanView protocol of lite/index/exact.py

    @property
    def size(self) -> int:
        return len(self._sids)

    @property
    def vectors(self) -> Matrix:
        return self._matrix[: self.size]

    @property
    def aux(self) -> Matrix:
        return self._aux[: self.size]

    def rows_of(self, rows: np.ndarray) -> Matrix:
        """The vectors of ``rows`` (what a scan asks of a table, ``ScanView``)."""
        if self._stored is not None:
            return self._stored.gather(self._matrix, rows)
        picked: Matrix = self._matrix[rows]
        return picked

    @property
    def live(self) -> np.ndarray:
        return self._live[: self.size]

    @property
    def keys(self) -> Keys:
        return self._keys[: self.size]

    @property
    def next_key(self) -> int:
        return self._next_key

    @property
    def prefix(self) -> None:
        return None  # the view's vectors are the user's: scans of them rarely narrow by a prefix

    # -- changes

    def put(self, sids: list[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` for ``sids[i]`` (replacing earlier ones), appended in this order."""
        if not sids:
            return
        for sid in sids:
            self.remove(sid)
        if not self.dimension:
            self.dimension = int(vectors.shape[1])
            self._grow(max(_MIN_ROWS, len(sids)))
        elif self.size + len(sids) > len(self._matrix):
            self._grow(max(2 * len(self._matrix), self.size + len(sids)))
        start, end = self.size, self.size + len(sids)
        first_key, self._next_key = self._next_key, self._next_key + len(sids)
        if self._next_key > len(self._row_of_key):
            grown = np.full(max(2 * len(self._row_of_key), self._next_key, _MIN_ROWS), -1, np.int64)
            grown[: len(self._row_of_key)] = self._row_of_key
            self._row_of_key = grown
        self._keys[start:end] = np.arange(first_key, self._next_key)
        self._row_of_key[first_key : self._next_key] = np.arange(start, end)
        self._matrix[start:end] = vectors
        squares = np.einsum("ij,ij->i", vectors, vectors).astype(np.float32)
        self._aux[start:end] = key_aux(self.metric, squares)
        self._live[start:end] = True
        self.max_norm = max(self.max_norm, float(np.sqrt(squares.max())))
        self._sids.extend(sids)
        self.rows.update(zip(sids, range(start, end), strict=True))

    def adopt(
        self,
        sids: list[str],
        vectors: np.ndarray,
        keys: Keys | None = None,
        next_key: int = 0,
        *,
        stored: StoredVectors | None = None,
        squares: np.ndarray | None = None,
    ) -> None:
        """Start an empty table with ``vectors[i]`` for ``sids[i]`` (distinct), in this order; a
        writable float32 matrix is kept as it is, not copied. ``keys`` (distinct, below
        ``next_key``) are the rows' keys, as a saved graph knows them; by default 0, 1, 2...

        ``stored``: ``vectors`` is mapped from a file that ``stored`` reads rows of; the first
        write copies it into memory. ``squares``: the rows' squared norms, when the caller
        computed them on its way through the file (through the map they would page it in)."""
        assert not self.size, "adopt() fills an empty table"
        if keys is None:
            keys = np.arange(len(sids), dtype=np.int64)
        self._next_key = max(next_key, int(keys.max()) + 1 if len(keys) else 0)
        self._keys = np.array(keys, dtype=np.int64)
        self._row_of_key = np.full(self._next_key, -1, np.int64)
        self._row_of_key[self._keys] = np.arange(len(sids))
        if not sids:
            return
        self.dimension = int(vectors.shape[1])
        if stored is None:
            self._matrix = np.require(vectors, np.float32, ["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"])
        else:
            self._matrix, self._stored = vectors, stored
        if squares is None:
            squares = np.einsum("ij,ij->i", self._matrix, self._matrix)
        squares = squares.astype(np.float32)
        self._aux = key_aux(self.metric, squares)
        self._live = np.ones(len(sids), bool)
        self.max_norm = float(np.sqrt(squares.max()))
        self._sids = list(sids)
        self.rows = dict(zip(sids, range(len(sids)), strict=True))

    def remove(self, sid: str) -> None:
        row = self.rows.pop(sid, None)
        if row is None:
            return
        self._live[row] = False
        self._sids[row] = None
        key = int(self._keys[row])
        self._row_of_key[key] = -1
        if self.graph is not None and key < self.graph.added_below:
            self.graph.removed.append(key)
        if self.size - len(self.rows) > max(1024, len(self.rows)):
            self._pack()

    def get(self, sid: str) -> np.ndarray:
        row: np.ndarray = self.rows_of(np.array([self.rows[sid]]))[0].copy()
        return row

    def _grow(self, capacity: int) -> None:
        self._reallocate(capacity, np.arange(self.size))

    def _pack(self) -> None:
        """Drop freed rows, keeping write order (the order ties are broken in)."""
        keep = np.flatnonzero(self.live)
        self._sids = [self._sids[row] for row in keep]
        self.rows = {sid: row for row, sid in enumerate(self._sids) if sid is not None}
        self._reallocate(max(_MIN_ROWS, 2 * len(keep)), keep)
        self._row_of_key[self._keys[: len(keep)]] = np.arange(len(keep))

    def _reallocate(self, capacity: int, keep: np.ndarray) -> None:
        """New arrays of ``capacity`` rows starting with rows ``keep`` of the old ones, in order."""
        matrix = np.zeros((capacity, self.dimension), np.float32)
        aux = np.zeros(capacity, np.float32)
        live = np.zeros(capacity, bool)
        keys = np.zeros(capacity, np.int64)
        if len(keep):
            if self._stored is not None:  # read from the file: through the map would page it all in
                self._stored.gather(self._matrix, keep, out=matrix[: len(keep)])
            else:
                matrix[: len(keep)] = self._matrix[keep]
            aux[: len(keep)] = self._aux[keep]
            live[: len(keep)] = self._live[keep]
            keys[: len(keep)] = self._keys[keep]
        self._matrix, self._aux, self._live, self._keys = matrix, aux, live, keys
        self._stored = None

    # -- exact search

    def nearest(
        self,
        query: np.ndarray,
        count: int,
        among: Iterable[str] | None = None,
        approximate_from: int | None = None,
    ) -> list[tuple[str, float]]:
        """The ``count`` closest records (of ``among``, or of all), with exact distances; ties: older first.

        With ``approximate_from`` and at least that many records, the candidates come from the
        graph index when it is ready (see :mod:`.graph`); otherwise every candidate is scored."""
        if not self.rows:
            return []
        query32 = np.ascontiguousarray(query, dtype=np.float32)
        candidates = None
        if among is not None:
            row_of = self.rows
            candidates = np.sort(np.fromiter((row_of[sid] for sid in among if sid in row_of), dtype=np.intp))
            if not len(candidates):
                return []
        found = None
        if (
            approximate_from is not None
            and len(self.rows) >= approximate_from
            and (candidates is None or len(candidates) > EXACT_LIMIT)
        ):
            found = self._proposed(query32, count, candidates)
        if found is None:
            if candidates is None:
                found = nearest(self, query32, min(count, len(self.rows)))
            else:
                found = ranked_rows(self.metric, self.rows_of(candidates), candidates, query32, count)
        rows, distances = found
        return [(self._sids[row], float(distance)) for row, distance in zip(rows, distances, strict=True)]

    def ready_graph(self, wait: bool = False) -> GraphIndex | None:
        """The graph index brought up to date, or None: usearch missing, a build still running
        (``wait`` waits for it), or a build that failed (logged; the next call starts another)."""
        return self.graph if self._catch_up(wait) else None

    def feed_graph(self) -> None:
        """While records are written: once enough rows are not yet in the graph, add them on a
        thread, so that a bulk ingest leaves little for the first search or the final save."""
        behind = self.next_key - (self.graph.added_below if self.graph is not None else 0)
        if behind >= GRAPH_FEED_FROM and not (self.graph is not None and self.graph.building):
            self._catch_up(wait=False, background_from=0)

    def _catch_up(self, wait: bool, background_from: int | None = None) -> bool:
        if not GRAPH_AVAILABLE or not self.dimension:
            return False
        if self.graph is None:
            self.graph = GraphIndex(self.metric, self.dimension)
        elif self.graph.current(self.next_key):
            return True  # the usual search: skip the scan of every row's key
        try:
            return self.graph.catch_up(
                self.keys, self.vectors, self.live, self.next_key, wait, background_from
            )
        except GraphFailed as exc:
            logger.warning("%s; searching exactly until another is built", exc)
            self.graph = None
            return False

    def _proposed(
        self, query: np.ndarray, count: int, among: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``count`` nearest of the graph's proposals (within rows ``among``), scored exactly;
        None when the graph is not ready or cannot propose enough, or when it would be asked for
        as many proposals as ``among`` holds rows: the caller scores those instead, for less.

        A filter's share already widens the graph's search (proposals / share); the proposals
        do not also grow with the collection: at 1,000,000 records a 1% filter asked for 33,300
        and spent 119 ms where scoring its 10,000 rows exactly costs about 30."""
        graph = self.ready_graph()
        if graph is None:
            return None
        total = len(self.rows)
        allowed = None
        share = 1.0
        if among is not None:
            allowed = np.zeros(self.size, bool)
            allowed[among] = True
            share = len(among) / total
        want = min(count, total if among is None else len(among))
        proposals = max(CANDIDATES, _GROWTH * count)
        if among is None:
            proposals = max(proposals, total // RECORDS_PER_PROPOSAL)
        while True:
            asked = min(total, math.ceil(proposals / share))
            if among is not None and asked >= len(among):
                return None
            rows = self._row_of_key[graph.propose(query, asked)]
            rows = rows[rows >= 0]
            if allowed is not None:
                rows = rows[allowed[rows]]
            if len(rows) >= want:
                rows = np.sort(rows)
                return ranked_rows(self.metric, self.rows_of(rows), rows, query, count)
            if asked >= total:
                return None  # the graph could not reach enough of them: scan
            proposals *= _GROWTH
