"""The visible records' vectors, held as one float32 matrix so exact search is one matrix product.

A store must hold every visible record's vector anyway: the data collection cannot be read
back reliably (search is its only read), so rebuilding it and scoring what the server cannot
reach both need them. Kept as rows of one matrix in write order, they also let small
collections and rare filters be searched exactly, with Lite's exact scan (``lite/index``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..lite.distances import ranked
from ..lite.index.exact import key_aux, nearest
from ..models import Metric

Matrix = np.ndarray[Any, np.dtype[np.float32]]
_MIN_ROWS = 64


class VectorTable:
    """Vectors by string id; rows are appended in write order, freed rows reclaimed in bulk."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.dimension = 0
        self.max_norm = 0.0
        self._matrix: Matrix = np.zeros((0, 0), np.float32)
        self._aux: Matrix = np.zeros(0, np.float32)
        self._live = np.zeros(0, bool)
        self._sids: list[str | None] = []
        self.rows: dict[str, int] = {}

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

    @property
    def live(self) -> np.ndarray:
        return self._live[: self.size]

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
        self._matrix[start:end] = vectors
        squares = np.einsum("ij,ij->i", vectors, vectors).astype(np.float32)
        self._aux[start:end] = key_aux(self.metric, squares)
        self._live[start:end] = True
        self.max_norm = max(self.max_norm, float(np.sqrt(squares.max())))
        self._sids.extend(sids)
        self.rows.update(zip(sids, range(start, end), strict=True))

    def adopt(self, sids: list[str], vectors: np.ndarray) -> None:
        """Start an empty table with ``vectors[i]`` for ``sids[i]`` (distinct), in this order; a
        writable float32 matrix is kept as it is, not copied."""
        assert not self.size, "adopt() fills an empty table"
        if not sids:
            return
        self.dimension = int(vectors.shape[1])
        self._matrix = np.require(vectors, np.float32, ["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"])
        squares = np.einsum("ij,ij->i", self._matrix, self._matrix).astype(np.float32)
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
        if self.size - len(self.rows) > max(1024, len(self.rows)):
            self._pack()

    def get(self, sid: str) -> np.ndarray:
        row: np.ndarray = self._matrix[self.rows[sid]].copy()
        return row

    def _grow(self, capacity: int) -> None:
        self._reallocate(capacity, np.arange(self.size))

    def _pack(self) -> None:
        """Drop freed rows, keeping write order (the order ties are broken in)."""
        keep = np.flatnonzero(self.live)
        self._sids = [self._sids[row] for row in keep]
        self.rows = {sid: row for row, sid in enumerate(self._sids) if sid is not None}
        self._reallocate(max(_MIN_ROWS, 2 * len(keep)), keep)

    def _reallocate(self, capacity: int, keep: np.ndarray) -> None:
        """New arrays of ``capacity`` rows starting with rows ``keep`` of the old ones, in order."""
        matrix = np.zeros((capacity, self.dimension), np.float32)
        aux = np.zeros(capacity, np.float32)
        live = np.zeros(capacity, bool)
        if len(keep):
            matrix[: len(keep)] = self._matrix[keep]
            aux[: len(keep)] = self._aux[keep]
            live[: len(keep)] = self._live[keep]
        self._matrix, self._aux, self._live = matrix, aux, live

    # -- exact search

    def nearest(
        self, query: np.ndarray, count: int, among: Iterable[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``count`` closest records (of ``among``, or of all), with exact distances; ties: older first."""
        if not self.rows:
            return []
        query32 = np.ascontiguousarray(query, dtype=np.float32)
        if among is None:
            rows, found = nearest(self, query32, min(count, len(self.rows)))
        else:
            candidates = np.array(sorted(self.rows[sid] for sid in among if sid in self.rows), dtype=np.intp)
            if not len(candidates):
                return []
            rows, found = ranked(self.metric, self.vectors, candidates, query32, count)
        return [(self._sids[row], float(distance)) for row, distance in zip(rows, found, strict=True)]
