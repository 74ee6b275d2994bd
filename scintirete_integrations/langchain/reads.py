"""The reading half of the LangChain store: similarity search, relevance scores, MMR, listing.

:class:`Reads` holds the store's read methods, sync and async; :class:`~.store.ScintireteVectorStore`
is the one class built on it (making the store, writing and deleting are in ``store.py``).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from ..documents import AsyncDocumentCollection, DocumentCollection, ScoredRecord
from ..errors import explain_embedding_failure
from ..models import Metric
from ._records import (
    DEFAULT_BATCH_SIZE,
    DocumentFilter,
    check_batch_size,
    check_id_list,
    check_score_threshold,
    check_window,
    documents_passing,
    either_filter,
    in_order,
    pages,
    reject_extra_search,
    select_ids,
    split_filter,
    to_document,
    window,
)
from .embeddings import PASS_EMBEDDINGS
from .modes import ModeSearch, Retrieval, RetrievalMode, mmr_pick, refuse_keyword_mmr, refuse_vector_mode


def _clip(score: float) -> float:
    return 0.0 if math.isnan(score) else min(1.0, max(0.0, score))


def _cosine_relevance(distance: float) -> float:
    return _clip(VectorStore._cosine_relevance_score_fn(distance))


def _euclidean_relevance(distance: float) -> float:
    return _clip(VectorStore._euclidean_relevance_score_fn(distance))


def _inner_product_relevance(distance: float) -> float:
    # The distance is -dot. LangChain's helper gives dot for dot >= 0 and 1 + dot below, which
    # would rank a dot of -0.9 above one of 0.5; below 0 the relevance here is 0 instead.
    return _clip(VectorStore._max_inner_product_relevance_score_fn(distance) if distance <= 0 else 0.0)


#: Distance -> relevance in [0, 1] per metric: LangChain's own helpers (as Chroma and PGVector
#: use them), clipped to [0, 1], so score thresholds written for those stores carry over.
RELEVANCE_FUNCTIONS: Mapping[Metric, Callable[[float], float]] = {
    Metric.COSINE: _cosine_relevance,
    Metric.L2: _euclidean_relevance,
    Metric.INNER_PRODUCT: _inner_product_relevance,
}


def _relevance_pairs(
    hits: list[ScoredRecord], relevance: Callable[[float], float], score_threshold: float | None
) -> list[tuple[Document, float]]:
    pairs = [(to_document(hit.record), relevance(hit.distance)) for hit in hits]
    if score_threshold is None:
        return pairs
    return [(doc, score) for doc, score in pairs if score >= score_threshold]


# What searches by query text take besides the query; MMR names its own parameters too.
_TEXT_OPTIONS = "k, filter, retrieval_mode, fusion, alpha, fetch_k"
_MMR_OPTIONS = "k, fetch_k, lambda_mult, filter, retrieval_mode, fusion, alpha"


def _scored_documents(hits: list[ScoredRecord]) -> list[tuple[Document, float]]:
    return [(to_document(hit.record), hit.distance) for hit in hits]


class Reads(ModeSearch):
    """The read methods of :class:`~.store.ScintireteVectorStore`: by id, listing, similarity, MMR.

    Every search goes through one sync and one async core (``_search_vector``,
    ``_search_query`` and their twins), which call the document layer; searches by query text
    in keyword or hybrid mode go to the cores of :mod:`.modes`.
    """

    _collection: DocumentCollection
    _async_collection: AsyncDocumentCollection
    _embeddings: Embeddings
    _server_embeds: bool
    _embedding_model: str | None

    # -- reading by id

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents for the ids that exist, in the order asked; unknown ids are skipped."""
        return [to_document(record) for record in self._collection.get(ids)]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return [to_document(record) for record in await self._async_collection.get(ids)]

    # -- listing without a query

    def get(
        self,
        ids: Sequence[str] | None = None,
        filter: DocumentFilter | None = None,
        limit: int | None = None,
        offset: int = 0,
        *,
        where: DocumentFilter | None = None,
    ) -> list[Document]:
        """Stored documents without a query: those among ``ids`` (in that order) that pass ``filter``.

        Without ``ids``, every document passing ``filter`` (a filter dict or a callable, as in
        every other method), oldest write first. ``offset`` documents are skipped and at most
        ``limit`` returned. ``where=`` is an alias of ``filter=`` (Chroma's name). Unlike Chroma's
        ``get``, which returns a dict of columns, this returns ``Document`` objects with their ids::

            store.get(filter={"lang": "en"}, limit=10, offset=20)   # the third page of ten
        """
        check_window(limit, offset)
        check_id_list(ids)
        dict_where, predicate = split_filter(either_filter(filter, where))
        if ids is not None:
            records = (
                self._collection.get(ids)
                if dict_where is None
                else in_order(self._collection.scan(dict_where), ids)
            )
        else:
            wanted = None if predicate is not None or limit is None else offset + limit
            records = self._collection.scan(dict_where, limit=wanted) if wanted != 0 else []
        return window(documents_passing(records, predicate), limit, offset)

    async def aget(
        self,
        ids: Sequence[str] | None = None,
        filter: DocumentFilter | None = None,
        limit: int | None = None,
        offset: int = 0,
        *,
        where: DocumentFilter | None = None,
    ) -> list[Document]:
        """Async :meth:`get`."""
        check_window(limit, offset)
        check_id_list(ids)
        dict_where, predicate = split_filter(either_filter(filter, where))
        if ids is not None:
            records = (
                await self._async_collection.get(ids)
                if dict_where is None
                else in_order(await self._async_collection.scan(dict_where), ids)
            )
        else:
            wanted = None if predicate is not None or limit is None else offset + limit
            records = await self._async_collection.scan(dict_where, limit=wanted) if wanted != 0 else []
        return window(documents_passing(records, predicate), limit, offset)

    def scroll(
        self, filter: DocumentFilter | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[list[Document]]:
        """Every document passing ``filter``, oldest write first, in lists of up to ``batch_size``.

        The set of documents is fixed when iteration starts; writes made while iterating are not
        seen. For exports::

            for page in store.scroll({"lang": "en"}, batch_size=500):
                write_rows(page)
        """
        batch_size = check_batch_size(batch_size)
        dict_where, predicate = split_filter(filter)
        records = self._collection.scan(dict_where)
        yield from pages(records, predicate, batch_size)

    async def ascroll(
        self, filter: DocumentFilter | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[list[Document]]:
        """Async :meth:`scroll`: ``async for page in store.ascroll(...)``."""
        batch_size = check_batch_size(batch_size)
        dict_where, predicate = split_filter(filter)
        records = await self._async_collection.scan(dict_where)
        for page in pages(records, predicate, batch_size):
            yield page

    # -- similarity search: one sync and one async core, every public method goes through them

    def _search_vector(
        self, vector: Sequence[float], k: int, filter: DocumentFilter | None, include_vector: bool = False
    ) -> list[ScoredRecord]:
        where, predicate = split_filter(filter)
        if predicate is None:
            return self._collection.search(vector, k, filter=where, include_vector=include_vector)
        allowed = select_ids(self._collection.scan(), predicate)
        return self._collection.search(vector, k, ids=allowed, include_vector=include_vector)

    async def _asearch_vector(
        self, vector: Sequence[float], k: int, filter: DocumentFilter | None, include_vector: bool = False
    ) -> list[ScoredRecord]:
        where, predicate = split_filter(filter)
        if predicate is None:
            return await self._async_collection.search(vector, k, filter=where, include_vector=include_vector)
        allowed = select_ids(await self._async_collection.scan(), predicate)
        return await self._async_collection.search(vector, k, ids=allowed, include_vector=include_vector)

    def _search_query(
        self, query: str, k: int, filter: DocumentFilter | None, retrieval: Retrieval
    ) -> list[ScoredRecord]:
        self._collection._check_open()  # a closed store fails before any embedding is paid for
        where, predicate = split_filter(filter)  # and so does a bad filter
        if retrieval.mode is not RetrievalMode.DENSE:
            return self._text_hits(query, k, filter, retrieval)
        if self._server_embeds and predicate is None:
            with explain_embedding_failure(PASS_EMBEDDINGS):
                return self._collection.search_text(query, k, filter=where, model=self._embedding_model)
        return self._search_vector(self._embeddings.embed_query(query), k, filter)

    async def _asearch_query(
        self, query: str, k: int, filter: DocumentFilter | None, retrieval: Retrieval
    ) -> list[ScoredRecord]:
        self._collection._check_open()
        where, predicate = split_filter(filter)
        if retrieval.mode is not RetrievalMode.DENSE:
            return await self._atext_hits(query, k, filter, retrieval)
        if self._server_embeds and predicate is None:
            with explain_embedding_failure(PASS_EMBEDDINGS):
                return await self._async_collection.search_text(
                    query, k, filter=where, model=self._embedding_model
                )
        return await self._asearch_vector(await self._embeddings.aembed_query(query), k, filter)

    def similarity_search(
        self, query: str, k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents best matching ``query`` that pass ``filter``, best first.

        ``retrieval_mode=`` (``"dense"``, ``"keyword"``, ``"hybrid"``), ``fusion=``, ``alpha=`` and
        ``fetch_k=`` override the store's settings for this call (see :mod:`.modes`)::

            store.similarity_search("ERR_4031 on disk", k=3, retrieval_mode="hybrid", alpha=0.3)
        """
        reject_extra_search("similarity_search", kwargs, _TEXT_OPTIONS)
        hits = self._search_query(query, k, filter, self._retrieval.per_call(kwargs))
        return [to_document(hit.record) for hit in hits]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search`."""
        reject_extra_search("asimilarity_search", kwargs, _TEXT_OPTIONS)
        hits = await self._asearch_query(query, k, filter, self._retrieval.per_call(kwargs))
        return [to_document(hit.record) for hit in hits]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, distance)`` pairs, closest first. The score is the server's distance: LOWER is closer.

        In keyword and hybrid mode it is ``1 - relevance`` (still lower is better; see :mod:`.modes`).
        For relevance scores in [0, 1] (higher is closer) use :meth:`similarity_search_with_relevance_scores`.
        """
        reject_extra_search("similarity_search_with_score", kwargs, _TEXT_OPTIONS)
        return _scored_documents(self._search_query(query, k, filter, self._retrieval.per_call(kwargs)))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score` (distances, lower is closer)."""
        reject_extra_search("asimilarity_search_with_score", kwargs, _TEXT_OPTIONS)
        hits = await self._asearch_query(query, k, filter, self._retrieval.per_call(kwargs))
        return _scored_documents(hits)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents nearest to the vector ``embedding`` that pass ``filter``, closest first."""
        reject_extra_search("similarity_search_by_vector", kwargs, "k, filter")
        refuse_vector_mode("similarity_search_by_vector", kwargs)
        return [to_document(hit.record) for hit in self._search_vector(embedding, k, filter)]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`."""
        reject_extra_search("asimilarity_search_by_vector", kwargs, "k, filter")
        refuse_vector_mode("asimilarity_search_by_vector", kwargs)
        return [to_document(hit.record) for hit in await self._asearch_vector(embedding, k, filter)]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, distance)`` pairs nearest to the vector ``embedding``; LOWER is closer."""
        reject_extra_search("similarity_search_with_score_by_vector", kwargs, "k, filter")
        refuse_vector_mode("similarity_search_with_score_by_vector", kwargs)
        return _scored_documents(self._search_vector(embedding, k, filter))

    async def asimilarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score_by_vector`."""
        reject_extra_search("asimilarity_search_with_score_by_vector", kwargs, "k, filter")
        refuse_vector_mode("asimilarity_search_with_score_by_vector", kwargs)
        return _scored_documents(await self._asearch_vector(embedding, k, filter))

    def similarity_search_with_relevance_scores_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: DocumentFilter | None = None,
        *,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """``(document, relevance)`` pairs for the vector ``embedding``, relevance in [0, 1], higher is closer.

        The scores are those of :meth:`similarity_search_with_relevance_scores` (see
        :data:`RELEVANCE_FUNCTIONS`); pairs below ``score_threshold`` are dropped.
        """
        reject_extra_search("similarity_search_with_relevance_scores_by_vector", kwargs, "k, filter")
        refuse_vector_mode("similarity_search_with_relevance_scores_by_vector", kwargs)
        hits = self._search_vector(embedding, k, filter)
        return _relevance_pairs(
            hits, self._select_relevance_score_fn(), check_score_threshold(score_threshold)
        )

    async def asimilarity_search_with_relevance_scores_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: DocumentFilter | None = None,
        *,
        score_threshold: float | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_relevance_scores_by_vector`."""
        reject_extra_search("asimilarity_search_with_relevance_scores_by_vector", kwargs, "k, filter")
        refuse_vector_mode("asimilarity_search_with_relevance_scores_by_vector", kwargs)
        hits = await self._asearch_vector(embedding, k, filter)
        return _relevance_pairs(
            hits, self._select_relevance_score_fn(), check_score_threshold(score_threshold)
        )

    def similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, relevance)`` pairs for ``query``, relevance in [0, 1], higher is closer.

        Takes ``filter=``, ``score_threshold=`` (pairs below it are dropped) and the retrieval
        settings of :meth:`similarity_search`. In keyword mode the relevance is the keyword
        relevance; in hybrid mode the threshold applies to each list before fusing and the fused
        score is returned (see :mod:`.modes`)::

            store.similarity_search_with_relevance_scores("France", k=3, score_threshold=0.5)
        """
        threshold = check_score_threshold(kwargs.get("score_threshold"))
        retrieval = self._retrieval.per_call(kwargs)
        if retrieval.mode is RetrievalMode.DENSE:
            return super().similarity_search_with_relevance_scores(
                query, k, **{**kwargs, "score_threshold": threshold}
            )
        reject_extra_search("similarity_search_with_relevance_scores", kwargs, _TEXT_OPTIONS)
        self._collection._check_open()
        hits = self._text_hits(query, k, kwargs.get("filter"), retrieval, threshold)
        return [(to_document(hit.record), hit.score) for hit in hits]

    async def asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_relevance_scores`."""
        threshold = check_score_threshold(kwargs.get("score_threshold"))
        retrieval = self._retrieval.per_call(kwargs)
        if retrieval.mode is RetrievalMode.DENSE:
            return await super().asimilarity_search_with_relevance_scores(
                query, k, **{**kwargs, "score_threshold": threshold}
            )
        reject_extra_search("asimilarity_search_with_relevance_scores", kwargs, _TEXT_OPTIONS)
        self._collection._check_open()
        hits = await self._atext_hits(query, k, kwargs.get("filter"), retrieval, threshold)
        return [(to_document(hit.record), hit.score) for hit in hits]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        # LangChain's similarity_search_with_relevance_scores (and the score-threshold retriever)
        # maps our distances through this: LangChain's own helper for the metric, clipped to [0, 1].
        return RELEVANCE_FUNCTIONS[self._collection.metric]

    # -- maximal marginal relevance

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: DocumentFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Maximal marginal relevance: ``k`` diverse documents among the ``fetch_k`` nearest.

        ``lambda_mult`` 1 is pure relevance, 0 pure diversity; the selection is the document layer's.
        """
        reject_extra_search(
            "max_marginal_relevance_search_by_vector", kwargs, "k, fetch_k, lambda_mult, filter"
        )
        refuse_vector_mode("max_marginal_relevance_search_by_vector", kwargs)
        where, predicate = split_filter(filter)
        if predicate is None:
            hits = self._collection.mmr(embedding, k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=where)
        else:
            candidates = self._search_vector(embedding, max(k, fetch_k), predicate, include_vector=True)
            hits = mmr_pick(embedding, candidates, k, lambda_mult)
        return [to_document(hit.record) for hit in hits]

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: DocumentFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`."""
        reject_extra_search(
            "amax_marginal_relevance_search_by_vector", kwargs, "k, fetch_k, lambda_mult, filter"
        )
        refuse_vector_mode("amax_marginal_relevance_search_by_vector", kwargs)
        where, predicate = split_filter(filter)
        if predicate is None:
            hits = await self._async_collection.mmr(
                embedding, k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=where
            )
        else:
            candidates = await self._asearch_vector(
                embedding, max(k, fetch_k), predicate, include_vector=True
            )
            hits = mmr_pick(embedding, candidates, k, lambda_mult)
        return [to_document(hit.record) for hit in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: DocumentFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` diverse documents for ``query``; see :meth:`max_marginal_relevance_search_by_vector`.

        In hybrid mode (``retrieval_mode=``, or the store's) the candidates are the ``fetch_k``
        best fused documents, among which MMR weighs similarity to the query's vector against
        diversity as in dense mode; keyword mode raises (both are measured between vectors).
        """
        reject_extra_search("max_marginal_relevance_search", kwargs, _MMR_OPTIONS)
        retrieval = self._retrieval.per_call({**kwargs, "fetch_k": fetch_k})
        if retrieval.mode is RetrievalMode.KEYWORD:
            refuse_keyword_mmr("max_marginal_relevance_search")
        self._collection._check_open()  # a closed store or a bad filter fails before any embedding
        split_filter(filter)
        vector = self._embeddings.embed_query(query)
        if retrieval.mode is RetrievalMode.DENSE:
            return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)
        hits = self._hybrid_mmr(query, vector, k, lambda_mult, filter, retrieval)
        return [to_document(hit.record) for hit in hits]

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: DocumentFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`."""
        reject_extra_search("amax_marginal_relevance_search", kwargs, _MMR_OPTIONS)
        retrieval = self._retrieval.per_call({**kwargs, "fetch_k": fetch_k})
        if retrieval.mode is RetrievalMode.KEYWORD:
            refuse_keyword_mmr("amax_marginal_relevance_search")
        self._collection._check_open()
        split_filter(filter)
        vector = await self._embeddings.aembed_query(query)
        if retrieval.mode is RetrievalMode.DENSE:
            return await self.amax_marginal_relevance_search_by_vector(
                vector, k, fetch_k, lambda_mult, filter
            )
        hits = await self._ahybrid_mmr(query, vector, k, lambda_mult, filter, retrieval)
        return [to_document(hit.record) for hit in hits]
