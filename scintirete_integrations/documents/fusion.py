"""Fusing ranked lists for hybrid retrieval: reciprocal rank fusion, and weighted normalised scores.

A hybrid search runs a dense (vector) search and a keyword (BM25) search and merges the two
ranked lists. Every function here takes lists of ``(id, score)`` pairs, best first, with
scores where higher is better (relevance scores for dense hits, BM25 scores for keyword
hits; never distances), and returns ``(id, fused score)`` pairs, highest first.

- :func:`reciprocal_rank_fusion` uses ranks only: ``sum over lists of w / (constant + rank)``
  with rank 1 for a list's first record. Scores on different scales (cosine, BM25) need no
  calibration. Fused scores only order records: they depend on list lengths and the
  constant, not on how relevant a record is, so no similarity threshold applies to them.
- :func:`relative_score_fusion` (LlamaIndex's ``alpha``: 1 is dense only, 0 keyword only) and
  :func:`weighted_score_fusion` rescale each list to [0, 1] by its own minimum and maximum
  (:func:`min_max_normalise`), then add the weighted values. A record missing from a list
  gets 0 from it, as does the last record of a list: min-max places the list's worst at 0.
  A list whose scores are all equal (one record, say) maps them all to 1: each is that list's
  best. Fused scores lie in [0, sum of weights]; they say how a record compares with the
  others retrieved for the same query, not how relevant it is.

Every record appears once: within a list only its first (best) occurrence counts. Ties in
the fused score go to the record that the earlier list ranks higher (lists are given in
priority order, dense first by convention), then to the smaller id, so results are
deterministic. A list with weight 0 is left out entirely: its records do not appear unless
another list has them, so ``alpha=1`` returns exactly the dense list, in its order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..errors import InvalidArgumentError
from .records import check_k

__all__ = [
    "DEFAULT_RRF_CONSTANT",
    "Hit",
    "min_max_normalise",
    "reciprocal_rank_fusion",
    "relative_score_fusion",
    "weighted_score_fusion",
]

Hit = tuple[str, float]
DEFAULT_RRF_CONSTANT = 60.0  # the constant of Cormack, Clarke and Buettcher (2009), used by most peers


def _weights(count: int, weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * count
    values = [float(w) for w in weights]
    if len(values) != count:
        raise InvalidArgumentError(f"got {count} ranked lists but {len(values)} weights")
    for value in values:
        if not (math.isfinite(value) and value >= 0):
            raise InvalidArgumentError(f"weights must be finite numbers >= 0, got {value!r}")
    return values


def _first_occurrences(hits: Iterable[Hit]) -> dict[str, float]:
    """id -> score, keeping each id's first (best ranked) occurrence, in list order."""
    found: dict[str, float] = {}
    for sid, score in hits:
        found.setdefault(sid, score)
    return found


def _fuse(
    lists: list[dict[str, float]], contributions: list[dict[str, float]], limit: int | None
) -> list[Hit]:
    """Add up ``contributions`` per id and sort: score down, then ranks in list order, then id."""
    if limit is not None:
        check_k(limit)
    totals: dict[str, float] = {}
    for part in contributions:
        for sid, value in part.items():
            totals[sid] = totals.get(sid, 0.0) + value
    positions = [{sid: rank for rank, sid in enumerate(found)} for found in lists]
    missing = math.inf

    def key(sid: str) -> tuple[float, tuple[float, ...], str]:
        return -totals[sid], tuple(p.get(sid, missing) for p in positions), sid

    ordered = sorted(totals, key=key)
    return [(sid, totals[sid]) for sid in ordered[:limit]]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hit]],
    *,
    constant: float = DEFAULT_RRF_CONSTANT,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> list[Hit]:
    """Reciprocal rank fusion: each record scores ``sum over lists of weight / (constant + rank)``.

    Ranks start at 1; a list without the record adds nothing. Scores within a list are not
    read, only its order. ``limit`` keeps the best ``limit`` records.

    >>> reciprocal_rank_fusion([[("a", 0.9), ("b", 0.8)], [("b", 12.0), ("c", 3.0)]], constant=1)
    [('b', 0.8333333333333333), ('a', 0.5), ('c', 0.3333333333333333)]
    """
    if not (math.isfinite(constant) and constant >= 0):
        raise InvalidArgumentError(f"constant must be a finite number >= 0, got {constant!r}")
    lists = [_first_occurrences(hits) for hits in rankings]
    factors = _weights(len(lists), weights)
    used = [(found, w) for found, w in zip(lists, factors, strict=True) if w > 0]
    contributions = [
        {sid: w / (constant + rank) for rank, sid in enumerate(found, start=1)} for found, w in used
    ]
    return _fuse([found for found, _ in used], contributions, limit)


def min_max_normalise(hits: Iterable[Hit]) -> list[Hit]:
    """Scores rescaled to [0, 1] by the list's minimum and maximum; all equal (or one) -> all 1.0.

    >>> min_max_normalise([("a", 12.0), ("b", 9.0), ("c", 6.0)])
    [('a', 1.0), ('b', 0.5), ('c', 0.0)]
    >>> min_max_normalise([("a", 0.42)])
    [('a', 1.0)]
    """
    pairs = list(hits)
    for sid, score in pairs:
        if not math.isfinite(score):
            raise InvalidArgumentError(f"score of {sid!r} must be a finite number, got {score!r}")
    if not pairs:
        return []
    low = min(score for _, score in pairs)
    high = max(score for _, score in pairs)
    if high == low:
        return [(sid, 1.0) for sid, _ in pairs]
    return [(sid, (score - low) / (high - low)) for sid, score in pairs]


def weighted_score_fusion(
    rankings: Sequence[Sequence[Hit]], weights: Sequence[float] | None = None, *, limit: int | None = None
) -> list[Hit]:
    """Each record scores ``sum over lists of weight * min-max normalised score`` (0 where absent)."""
    lists = [_first_occurrences(hits) for hits in rankings]
    factors = _weights(len(lists), weights)
    used = [(found, w) for found, w in zip(lists, factors, strict=True) if w > 0]
    contributions = [{sid: w * value for sid, value in min_max_normalise(found.items())} for found, w in used]
    return _fuse([found for found, _ in used], contributions, limit)


def relative_score_fusion(
    dense: Sequence[Hit], keyword: Sequence[Hit], *, alpha: float = 0.5, limit: int | None = None
) -> list[Hit]:
    """``alpha * dense + (1 - alpha) * keyword`` on min-max normalised scores; LlamaIndex's ``alpha``.

    ``alpha=1`` returns the dense list as it is ordered, ``alpha=0`` the keyword list.

    >>> relative_score_fusion([("a", 0.9), ("b", 0.8), ("d", 0.5)], [("b", 7.5), ("c", 2.5)], alpha=0.5)
    [('b', 0.875), ('a', 0.5), ('d', 0.0), ('c', 0.0)]
    """
    if not 0.0 <= alpha <= 1.0:
        raise InvalidArgumentError(f"alpha must be between 0 and 1, got {alpha!r}")
    return weighted_score_fusion([dense, keyword], [alpha, 1.0 - alpha], limit=limit)
