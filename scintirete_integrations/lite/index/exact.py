"""The exact index: every search scans every row, so nothing is ever unreachable.

One float32 matrix-vector product gives a ranking key per row; the rows within float32
rounding error of the ``count``-th best key get exact float64 distances (``distances.py``),
so rounding can neither lose a true neighbour nor break a tie by id.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ...models import Metric
from ..distances import ranked_rows

__all__ = ["PREFIX_COLUMNS", "ScanView", "key_aux", "nearest", "uses_prefix"]

Matrix = np.ndarray[Any, np.dtype[np.float32]]
Floats = np.ndarray[Any, np.dtype[np.float64]]
Rows = np.ndarray[Any, np.dtype[np.intp]]

_EPS32 = float(np.finfo(np.float32).eps)


class ScanView(Protocol):
    """What a scan reads: a collection's rows, their aux values (``key_aux``) and liveness."""

    @property
    def metric(self) -> Metric: ...
    @property
    def dimension(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def max_norm(self) -> float: ...
    @property
    def vectors(self) -> Matrix: ...
    @property
    def aux(self) -> Matrix: ...
    @property
    def live(self) -> np.ndarray[Any, np.dtype[np.bool_]] | None: ...
    @property
    def prefix(self) -> Matrix | None:
        """The first :data:`PREFIX_COLUMNS` columns kept contiguous, or None (sliced per scan)."""

    def rows_of(self, rows: Rows) -> Matrix:
        """The vectors of ``rows``, in that order."""


# -- the full scan: a float32 ranking key per metric, from one matrix-vector product -------------


def _l2_keys(vectors: Matrix, aux: Matrix, query: Matrix) -> Matrix:
    keys = vectors @ query  # |x|^2 - 2 x.q ranks like |x - q|^2 (|q|^2 is the same for all)
    keys *= -2.0
    keys += aux
    return keys


def _cosine_keys(vectors: Matrix, aux: Matrix, query: Matrix) -> Matrix:
    keys = vectors @ query  # -(x.q)/|x| ranks like 1 - cos; aux is 1/|x|, 0 for zero rows
    keys *= aux
    np.negative(keys, out=keys)
    return keys


def _inner_product_keys(vectors: Matrix, aux: Matrix, query: Matrix) -> Matrix:
    keys = vectors @ query
    np.negative(keys, out=keys)
    return keys


@dataclass(frozen=True)
class _MetricOps:
    keys: Callable[[Matrix, Matrix, Matrix], Matrix]
    #: The per-row value the keys need, from squared row norms: |x|^2, 1/|x|, or nothing.
    aux: Callable[[Matrix], Matrix]
    #: Bound on |terms| of a key, from the largest row norm and the query norm: it scales
    #: the float32 rounding error of the keys.
    key_scale: Callable[[float, float], float]


def _squared_norms(squares: Matrix) -> Matrix:
    return squares


def _inverse_norms(squares: Matrix) -> Matrix:
    inverse = np.zeros_like(squares)
    np.divide(1.0, np.sqrt(squares), out=inverse, where=squares > 0)
    return inverse


def _no_aux(squares: Matrix) -> Matrix:
    return np.zeros_like(squares)


_METRICS: dict[Metric, _MetricOps] = {
    Metric.L2: _MetricOps(_l2_keys, _squared_norms, lambda norm, q_norm: norm * norm + 2.0 * norm * q_norm),
    Metric.COSINE: _MetricOps(_cosine_keys, _inverse_norms, lambda norm, q_norm: q_norm),
    Metric.INNER_PRODUCT: _MetricOps(_inner_product_keys, _no_aux, lambda norm, q_norm: norm * q_norm),
}


def key_aux(metric: Metric, squares: Matrix) -> Matrix:
    """The per-row value the ranking keys need, from squared row norms: |x|^2, 1/|x|, or 0."""
    return _METRICS[metric].aux(squares)


_SPLIT_ROWS = 8_000  # measured on 2 cores, 384-d: 20,000 rows 1.7 ms on one thread, 0.47 ms on two
_scan_helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lite-scan")
_searches = 0  # searches running in this process
_searches_lock = threading.Lock()


def _all_keys(ops: _MetricOps, view: ScanView, query: Matrix) -> Matrix:
    """Ranking keys of every row; a lone large search scans its two halves on two threads.

    BLAS runs single-threaded under Lite (concurrent requests keep the cores busy); when only
    one search is running, the second core would otherwise idle. numpy releases the GIL here.
    """
    global _searches
    with _searches_lock:
        _searches += 1
        alone = _searches == 1
    try:
        if not alone or view.size < _SPLIT_ROWS:
            return ops.keys(view.vectors, view.aux, query)
        half = view.size // 2
        second = _scan_helper.submit(ops.keys, view.vectors[half:], view.aux[half:], query)
        first = ops.keys(view.vectors[:half], view.aux[:half], query)
        return np.concatenate((first, second.result()))
    finally:
        with _searches_lock:
            _searches -= 1


PREFIX_COLUMNS = 16  # L2: leading dimensions whose distance bounds the whole distance from below
_PREFIX = PREFIX_COLUMNS


def uses_prefix(metric: Metric, dimension: int) -> bool:
    """Whether an L2 scan first narrows by the leading columns (see :func:`_by_prefix`)."""
    return metric is Metric.L2 and dimension > 4 * PREFIX_COLUMNS


def _by_prefix(view: ScanView, query: Matrix, count: int) -> tuple[Rows, Matrix] | None:
    """L2 candidates found from the first dimensions alone, with their vectors (each row read
    once), or None when they do not narrow it.

    The squared distance over a prefix of the dimensions never exceeds the whole one, so once
    ``count`` rows are measured whole, a row whose prefix alone is farther than the farthest of
    them cannot be among the nearest. Exact, whatever the data; it only saves time when the
    leading dimensions tell rows apart (keyed data such as the document layer's page vectors),
    and costs a 16-column pass otherwise.
    """
    # A contiguous copy, when the view keeps one, spares reading every (wide) row again.
    lead = view.prefix if view.prefix is not None else view.vectors[:, :_PREFIX]
    offsets = lead - query[:_PREFIX].astype(np.float64)  # float64 whatever ``lead`` is
    prefix = np.einsum("ij,ij->i", offsets, offsets)
    if view.live is not None:
        prefix[~view.live] = np.inf
    first = np.argpartition(prefix, count - 1)[:count]
    first = first[np.isfinite(prefix[first])]
    if not len(first):
        return None
    first = np.sort(first)
    first_vectors = view.rows_of(first)
    whole = first_vectors.astype(np.float64) - query.astype(np.float64)
    bound = float(np.einsum("ij,ij->i", whole, whole).max())
    # ``first`` joined in outright: its prefix sums could round a hair above its whole sums.
    candidates = np.union1d(np.flatnonzero(prefix <= bound), first)
    if len(candidates) > max(4 * count, view.size // 8):
        return None
    vectors = np.empty((len(candidates), first_vectors.shape[1]), first_vectors.dtype)
    known = np.isin(candidates, first)
    vectors[known] = first_vectors  # both in ascending row order
    vectors[~known] = view.rows_of(candidates[~known])
    return candidates, vectors


def nearest(view: ScanView, query: Matrix, count: int) -> tuple[Rows, Floats]:
    """Rows of the ``count`` closest live vectors and their exact distances, closest first."""
    ops = _METRICS[view.metric]
    if uses_prefix(view.metric, view.dimension) and count < view.size:
        with np.errstate(over="ignore", invalid="ignore"):
            narrowed = _by_prefix(view, query, count)
        if narrowed is not None:
            return ranked_rows(view.metric, narrowed[1], narrowed[0], query, count)
    with np.errstate(over="ignore", invalid="ignore"):  # a stored NaN or huge vector: non-finite keys
        keys = _all_keys(ops, view, query)
        if view.live is not None:
            keys[~view.live] = np.inf
        threshold = math.inf
        if count < view.size:
            # argpartition finds the count-th smallest key; every row within float32 error of it
            # is a candidate, so rounding cannot lose a true neighbour or break a tie by id.
            picked = np.argpartition(keys, count - 1)[:count]
            scale = ops.key_scale(view.max_norm, float(np.linalg.norm(query)))
            threshold = float(keys[picked].max()) + 2.0 * view.dimension * _EPS32 * scale
        if math.isfinite(threshold):
            candidates = np.flatnonzero(keys <= threshold)
        else:
            # Every live row: also when a stored NaN or huge vector makes a key or the error bound
            # NaN or infinite, where it would tie with the deleted rows' +inf keys.
            candidates = np.flatnonzero(view.live) if view.live is not None else np.arange(view.size)
    return ranked_rows(view.metric, view.rows_of(candidates), candidates, query, count)
