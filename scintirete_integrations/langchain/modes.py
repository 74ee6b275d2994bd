"""Retrieval modes of the LangChain store: dense (vectors), keyword (BM25) and hybrid (both, fused).

The store's mode is set once (``ScintireteVectorStore(..., retrieval_mode="hybrid")``) and every
search by query text also takes ``retrieval_mode=``, ``fusion=``, ``alpha=`` and ``fetch_k=``
per call, which is how a retriever differs from its store::

    store.as_retriever(search_kwargs={"retrieval_mode": "hybrid", "alpha": 0.3, "k": 5})

The ranking is the document layer's (:meth:`~..documents.DocumentCollection.search_keywords`,
:meth:`~..documents.DocumentCollection.search_hybrid`), the same on Lite and on a server. This
module holds the mode settings and the keyword and hybrid search cores the read methods call.

Scores (``docs/keyword-retrieval.md``, "What scores mean"):

- keyword: relevance ``bm25 / max_score(query)`` in [0, 1), higher is better;
- hybrid: the fused value in [0, 1]: ``alpha * dense + (1 - alpha) * keyword`` of min-max
  normalised scores, or, with ``fusion="rrf"``, reciprocal rank fusion scaled so a document
  ranked first by both lists scores 1. It orders one query's results; it is not a similarity.
- ``similarity_search_with_score`` returns ``1 - relevance`` in both modes, so its scores keep
  their direction (lower is closer) whatever the mode.
- ``score_threshold`` applies to the keyword relevance in keyword mode, and in hybrid mode to
  each list before fusing (dense hits by the same relevance as dense mode, keyword hits by
  their keyword relevance): a document must clear it in one list to be fused at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from ..documents import AsyncDocumentCollection, DocumentCollection, ScoredRecord, maximal_marginal_relevance
from ..documents.hybrid import Fusion, check_fusion
from ..errors import InvalidArgumentError
from ._records import DocumentFilter, select_ids, split_filter


class RetrievalMode(StrEnum):
    """How a search by query text ranks documents, as in langchain-qdrant.

    - ``DENSE``: by the query's embedding (the default);
    - ``KEYWORD``: by BM25 over the documents' texts; nothing is embedded;
    - ``HYBRID``: both, fused (relative score fusion with ``alpha``, or RRF).
    """

    DENSE = "dense"
    KEYWORD = "keyword"
    HYBRID = "hybrid"


def parse_mode(value: RetrievalMode | str) -> RetrievalMode:
    """``value`` (an enum member or its string, any case) as a :class:`RetrievalMode`."""
    if isinstance(value, RetrievalMode):
        return value
    if isinstance(value, str):
        for mode in RetrievalMode:
            if value.lower() == mode.value:
                return mode
    names = ", ".join(repr(mode.value) for mode in RetrievalMode)
    raise InvalidArgumentError(f"retrieval_mode must be one of {names} (or a RetrievalMode), got {value!r}")


@dataclass(frozen=True)
class Retrieval:
    """The settings of one search: mode, fusion, alpha, and the depth of each list (None: default)."""

    mode: RetrievalMode = RetrievalMode.DENSE
    fusion: Fusion = "relative"
    alpha: float = 0.5
    fetch_k: int | None = None

    @classmethod
    def make(cls, mode: RetrievalMode | str, fusion: Fusion, alpha: float) -> Retrieval:
        check_fusion(fusion, alpha)
        return cls(parse_mode(mode), fusion, float(alpha))

    def per_call(self, kwargs: Mapping[str, Any]) -> Retrieval:
        """These settings with a call's ``retrieval_mode=``, ``fusion=``, ``alpha=`` and ``fetch_k=``."""
        mode = kwargs.get("retrieval_mode")
        fusion = kwargs.get("fusion", self.fusion)
        alpha = kwargs.get("alpha", self.alpha)
        check_fusion(fusion, alpha)
        fetch_k = kwargs.get("fetch_k")
        if fetch_k is not None and (
            isinstance(fetch_k, bool) or not isinstance(fetch_k, int) or fetch_k <= 0
        ):
            raise InvalidArgumentError(f"fetch_k must be a positive integer, got {fetch_k!r}")
        return replace(
            self,
            mode=self.mode if mode is None else parse_mode(mode),
            fusion=fusion,
            alpha=float(alpha),
            fetch_k=fetch_k,
        )


def refuse_vector_mode(method: str, kwargs: Mapping[str, Any]) -> None:
    """A search by vector asked for keyword or hybrid retrieval: there is no text to match."""
    mode = kwargs.get("retrieval_mode")
    if mode is not None and parse_mode(mode) is not RetrievalMode.DENSE:
        raise InvalidArgumentError(
            f"{method}() searches by a vector, which is dense retrieval only: retrieval_mode="
            f"{parse_mode(mode).value!r} needs the query text to match keywords against. Call the "
            f"query-text form ({method.replace('_by_vector', '')}(query, retrieval_mode=...)) instead, "
            "or leave retrieval_mode out"
        )


def refuse_keyword_mmr(method: str) -> None:
    raise InvalidArgumentError(
        f"{method}() re-ranks candidates by their vectors' diversity, so it needs dense or hybrid "
        "retrieval, not keyword: pass retrieval_mode='hybrid' (MMR over the fused candidates) or "
        "'dense', or use similarity_search(query, retrieval_mode='keyword')"
    )


def mmr_pick(
    query: Sequence[float], candidates: list[ScoredRecord], k: int, lambda_mult: float
) -> list[ScoredRecord]:
    """MMR over candidates fetched with their vectors; the selection is the document layer's."""
    if not candidates:
        return []
    matrix = np.stack([np.asarray(hit.record.vector, dtype=np.float32) for hit in candidates])
    order = maximal_marginal_relevance(query, matrix, k, lambda_mult)
    return [candidates[i] for i in order]


def _at_least(hits: list[ScoredRecord], score_threshold: float | None) -> list[ScoredRecord]:
    return hits if score_threshold is None else [hit for hit in hits if hit.score >= score_threshold]


class ModeSearch(VectorStore):
    """Keyword and hybrid search cores, sync and async, shared by every read method."""

    _collection: DocumentCollection
    _async_collection: AsyncDocumentCollection
    _embeddings: Embeddings
    _retrieval: Retrieval

    @property
    def retrieval_mode(self) -> RetrievalMode:
        """The store's retrieval mode for searches by query text (a call may choose another)."""
        return self._retrieval.mode

    def _text_hits(
        self,
        query: str,
        k: int,
        filter: DocumentFilter | None,
        retrieval: Retrieval,
        score_threshold: float | None = None,
    ) -> list[ScoredRecord]:
        """Keyword or hybrid hits for ``query``; keyword mode embeds nothing."""
        if retrieval.mode is RetrievalMode.KEYWORD:
            return _at_least(self._keyword_hits(query, k, filter), score_threshold)
        vector = self._embeddings.embed_query(query)
        return self._hybrid_hits(query, vector, k, filter, retrieval, score_threshold)

    async def _atext_hits(
        self,
        query: str,
        k: int,
        filter: DocumentFilter | None,
        retrieval: Retrieval,
        score_threshold: float | None = None,
    ) -> list[ScoredRecord]:
        if retrieval.mode is RetrievalMode.KEYWORD:
            return _at_least(await self._akeyword_hits(query, k, filter), score_threshold)
        vector = await self._embeddings.aembed_query(query)
        return await self._ahybrid_hits(query, vector, k, filter, retrieval, score_threshold)

    def _keyword_hits(self, query: str, k: int, filter: DocumentFilter | None) -> list[ScoredRecord]:
        where, predicate = split_filter(filter)
        if predicate is None:
            return self._collection.search_keywords(query, k, filter=where)
        allowed = select_ids(self._collection.scan(), predicate)
        return self._collection.search_keywords(query, k, ids=allowed)

    async def _akeyword_hits(self, query: str, k: int, filter: DocumentFilter | None) -> list[ScoredRecord]:
        where, predicate = split_filter(filter)
        if predicate is None:
            return await self._async_collection.search_keywords(query, k, filter=where)
        allowed = select_ids(await self._async_collection.scan(), predicate)
        return await self._async_collection.search_keywords(query, k, ids=allowed)

    def _hybrid_hits(
        self,
        query: str,
        vector: list[float],
        k: int,
        filter: DocumentFilter | None,
        retrieval: Retrieval,
        score_threshold: float | None = None,
        include_vector: bool = False,
    ) -> list[ScoredRecord]:
        where, predicate = split_filter(filter)
        allowed = None if predicate is None else select_ids(self._collection.scan(), predicate)
        options = self._hybrid_options(retrieval, score_threshold, include_vector)
        return self._collection.search_hybrid(query, vector, k, filter=where, ids=allowed, **options)

    async def _ahybrid_hits(
        self,
        query: str,
        vector: list[float],
        k: int,
        filter: DocumentFilter | None,
        retrieval: Retrieval,
        score_threshold: float | None = None,
        include_vector: bool = False,
    ) -> list[ScoredRecord]:
        where, predicate = split_filter(filter)
        allowed = None if predicate is None else select_ids(await self._async_collection.scan(), predicate)
        options = self._hybrid_options(retrieval, score_threshold, include_vector)
        return await self._async_collection.search_hybrid(
            query, vector, k, filter=where, ids=allowed, **options
        )

    def _hybrid_options(
        self, retrieval: Retrieval, score_threshold: float | None, include_vector: bool
    ) -> dict[str, Any]:
        """The layer's hybrid-search options for ``retrieval``, shared by both facades."""
        return {
            "fusion": retrieval.fusion,
            "alpha": retrieval.alpha,
            "dense_k": retrieval.fetch_k,
            "keyword_k": retrieval.fetch_k,
            "score_threshold": score_threshold,
            "dense_relevance": self._select_relevance_score_fn(),
            "include_vector": include_vector,
        }

    def _hybrid_mmr(
        self,
        query: str,
        vector: list[float],
        k: int,
        lambda_mult: float,
        filter: DocumentFilter | None,
        retrieval: Retrieval,
    ) -> list[ScoredRecord]:
        """MMR over the ``retrieval.fetch_k`` best fused candidates (each list that deep)."""
        depth = max(k, retrieval.fetch_k or k)
        candidates = self._hybrid_hits(query, vector, depth, filter, retrieval, include_vector=True)
        return mmr_pick(vector, candidates, k, lambda_mult)

    async def _ahybrid_mmr(
        self,
        query: str,
        vector: list[float],
        k: int,
        lambda_mult: float,
        filter: DocumentFilter | None,
        retrieval: Retrieval,
    ) -> list[ScoredRecord]:
        depth = max(k, retrieval.fetch_k or k)
        candidates = await self._ahybrid_hits(query, vector, depth, filter, retrieval, include_vector=True)
        return mmr_pick(vector, candidates, k, lambda_mult)
