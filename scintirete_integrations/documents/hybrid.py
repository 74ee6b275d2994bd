"""Keyword and hybrid search: BM25 over the view's texts, alone or fused with dense search.

The view's :class:`~.keyword.KeywordIndex` is built on the first keyword or hybrid query and
kept up to date as pages are applied; a filter or an id list becomes the same ``allowed`` set
exact vector search computes (:meth:`~.core.CollectionCore.matching_ids`), and restricts the
result, never the BM25 statistics. Scores (``docs/keyword-retrieval.md``, "What scores mean"):

- keyword: ``score`` is ``bm25 / KeywordIndex.max_score(query)``, in [0, 1): roughly how much
  of the query's weight the record matches;
- hybrid, ``fusion="relative"``: ``alpha * dense + (1 - alpha) * keyword`` of min-max
  normalised scores, in [0, 1];
- hybrid, ``fusion="rrf"``: reciprocal rank fusion with weights ``alpha`` and ``1 - alpha``,
  times 61, so 1.0 only for a record ranked first by every list it is weighted in.

``distance`` is ``1 - score`` in both modes, so code reading either keeps its direction. A
hybrid score orders the records retrieved for one query; it is not a similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..client import as_vector
from ..errors import InvalidArgumentError, NotFoundError
from ..filters import Filter
from ..filters import compile as compile_filter
from .core import CollectionCore
from .fusion import DEFAULT_RRF_CONSTANT, reciprocal_rank_fusion, relative_score_fusion
from .records import Record, ScoredRecord, check_ids, check_k, relevance_score
from .search import search_view_plan
from .view import View

if TYPE_CHECKING:
    from ..client import Plan, Timeout, _BaseClient

Fusion = Literal["relative", "rrf"]
FUSIONS: tuple[Fusion, ...] = ("relative", "rrf")
#: Records taken from each list before fusing when no depth is given: the depth the quality
#: table of docs/keyword-retrieval.md was measured at.
DEFAULT_DEPTH = 50


def check_fusion(fusion: str, alpha: float) -> None:
    """InvalidArgumentError unless ``fusion`` is a known method and ``alpha`` in [0, 1]."""
    if fusion not in FUSIONS:
        raise InvalidArgumentError(f"fusion must be one of {', '.join(map(repr, FUSIONS))}, got {fusion!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise InvalidArgumentError(
            f"alpha must be a number between 0 (keyword only) and 1 (dense only), got {alpha!r}"
        )


def _check_query(query: str) -> None:
    if not isinstance(query, str):
        raise InvalidArgumentError(f"a keyword query must be a string, got {type(query).__name__}")


def _depth(value: int | None, k: int, name: str) -> int:
    if value is None:
        return max(k, DEFAULT_DEPTH)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgumentError(f"{name} must be a positive integer or None, got {value!r}")
    return value


def _allowed(core: CollectionCore, view: View, where: Filter | None, ids: set[str] | None) -> set[str] | None:
    """The ids a filter and an id list leave, as exact vector search computes them (None: all)."""
    if where is None and ids is None:
        return None
    return set(core.matching_ids(view, where, None, ids))


def _keyword_hits(
    core: CollectionCore,
    view: View,
    query: str,
    k: int,
    allowed: set[str] | None,
    include_vector: bool,
) -> list[ScoredRecord]:
    with core.lock:
        index = view.keyword_index()
        found = index.search(query, k, allowed)
        if not found:
            return []
        top = index.max_score(query)  # > 0: a record matched
        hits = []
        for sid, bm25 in found:
            record = view.records[sid]
            if include_vector:
                record = replace(record, vector=view.vectors.get(sid))
            hits.append(_with_relevance(record, bm25 / top))
        return hits


def _with_relevance(record: Record, relevance: float) -> ScoredRecord:
    relevance = min(1.0, max(0.0, relevance))  # rounding may step just outside
    return ScoredRecord(record, 1.0 - relevance, relevance)


def keyword_search_plan(
    core: CollectionCore,
    client: _BaseClient,
    query: str,
    k: int,
    where: Filter | None,
    ids: Iterable[str] | None,
    timeout: Timeout,
) -> Plan[list[ScoredRecord]]:
    """The ``k`` records passing ``where`` (and within ``ids``) that best match ``query`` by BM25.

    Only records holding a query term come back, so possibly fewer than ``k``.
    """
    check_k(k)
    _check_query(query)
    compile_filter(where)
    wanted = set(check_ids(ids)) if ids is not None else None
    try:
        view = yield from core.view_plan(client, timeout)
    except NotFoundError:
        return []
    return _keyword_hits(core, view, query, k, _allowed(core, view, where, wanted), False)


def hybrid_search_plan(
    core: CollectionCore,
    client: _BaseClient,
    query: str,
    vector: Sequence[float] | np.ndarray,
    k: int,
    where: Filter | None,
    ids: Iterable[str] | None,
    fusion: Fusion,
    alpha: float,
    dense_k: int | None,
    keyword_k: int | None,
    score_threshold: float | None,
    dense_relevance: Callable[[float], float] | None,
    include_vector: bool,
    timeout: Timeout,
) -> Plan[list[ScoredRecord]]:
    """Dense and keyword search over the same records, fused; the best ``k``, highest score first.

    ``score_threshold`` applies to each list before fusing (``dense_relevance`` maps a dense
    hit's distance to the relevance compared, by default :func:`~.records.relevance_score`;
    keyword hits compare their keyword relevance), never to the fused score.
    """
    check_k(k)
    _check_query(query)
    check_fusion(fusion, alpha)
    dense_depth, keyword_depth = _depth(dense_k, k, "dense_k"), _depth(keyword_k, k, "keyword_k")
    query_vector = as_vector(vector)
    compile_filter(where)
    wanted = set(check_ids(ids)) if ids is not None else None
    try:
        view = yield from core.view_plan(client, timeout)
    except NotFoundError:
        return []
    core.check_dimension(view, int(query_vector.shape[0]), "query vector")
    dense = yield from search_view_plan(
        core, client, view, query_vector, dense_depth, where, wanted, include_vector, None, timeout
    )
    keyword = _keyword_hits(
        core, view, query, keyword_depth, _allowed(core, view, where, wanted), include_vector
    )
    if score_threshold is not None:
        to_relevance = dense_relevance or (lambda distance: relevance_score(core.metric, distance))
        dense = [hit for hit in dense if to_relevance(hit.distance) >= score_threshold]
        keyword = [hit for hit in keyword if hit.score >= score_threshold]
    return fuse(dense, keyword, k, fusion, alpha)


def fuse(
    dense: Sequence[ScoredRecord], keyword: Sequence[ScoredRecord], k: int, fusion: Fusion, alpha: float
) -> list[ScoredRecord]:
    """The best ``k`` of two hit lists by ``fusion``, each hit scored by the fused relevance.

    Dense hits are ranked by their ``score`` (a relevance, higher is closer), keyword hits by
    theirs; ``alpha`` weighs the dense list, ``1 - alpha`` the keyword list.
    """
    check_k(k)
    check_fusion(fusion, alpha)
    records = {hit.record.id: hit.record for hit in (*keyword, *dense)}  # dense copies win
    dense_pairs = [(hit.record.id, hit.score) for hit in dense]
    keyword_pairs = [(hit.record.id, hit.score) for hit in keyword]
    if fusion == "relative":
        fused = relative_score_fusion(dense_pairs, keyword_pairs, alpha=alpha, limit=k)
        return [_with_relevance(records[sid], score) for sid, score in fused]
    weights = (alpha, 1.0 - alpha)
    ranked = reciprocal_rank_fusion([dense_pairs, keyword_pairs], weights=weights, limit=k)
    best = sum(weights) / (DEFAULT_RRF_CONSTANT + 1)  # a record ranked first by every list
    return [_with_relevance(records[sid], score / best) for sid, score in ranked]
