"""A graph index that behaves like the real server's HNSW, including where it loses data.

Written from the algorithm as ``shared/scintirete-v1.md`` describes it:

- each node gets a level ``floor(-ln(U) * mL)`` with ``mL = 1 / ln 2`` (half the nodes reach
  level 1, a quarter level 2, ...), drawn from a seeded generator;
- an insert descends greedily (a beam of 1) from the entry point through the levels above
  the node's own, then runs a beam of ``ef_construction`` on each level from its own down to
  0, each level starting from the previous level's beam;
- the new node links to the ``M`` nearest nodes found (``2M`` on level 0), with no diversity
  rule; each of them links back and, when that takes it over its own limit (``M``, ``2M`` on
  level 0), keeps only its closest links. A node can so lose every link *to* it.
- a search descends greedily through the upper levels, then runs a beam of ``ef`` on level 0.
  Deleted nodes are never returned and never stepped on: the search treats them as absent,
  so after heavy deletion part of the live data becomes unreachable, as on the real server.
  The entry point is the exception: the search starts from it even when it is deleted (it is
  the only way in), but never returns it.

Inserts walk the whole graph, deleted nodes included (deletion does not change the graph),
so the graph is a function of the vectors in insertion order and the seed: replaying the
inserts of a collection in id order rebuilds the same graph.

Rows are the engine's row numbers (0, 1, 2, ... in insertion order). Distances are compared
through ranking keys computed with numpy over whole link lists at once; the engine computes
the exact distances of what a search returns.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from ...models import Metric

__all__ = ["LEVEL_MULTIPLIER", "HnswGraph"]

Matrix = np.ndarray[Any, np.dtype[np.float32]]
Rows = np.ndarray[Any, np.dtype[np.int32]]
Mask = np.ndarray[Any, np.dtype[np.bool_]]

#: mL: levels are floor(-ln(U) * mL).
LEVEL_MULTIPLIER = 1.0 / math.log(2.0)
_MAX_LEVEL = 48  # -ln(U) is below 34 for every float64 U > 0; a guard, never reached in practice
#: Below this many float32 multiply-adds, one matrix-vector product over every row is cheaper
#: than gathering each link list's rows separately as the beam reaches them.
_DENSE_LIMIT = 20_000_000
_NO_LINKS: Rows = np.empty(0, np.int32)


def _keys(metric: Metric, dots: Matrix, aux: Matrix) -> Matrix:
    """Ranking keys (lower is closer) from dot products with the query and the rows' aux values.

    L2: |x|^2 - 2 x.q ranks like |x - q|; cosine: -(x.q)/|x| ranks like 1 - cos (aux is 1/|x|,
    0 for a zero row, which so ranks at distance 1); inner product: -x.q.
    """
    if metric is Metric.L2:
        return aux - 2.0 * dots
    if metric is Metric.COSINE:
        return -(dots * aux)
    return -dots


class _Scorer:
    """Keys of rows against one query: from one product over all rows, or per link list."""

    def __init__(self, metric: Metric, vectors: Matrix, aux: Matrix, query: Matrix) -> None:
        self.metric, self.vectors, self.aux, self.query = metric, vectors, aux, query
        self.table: Matrix | None = None
        if vectors.size <= _DENSE_LIMIT:
            self.table = _keys(metric, vectors @ query, aux)

    def __call__(self, rows: Rows) -> Matrix:
        if self.table is not None:
            return self.table[rows]
        return _keys(self.metric, self.vectors[rows] @ self.query, self.aux[rows])


class HnswGraph:
    """Levels and links of every row; ``add`` one row at a time, ``search`` with a beam.

    ``links[row][level]`` is an int32 array of rows. Arrays are replaced, never edited in
    place. The caller holds the collection's lock around ``add`` and ``search``.
    """

    def __init__(self, metric: Metric, m: int, ef_construction: int, rng: np.random.Generator) -> None:
        self.metric = metric
        self.m = m
        self.ef_construction = ef_construction
        self.rng = rng
        self.levels: list[int] = []
        self.links: list[list[Rows]] = []
        self.entry = -1  # the first node to reach the top level; -1 while empty
        self.top = -1

    def __len__(self) -> int:
        return len(self.levels)

    def draw_level(self) -> int:
        uniform = 1.0 - float(self.rng.random())  # in (0, 1]
        return min(int(-math.log(uniform) * LEVEL_MULTIPLIER), _MAX_LEVEL)

    def limit(self, level: int) -> int:
        return 2 * self.m if level == 0 else self.m

    # -- insertion ----------------------------------------------------------------------------------

    def add(self, vectors: Matrix, aux: Matrix) -> None:
        """Insert row ``len(self)``; ``vectors`` and ``aux`` hold every row up to and including it."""
        row = len(self.levels)
        level = self.draw_level()
        self.levels.append(level)
        self.links.append([_NO_LINKS] * (level + 1))
        if self.entry < 0:
            self.entry, self.top = row, level
            return
        scorer = _Scorer(self.metric, vectors[:row], aux[:row], vectors[row])
        current = self.entry
        current_key = float(scorer(np.array([current], np.int32))[0])
        for layer in range(self.top, level, -1):
            current, current_key = self._greedy(scorer, current, current_key, layer, None)
        beam = [(current_key, current)]
        for layer in range(min(level, self.top), -1, -1):
            beam = self._beam(scorer, beam, self.ef_construction, layer, np.zeros(row, np.bool_), None)
            nearest = np.array([r for _, r in beam[: self.limit(layer)]], np.int32)
            self.links[row][layer] = nearest
            self._link_back(vectors, aux, row, nearest, layer)
        if level > self.top:
            self.entry, self.top = row, level

    def _link_back(self, vectors: Matrix, aux: Matrix, row: int, neighbours: Rows, layer: int) -> None:
        """Each neighbour links to ``row``; the ones over their limit keep their closest links."""
        limit = self.limit(layer)
        full: list[int] = []
        for neighbour in neighbours.tolist():
            links = np.append(self.links[neighbour][layer], np.int32(row))
            self.links[neighbour][layer] = links
            if len(links) > limit:
                full.append(neighbour)
        if not full:
            return
        # Each holds limit + 1 links now (its own list never exceeds the limit): one batch.
        owners = np.array(full, np.int32)
        lists = np.stack([self.links[neighbour][layer] for neighbour in full])
        dots = np.einsum("kld,kd->kl", vectors[lists], vectors[owners])
        keys = _keys(self.metric, dots, aux[lists])
        order = np.argsort(keys, axis=1, kind="stable")[:, :limit]
        kept = np.take_along_axis(lists, order, axis=1)
        for neighbour, links in zip(full, kept, strict=True):
            self.links[neighbour][layer] = links

    # -- the two walks --------------------------------------------------------------------------------

    def _greedy(
        self, scorer: _Scorer, current: int, current_key: float, layer: int, blocked: Mask | None
    ) -> tuple[int, float]:
        """Beam of 1: move to the closest (unblocked) neighbour while that gets closer."""
        while True:
            links = self.links[current][layer]
            if blocked is not None and len(links):
                links = links[~blocked[links]]
            if not len(links):
                return current, current_key
            keys = scorer(links)
            best = int(np.argmin(keys))
            if not keys[best] < current_key:
                return current, current_key
            current, current_key = int(links[best]), float(keys[best])

    def _beam(
        self,
        scorer: _Scorer,
        start: list[tuple[float, int]],
        ef: int,
        layer: int,
        visited: Mask,
        blocked: Mask | None,
    ) -> list[tuple[float, int]]:
        """Best-first search with a beam of ``ef`` on one level; returns (key, row), closest first.

        ``visited`` marks rows never to be stepped on (it starts as the deleted rows in a
        search); starting rows are expanded even when ``blocked``, but never returned.
        """
        candidates = list(start)
        heapq.heapify(candidates)
        found: list[tuple[float, int]] = []  # max-heap by key, as (-key, -row)
        for key, row in start:
            visited[row] = True
            if blocked is None or not blocked[row]:
                heapq.heappush(found, (-key, -row))
        while len(found) > ef:
            heapq.heappop(found)
        while candidates:
            key, row = heapq.heappop(candidates)
            if len(found) >= ef and key > -found[0][0]:
                break
            links = self.links[row][layer]
            if not len(links):
                continue
            fresh = links[~visited[links]]
            if not len(fresh):
                continue
            visited[fresh] = True
            keys = scorer(fresh)
            if len(found) >= ef:
                closer = keys < -found[0][0]
                fresh, keys = fresh[closer], keys[closer]
            for new_key, new_row in zip(keys.tolist(), fresh.tolist(), strict=True):
                if len(found) < ef:
                    heapq.heappush(found, (-new_key, -new_row))
                elif new_key < -found[0][0]:
                    heapq.heapreplace(found, (-new_key, -new_row))
                else:
                    continue
                heapq.heappush(candidates, (new_key, new_row))
        return sorted((-key, -row) for key, row in found)

    # -- search ---------------------------------------------------------------------------------------

    def search(self, vectors: Matrix, aux: Matrix, live: Mask | None, query: Matrix, ef: int) -> Rows:
        """Rows of up to ``ef`` live nodes the beam reached, closest first by key.

        ``live`` (None: all live) covers rows ``0 .. len(self) - 1``.
        """
        size = len(self.levels)
        if self.entry < 0 or ef <= 0:
            return _NO_LINKS
        scorer = _Scorer(self.metric, vectors[:size], aux[:size], query)
        blocked = None if live is None else ~live[:size]
        current = self.entry
        current_key = float(scorer(np.array([current], np.int32))[0])
        for layer in range(self.top, 0, -1):
            current, current_key = self._greedy(scorer, current, current_key, layer, blocked)
        visited = np.zeros(size, np.bool_) if blocked is None else blocked.copy()
        beam = self._beam(scorer, [(current_key, current)], ef, 0, visited, blocked)
        return np.array([row for _, row in beam], np.int32)
