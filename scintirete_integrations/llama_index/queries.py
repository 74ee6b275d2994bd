"""``VectorStoreQuery`` -> what the document layer is asked: mode, filters, restrictions, depths.

Modes: ``default`` (dense), ``mmr``, ``text_search`` and ``sparse`` (both BM25 keyword search on
``query_str``; no embedding is read), and ``hybrid`` (dense and keyword, fused with ``alpha``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llama_index.core.vector_stores.types import (
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)

from ..documents import ScoredRecord
from ..errors import InvalidArgumentError
from ..models import Metric
from .metadata_filters import metadata_filters_to_filter
from .nodes import REF_DOC_KEY, query_result, relevance_result

# Every mode the store answers. SPARSE is the same BM25 ranking as TEXT_SEARCH: there are no
# learned sparse vectors here, and a caller asking for sparse retrieval wants keyword matching.
_SUPPORTED_MODES = (
    VectorStoreQueryMode.DEFAULT,
    VectorStoreQueryMode.MMR,
    VectorStoreQueryMode.TEXT_SEARCH,
    VectorStoreQueryMode.SPARSE,
    VectorStoreQueryMode.HYBRID,
)
_KEYWORD_MODES = (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.SPARSE)
_MODES = {mode.value: mode for mode in VectorStoreQueryMode}  # a mode given as a plain string counts too
_QUERY_KWARGS = ("mmr_threshold", "mmr_prefetch_k", "mmr_prefetch_factor")
_DEFAULT_MMR_LAMBDA = 0.5
_DEFAULT_MMR_PREFETCH_FACTOR = 4.0
DEFAULT_ALPHA = 0.5  # LlamaIndex's convention: 1 is dense only, 0 keyword only

SearchKind = Literal["dense", "mmr", "keyword", "hybrid"]


@dataclass(frozen=True)
class _Search:
    """What the document layer is asked for one ``VectorStoreQuery``.

    ``k`` is how many nodes come back; a hybrid search takes ``k`` fused from the ``dense_k``
    nearest and the ``keyword_k`` best keyword matches.
    """

    kind: SearchKind
    vector: list[float] | None
    text: str
    k: int
    filter: dict[str, Any] | None
    ids: list[str] | None
    fetch_k: int = 0
    lambda_mult: float = _DEFAULT_MMR_LAMBDA
    alpha: float = DEFAULT_ALPHA
    dense_k: int | None = None
    keyword_k: int | None = None

    @property
    def mmr(self) -> bool:
        return self.kind == "mmr"

    def layer_call(self, fusion: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """The document-layer method to call, and its arguments: the same for both facades, so
        the store's ``query`` and ``aquery`` differ only in awaiting it."""
        where = {"filter": self.filter, "ids": self.ids}
        if self.kind == "keyword":
            return "search_keywords", (self.text, self.k), where
        if self.kind == "hybrid":
            depths = {"dense_k": self.dense_k, "keyword_k": self.keyword_k}
            options = {**where, "fusion": fusion, "alpha": self.alpha, **depths}
            return "search_hybrid", (self.text, self.vector, self.k), options
        if self.kind == "mmr":
            options = {"fetch_k": self.fetch_k, "lambda_mult": self.lambda_mult, **where}
            return "mmr", (self.vector, self.k), options
        return "search", (self.vector, self.k), where

    def result(self, hits: Sequence[ScoredRecord], metric: Metric | str) -> VectorStoreQueryResult:
        """The hits as LlamaIndex reports them: relevance for keyword and hybrid, similarity else."""
        if self.kind in ("keyword", "hybrid"):
            return relevance_result(hits)
        return query_result(hits, metric)


def _top_k(value: int | None, default: int) -> int:
    return default if value is None else value


def _plan_search(query: VectorStoreQuery, kwargs: Mapping[str, Any]) -> _Search:
    """Check a query and turn it into document-layer arguments; raises on anything unsupported."""
    unknown = sorted(set(kwargs) - set(_QUERY_KWARGS))
    if unknown:
        raise InvalidArgumentError(
            f"unknown query keyword argument(s) {', '.join(unknown)}; supported: {', '.join(_QUERY_KWARGS)}"
        )
    mode = _MODES.get(query.mode)
    if mode not in _SUPPORTED_MODES:
        raise InvalidArgumentError(
            f"query mode {mode.value if mode else query.mode!r} is not supported by ScintireteVectorStore; supported: "
            f"{', '.join(repr(m.value) for m in _SUPPORTED_MODES)} (dense vector search, MMR, BM25 "
            "keyword search for 'text_search' and 'sparse', and hybrid dense + keyword search)"
        )
    keyword_only = mode in _KEYWORD_MODES
    if not keyword_only and query.query_embedding is None:
        raise InvalidArgumentError(
            f"VectorStoreQuery.query_embedding is required in mode {mode.value!r}: it searches by vector "
            "(for a search by query_str alone use mode 'text_search')"
        )
    if mode in (*_KEYWORD_MODES, VectorStoreQueryMode.HYBRID) and not isinstance(query.query_str, str):
        raise InvalidArgumentError(
            f"VectorStoreQuery.query_str is required in mode {mode.value!r}: its keywords are matched"
        )
    where = metadata_filters_to_filter(query.filters)
    if query.doc_ids:
        by_doc = {REF_DOC_KEY: {"$in": list(query.doc_ids)}}
        where = by_doc if where is None else {"$and": [where, by_doc]}
    k = query.similarity_top_k
    common: dict[str, Any] = {
        "vector": None if query.query_embedding is None else list(query.query_embedding),
        "text": query.query_str or "",
        "filter": where,
        "ids": list(query.node_ids) if query.node_ids else None,
    }
    if mode == VectorStoreQueryMode.TEXT_SEARCH:
        return _Search("keyword", k=k, **common)
    if mode == VectorStoreQueryMode.SPARSE:  # as LlamaIndex's Qdrant store reads it
        return _Search("keyword", k=_top_k(query.sparse_top_k, k), **common)
    if mode == VectorStoreQueryMode.HYBRID:
        return _Search(
            "hybrid",
            k=_top_k(query.hybrid_top_k, k),
            alpha=DEFAULT_ALPHA if query.alpha is None else float(query.alpha),
            dense_k=k,
            keyword_k=_top_k(query.sparse_top_k, k),
            **common,
        )
    lambda_mult = query.mmr_threshold if query.mmr_threshold is not None else kwargs.get("mmr_threshold")
    prefetch_k = kwargs.get("mmr_prefetch_k")
    if prefetch_k is None:
        prefetch_k = math.ceil(k * float(kwargs.get("mmr_prefetch_factor", _DEFAULT_MMR_PREFETCH_FACTOR)))
    return _Search(
        "mmr" if mode == VectorStoreQueryMode.MMR else "dense",
        k=k,
        fetch_k=int(prefetch_k),
        lambda_mult=_DEFAULT_MMR_LAMBDA if lambda_mult is None else float(lambda_mult),
        **common,
    )
