"""One collection in memory: its rows in a float32 matrix with ids, liveness and metadata per row.

:class:`_Collection` appends rows (growing its arrays by doubling), soft-deletes them by id,
compacts them when the deleted ones outnumber the live, feeds new rows to its HNSW graph when
it has one, and hands out :class:`_View`, an immutable picture that searches and snapshots
read outside the engine's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InternalError
from ..models import CollectionInfo, HnswConfig, Metric
from .index.exact import PREFIX_COLUMNS, key_aux, uses_prefix
from .index.hnsw import HnswGraph
from .log_records import StoredRows
from .stored_rows import StoredVectors

Matrix = np.ndarray[Any, np.dtype[np.float32]]


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
    prefix: Matrix | None = None  # the leading columns, contiguous, where L2 scans narrow by them
    stored: StoredVectors | None = None  # the leading rows are a snapshot's, mapped (``adopt``)

    def rows_of(self, rows: np.ndarray[Any, np.dtype[np.intp]]) -> Matrix:
        """The vectors of ``rows``; a snapshot's rows are read from its file, not through the map."""
        return self.vectors[rows] if self.stored is None else self.stored.gather(self.vectors, rows)


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
        #: A contiguous copy of the leading columns when scans narrow by them: reading them
        #: out of wide rows (the layer's 2,064-d page vectors) cost most of each look-up.
        self.prefix: Matrix | None = None
        #: Set while ``vectors`` is a snapshot's map (``adopt``): chosen rows are read from the file.
        self.stored: StoredVectors | None = None

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

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` more rows (doubling, so that appends cost O(1) amortised)."""
        capacity = len(self.ids)
        if self.size + rows <= capacity:
            return
        capacity = max(self.size + rows, 2 * capacity, 64)  # doubling: appends cost O(1) amortised
        self.vectors = _grown(self.vectors, self.size, (capacity, self.dimension))
        self.stored = None
        self.aux = _grown(self.aux, self.size, (capacity,))
        self.ids = _grown(self.ids, self.size, (capacity,))
        self.live = _grown(self.live, self.size, (capacity,))
        if self.prefix is not None:
            self.prefix = _grown(self.prefix, self.size, (capacity, PREFIX_COLUMNS))

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
        if self.prefix is None and self.size == 0 and uses_prefix(self.metric, self.dimension):
            self.prefix = np.empty((len(self.ids), PREFIX_COLUMNS), np.float64)  # as the scan measures it
        self.reserve(count)
        start, stop = self.size, self.size + count
        self.vectors[start:stop] = vectors
        if self.prefix is not None:
            self.prefix[start:stop] = vectors[:, :PREFIX_COLUMNS]
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

    def adopt(self, rows: StoredRows) -> None:
        """Take a snapshot's rows as this empty collection's; the room after them is its capacity.

        The vectors stay as given (mapped from the snapshot): appends write into their room.
        """
        count, capacity = len(rows.ids), len(rows.vectors)
        if self.graph is not None and not self.size:  # opened with a graph index: build it
            self.append(rows.ids.tolist(), np.array(rows.vectors[:count], np.float32), rows.metadata)
            return
        if self.size or self.graph is not None or not 0 < count <= capacity:
            raise InternalError(f"cannot adopt {count} stored rows into collection '{self.name}'")
        if np.any(rows.ids[1:] <= rows.ids[:-1]) or rows.ids[-1] >= 2**64 - 1:
            raise InternalError("stored row ids are not ascending")
        self.dimension = rows.vectors.shape[1]
        self.vectors = rows.vectors
        self.stored = rows.stored
        self.aux = _grown(rows.aux, count, (capacity,))
        self.ids = _grown(rows.ids, count, (capacity,))
        self.live = np.ones(capacity, np.bool_)
        if uses_prefix(self.metric, self.dimension):
            self.prefix = np.empty((capacity, PREFIX_COLUMNS), np.float64)
            self.prefix[:count] = (
                rows.vectors[:count, :PREFIX_COLUMNS] if rows.prefix is None else rows.prefix
            )
        self.metadata = list(rows.metadata)
        self.metadata_bytes = sum(map(len, self.metadata))
        self.max_norm = rows.max_norm
        self.size = self.live_count = count
        self.next_id = max(self.next_id, int(rows.ids[-1]) + 1)

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
        self.stored = None
        if self.prefix is not None:
            self.prefix = self.prefix[keep]
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
            prefix=None if self.prefix is None else self.prefix[:size],
            stored=self.stored,
        )


def _grown(array: np.ndarray[Any, Any], used: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    bigger = np.empty(shape, dtype=array.dtype)
    if used:
        bigger[:used] = array[:used]
    return bigger


def _first_live_rows(view: _View, count: int) -> np.ndarray[Any, np.dtype[np.intp]]:
    rows = np.flatnonzero(view.live) if view.live is not None else np.arange(view.size)
    return rows[:count]
