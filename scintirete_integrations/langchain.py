"""LangChain integration: a vector store, server-side embeddings and a self-query translator.

Install with the ``langchain`` extra (``pip install "scintirete-integrations[langchain]"``)::

    from langchain_core.documents import Document
    from scintirete_integrations.langchain import ScintireteVectorStore

    store = ScintireteVectorStore(my_embeddings, collection_name="notes")   # embedded Lite server
    store.add_documents([Document("the cat sat", metadata={"year": 2024}, id="a")])
    store.similarity_search("cat", k=1, filter={"year": {"$gte": 2020}})
    store.as_retriever(search_type="mmr", search_kwargs={"k": 3}).invoke("cats")

Everything here is a thin shell over :mod:`scintirete_integrations.documents`, which owns
string ids, metadata encoding, filtering, scores and MMR; this module only converts between
LangChain ``Document`` objects and the layer's ``Record`` objects.

- :class:`ScintireteVectorStore`: the ``VectorStore``, natively sync and async.
- :class:`ScintireteEmbeddings`: ``Embeddings`` computed by the server's ``EmbedText`` RPC.
- :class:`ScintireteTranslator`: turns a ``StructuredQuery`` (from a ``SelfQueryRetriever``)
  into the document layer's Mongo-style filter dict.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Self, TypeAlias

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.structured_query import (
    Comparator,
    Comparison,
    Operation,
    Operator,
    StructuredQuery,
    Visitor,
)
from langchain_core.vectorstores import VectorStore

from . import filters
from ._metadata import encode_metadata
from ._progress import Progress, ProgressArg
from .client import USE_CLIENT_DEFAULT, AsyncScintireteClient, ScintireteClient, Timeout, check_unicode
from .documents import (
    AsyncDocumentCollection,
    ClosesWhatItMade,
    DocumentCollection,
    Record,
    ScoredRecord,
    maximal_marginal_relevance,
    new_id,
    resolve_clients,
)
from .errors import InvalidArgumentError, NotFoundError, explain_embedding_failure
from .filters import Filter
from .models import CollectionInfo, Metric

__all__ = ["RELEVANCE_FUNCTIONS", "ScintireteEmbeddings", "ScintireteTranslator", "ScintireteVectorStore"]

#: What ``filter=`` accepts: the document layer's Mongo-style dict, or a predicate over Documents.
DocumentFilter: TypeAlias = Filter | Callable[[Document], bool]

_DEFAULT_BATCH_SIZE = 256
_log = logging.getLogger(__name__)
# Added to the server's "failed to get embeddings" when the store or ScintireteEmbeddings asked it to embed.
_PASS_EMBEDDINGS = (
    "a store given no embedding (and ScintireteEmbeddings) embed on the server: pass a LangChain "
    "Embeddings object, e.g. ScintireteVectorStore(OpenAIEmbeddings(), ...), or configure an "
    "embedding model on the server"
)

# Connection arguments of the constructor, resolved together by documents.resolve_clients.
_CONNECTION_KEYS = ("address", "password", "data_dir", "client", "async_client")


# -- pure helpers shared by the sync and async methods ------------------------------------------------


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (what record metadata is), about 3x cheaper than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value  # str, int, float, bool, None: immutable


def _to_document(record: Record) -> Document:
    # A copy: the layer's cached records must not change when a caller edits a returned Document.
    return Document(page_content=record.text, metadata=_copy_json(dict(record.metadata)), id=record.id)


def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidArgumentError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def _reject_extra(method: str, kwargs: Mapping[str, Any], supported: str) -> None:
    # A misspelt option (filters=, top_k=) silently ignored would return wrong results.
    if kwargs:
        names = ", ".join(sorted(kwargs))
        raise TypeError(f"{method}() got unexpected keyword argument(s) {names}; supported: {supported}")


#: What the retriever's search types pass on (similarity, mmr, similarity_score_threshold). A
#: retriever whose search_type was changed keeps its search_kwargs, so every search method
#: accepts these and ignores the ones it has no use for, as peer stores do.
_SEARCH_TYPE_KEYS = frozenset({"k", "filter", "fetch_k", "lambda_mult", "score_threshold"})


def _reject_extra_search(method: str, kwargs: Mapping[str, Any], supported: str) -> None:
    _reject_extra(
        method, {key: value for key, value in kwargs.items() if key not in _SEARCH_TYPE_KEYS}, supported
    )


def _records(
    texts: Iterable[str],
    metadatas: Iterable[Mapping[str, Any] | None] | None,
    ids: Iterable[str | None] | None,
    batch_size: int,
) -> list[Record]:
    """Records for one add call; each input is iterated exactly once, so generators work.

    Missing ids (None or "") get :func:`new_id`. Metadata dicts are referenced, never modified:
    the document layer encodes a copy.
    """
    if isinstance(texts, str):
        raise InvalidArgumentError("texts must be an iterable of strings, not a single string")
    if isinstance(ids, str):
        raise InvalidArgumentError("ids must be a list of strings, not a single string")
    text_list = list(texts)
    for index, text in enumerate(text_list):
        if not isinstance(text, str):
            raise InvalidArgumentError(f"texts[{index}] must be a string, got {type(text).__name__}")
        check_unicode(text, f"texts[{index}]")
    # As in LangChain's base class, an empty metadatas or ids list means "none given".
    metadata_list = list(metadatas) if metadatas is not None else []
    id_list = list(ids) if ids is not None else []
    if metadata_list and len(metadata_list) != len(text_list):
        raise InvalidArgumentError(
            f"got {len(metadata_list)} metadatas for {len(text_list)} texts; give one per text (or none)"
        )
    if id_list and len(id_list) != len(text_list):
        raise InvalidArgumentError(
            f"got {len(id_list)} ids for {len(text_list)} texts; give one per text (or none)"
        )
    records: list[Record] = []
    seen: set[str] = set()
    for index, text in enumerate(text_list):
        metadata = metadata_list[index] if metadata_list else None
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgumentError(f"metadatas[{index}] must be a dict, got {type(metadata).__name__}")
        if len(text_list) > batch_size:  # several writes: refuse bad metadata before the first one
            encode_metadata(metadata)
        sid = id_list[index] if id_list else None
        sid = sid or new_id()
        if not isinstance(sid, str):
            raise InvalidArgumentError(f"ids[{index}] must be a string, got {type(sid).__name__}")
        # Checked over the whole call, not per batch, so the outcome never depends on batch_size.
        if sid in seen:
            raise InvalidArgumentError(f"id {sid!r} appears twice in one call; ids must be unique")
        seen.add(sid)
        records.append(Record(sid, text, None, metadata if metadata is not None else {}))
    return records


def _documents_input(
    documents: Iterable[Document], ids: Sequence[str | None] | None
) -> tuple[list[str], list[Mapping[str, Any]], list[str | None]]:
    """Texts, metadatas and ids of ``documents``; explicit ``ids`` win over ``Document.id``."""
    docs = list(documents)
    for index, doc in enumerate(docs):
        if not isinstance(doc, Document):
            raise InvalidArgumentError(f"documents[{index}] must be a Document, got {type(doc).__name__}")
    doc_ids: list[str | None] = list(ids) if ids else [doc.id for doc in docs]
    return [doc.page_content for doc in docs], [doc.metadata for doc in docs], doc_ids


def _batches(records: list[Record], batch_size: int) -> Iterable[list[Record]]:
    for start in range(0, len(records), batch_size):
        yield records[start : start + batch_size]


def _with_vectors(records: list[Record], vectors: Sequence[Sequence[float]]) -> list[Record]:
    if len(vectors) != len(records):
        raise InvalidArgumentError(
            f"the embedding model returned {len(vectors)} vectors for {len(records)} texts"
        )
    return [replace(record, vector=vector) for record, vector in zip(records, vectors, strict=True)]


def _canonical(metadata: Mapping[str, Any]) -> str:
    # JSON tells 1 from 1.0 and True from 1, as the layer's exact metadata does.
    return json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _same_metadata(stored: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    try:
        return _canonical(stored) == _canonical(given)
    except (TypeError, ValueError):  # not JSON-shaped: the write will say what is wrong with it
        return False


def _changed(batch: list[Record], stored: Iterable[Record]) -> list[Record]:
    """The records of ``batch`` that are not already stored with the same text, group and metadata."""
    by_id = {record.id: record for record in stored}
    return [
        record
        for record in batch
        if (old := by_id.get(record.id)) is None
        or old.text != record.text
        or old.group != record.group
        or not _same_metadata(old.metadata, record.metadata)
    ]


def _vector_list(embeddings: Iterable[Sequence[float]], count: int) -> list[Sequence[float]]:
    if isinstance(embeddings, str):
        raise InvalidArgumentError("embeddings must be a list of vectors, not a string")
    vectors = list(embeddings)
    if len(vectors) != count:
        raise InvalidArgumentError(f"got {len(vectors)} embeddings for {count} texts; give one per text")
    return vectors


def _split_pairs(text_embeddings: Iterable[tuple[str, Sequence[float]]]) -> tuple[list[str], list[Any]]:
    pairs = list(text_embeddings)
    for index, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidArgumentError(
                f"text_embeddings[{index}] must be a (text, vector) pair, got {pair!r}"
            )
    return [text for text, _ in pairs], [vector for _, vector in pairs]


def _check_window(limit: int | None, offset: int) -> None:
    for name, value in (("limit", limit), ("offset", offset)):
        if value is None and name == "limit":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgumentError(f"{name} must be a non-negative integer, got {value!r}")


def _check_id_list(ids: Sequence[str] | None) -> None:
    if isinstance(ids, str):
        raise InvalidArgumentError("ids must be a list of strings, not a single string")


def _window(documents: list[Document], limit: int | None, offset: int) -> list[Document]:
    return documents[offset:] if limit is None else documents[offset : offset + limit]


def _in_order(records: Iterable[Record], ids: Sequence[str]) -> list[Record]:
    """The records whose id is in ``ids``, in the order of ``ids``."""
    by_id = {record.id: record for record in records}
    return [by_id[sid] for sid in ids if sid in by_id]


def _documents_passing(
    records: Iterable[Record], predicate: Callable[[Document], bool] | None
) -> list[Document]:
    documents = (_to_document(record) for record in records)
    return [doc for doc in documents if predicate is None or predicate(doc)]


def _pages(
    records: list[Record], predicate: Callable[[Document], bool] | None, size: int
) -> Iterator[list[Document]]:
    page: list[Document] = []
    for record in records:
        doc = _to_document(record)
        if predicate is None or predicate(doc):
            page.append(doc)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


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
    pairs = [(_to_document(hit.record), relevance(hit.distance)) for hit in hits]
    if score_threshold is None:
        return pairs
    return [(doc, score) for doc, score in pairs if score >= score_threshold]


def _split_filter(filter: DocumentFilter | None) -> tuple[Filter | None, Callable[[Document], bool] | None]:
    """(Mongo-style dict, document predicate): at most one is set."""
    if filter is None or isinstance(filter, Mapping):
        filters.validate(filter)
        return filter, None
    if callable(filter):
        return None, filter
    raise InvalidArgumentError(
        "filter must be a dict such as {'year': {'$gte': 2020}} or a callable taking a Document "
        f"and returning a bool, got {type(filter).__name__}"
    )


def _select_ids(records: Iterable[Record], predicate: Callable[[Document], bool]) -> list[str]:
    return [record.id for record in records if predicate(_to_document(record))]


def _mmr_pick(
    query: Sequence[float], candidates: list[ScoredRecord], k: int, lambda_mult: float
) -> list[ScoredRecord]:
    """MMR over candidates fetched with their vectors; the selection is the document layer's."""
    if not candidates:
        return []
    matrix = np.stack([np.asarray(hit.record.vector, dtype=np.float32) for hit in candidates])
    order = maximal_marginal_relevance(query, matrix, k, lambda_mult)
    return [candidates[i] for i in order]


def _scored_documents(hits: list[ScoredRecord]) -> list[tuple[Document, float]]:
    return [(_to_document(hit.record), hit.distance) for hit in hits]


def _missing_collection(exc: NotFoundError, name: str, db: str) -> NotFoundError:
    return NotFoundError(
        f"{exc.details}; check collection_name and db_name, or create the collection by adding "
        "documents (from_texts, from_documents, add_texts)",
        code=exc.code,
        rpc=exc.rpc,
    )


def _made_here(
    connection: Mapping[str, Any], client: ScintireteClient, async_client: AsyncScintireteClient
) -> list[ScintireteClient | AsyncScintireteClient]:
    """The clients resolve_clients made rather than received, which the store may close."""
    made: list[ScintireteClient | AsyncScintireteClient] = []
    if connection.get("client") is None:
        made.append(client)
    if connection.get("async_client") is None:
        made.append(async_client)
    return made


def _existing_metric(info: CollectionInfo, requested: Metric | str | None) -> Metric:
    if requested is None:
        return info.metric or Metric.COSINE
    metric = Metric.parse(requested)
    if info.metric is not None and metric is not info.metric:
        raise InvalidArgumentError(
            f"collection {info.name!r} uses the {info.metric.value!r} metric, not {metric.value!r}; "
            "leave metric out to use the collection's own"
        )
    return metric


# -- the vector store -----------------------------------------------------------------------------


class ScintireteVectorStore(ClosesWhatItMade, VectorStore):
    """LangChain ``VectorStore`` over one Scintirete collection, natively sync and async.

    ::

        from langchain_core.documents import Document
        from scintirete_integrations.langchain import ScintireteVectorStore

        store = ScintireteVectorStore(embeddings, collection_name="docs", address="db:9090", password="pw")
        ids = store.add_documents([Document("Paris is in France", metadata={"lang": "en", "year": 2024})])
        store.similarity_search("France", k=2, filter={"lang": "en"})
        store.similarity_search_with_score("France")          # [(Document, distance)], lower is closer
        store.similarity_search_with_relevance_scores("France", score_threshold=0.5)  # scores in [0, 1]
        store.max_marginal_relevance_search("France", k=3, fetch_k=20)
        await store.asimilarity_search("France")              # every method has a native async twin
        store.as_retriever(search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.6})
        store.add_embeddings(texts, vectors, metadatas, ids)  # vectors computed elsewhere
        store.get(where={"lang": "en"}, limit=10, offset=0)   # listing without a query, oldest first
        for page in store.scroll({"lang": "en"}, batch_size=500): ...
        with ScintireteVectorStore(embeddings, address="db:9090", password="pw") as store: ...  # closes

    Connection: pass ``address``/``password``, or ready ``client``/``async_client``; with neither
    (and no ``$SCINTIRETE_ADDRESS``) the store runs on an embedded Scintirete Lite server, in memory or
    persisted at ``data_dir``. ``timeout`` bounds each call of the store (seconds, None for no
    deadline); ``client_options`` (``tls``, ``compression``, ``max_message_bytes``, ``retry``, ...) go
    to the clients it builds. The LlamaIndex store takes the same connection arguments. The
    collection is created on the first write with ``metric``, ``m`` and ``ef_construction``; nothing
    is sent before the first call.

    Embeddings: with ``embedding=None`` the server embeds texts and queries with its configured
    embedding model (the ``EmbedText`` RPC; ``embedding_model`` picks one, else the server default),
    and :attr:`embeddings` returns a :class:`ScintireteEmbeddings` bound to the same server.

    ``filter=`` takes a Mongo-style dict (see :mod:`scintirete_integrations.filters`), evaluated
    against exact metadata with complete results: ``{"year": {"$gte": 2020}, "tags": {"$contains":
    "rag"}}``. It also takes a callable ``Callable[[Document], bool]``, as ``InMemoryVectorStore``
    does; that costs a pass over every stored record in this process (the predicate runs once per
    record), followed by a search restricted to the matching ids, so prefer a dict on large collections.

    Ids: the ids you pass (or ``Document.id``) are kept; missing ones are generated uuid4 strings.
    Adding an existing id replaces that document; an id given twice in one call is an error.

    Relevance scores are LangChain's own helper for the metric clipped to [0, 1] (see
    :data:`RELEVANCE_FUNCTIONS`): for cosine, the cosine similarity, as Chroma and PGVector report.
    :meth:`close` (or ``with``/``async with``) closes the clients the store made; a ``client`` you
    pass is never closed, so one client can serve several stores.
    """

    def __init__(
        self,
        embedding: Embeddings | None = None,
        *,
        collection_name: str = "langchain",
        db_name: str = "default",
        address: str | None = None,
        password: str | None = None,
        client: ScintireteClient | None = None,
        async_client: AsyncScintireteClient | None = None,
        metric: Metric | str = "cosine",
        data_dir: str | os.PathLike[str] | None = None,
        m: int | None = None,
        ef_construction: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        auto_compact: bool = True,
        exact_search_limit: int = 20_000,
        embedding_model: str | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if embedding is not None and not isinstance(embedding, Embeddings):
            raise InvalidArgumentError(
                f"embedding must be a LangChain Embeddings object (or None to embed on the server), "
                f"got {type(embedding).__name__}"
            )
        sync_client, aio_client = resolve_clients(
            address=address,
            password=password,
            data_dir=data_dir,
            client=client,
            async_client=async_client,
            **dict(client_options or {}),
        )
        self._collection = DocumentCollection(
            collection_name,
            sync_client,
            db=db_name,
            metric=metric,
            m=m,
            ef_construction=ef_construction,
            auto_compact=auto_compact,
            exact_search_limit=exact_search_limit,
            timeout=timeout,
        )
        # One view shared by both facades: a write through either is seen by the other at once.
        self._async_collection = self._collection.async_twin(aio_client)
        # close() closes what this store made, never a client the caller passed in.
        self._owned_clients: list[ScintireteClient | AsyncScintireteClient] = [
            made for made, given in ((sync_client, client), (aio_client, async_client)) if given is None
        ]
        # With no embedding the server embeds: texts through the layer's upsert_texts/search_text,
        # and queries for MMR or callable filters through ScintireteEmbeddings on the same server.
        self._server_embeds = embedding is None
        self._embedding_model = embedding_model
        self._embeddings: Embeddings = (
            embedding
            if embedding is not None
            else ScintireteEmbeddings(
                embedding_model, client=sync_client, async_client=aio_client, timeout=timeout
            )
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(collection_name={self._collection.name!r}, "
            f"db_name={self._collection.db!r}, "
            f"metric={self._collection.metric.value!r}, embedding={type(self.embeddings).__name__})"
        )

    @property
    def embeddings(self) -> Embeddings:
        """The embedding model: the one given, or a :class:`ScintireteEmbeddings` when the server embeds."""
        return self._embeddings

    @property
    def collection(self) -> DocumentCollection:
        """The underlying document collection (blocking), e.g. for ``compact()``, ``save()``, ``count()``."""
        return self._collection

    @property
    def async_collection(self) -> AsyncDocumentCollection:
        """The asyncio twin of :attr:`collection`, sharing its view."""
        return self._async_collection

    # -- writing

    def _store_texts(self, records: list[Record], batch_size: int, report: Progress) -> None:
        for batch in _batches(records, batch_size):
            # Resuming an interrupted ingest: what is stored unchanged is not embedded again.
            todo = _changed(batch, self._collection.get([record.id for record in batch]))
            if todo and self._server_embeds:
                with explain_embedding_failure(_PASS_EMBEDDINGS):
                    self._collection.upsert_texts(todo, model=self._embedding_model, batch_size=batch_size)
            elif todo:
                vectors = self._embeddings.embed_documents([record.text for record in todo])
                self._collection.upsert(_with_vectors(todo, vectors))
            report.advance(len(batch), skipped=len(batch) - len(todo))

    async def _astore_texts(self, records: list[Record], batch_size: int, report: Progress) -> None:
        for batch in _batches(records, batch_size):
            todo = _changed(batch, await self._async_collection.get([record.id for record in batch]))
            if todo and self._server_embeds:
                with explain_embedding_failure(_PASS_EMBEDDINGS):
                    await self._async_collection.upsert_texts(
                        todo, model=self._embedding_model, batch_size=batch_size
                    )
            elif todo:
                vectors = await self._embeddings.aembed_documents([record.text for record in todo])
                await self._async_collection.upsert(_with_vectors(todo, vectors))
            report.advance(len(batch), skipped=len(batch) - len(todo))

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        ids: Iterable[str | None] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store ``texts``; returns their ids (the given ones, or generated uuid4 strings).

        ``batch_size`` texts are embedded and written per round trip. Inputs are checked as a whole
        first; a failure while writing (e.g. the server or the embedding model failing) leaves the
        batches before it stored, and calling again with the same ids finishes the job: texts
        whose id, text and metadata are already stored unchanged are not sent to the embedding
        model again. ``progress=True`` keeps a status line on stderr; a callable gets
        ``(done, total)`` after each batch; each batch is also logged at INFO.
        """
        _reject_extra("add_texts", kwargs, "metadatas, ids, batch_size, progress")
        batch_size = _check_batch_size(batch_size)
        records = _records(texts, metadatas, ids, batch_size)
        self._store_texts(records, batch_size, Progress(len(records), progress, _log, "add_texts"))
        return [record.id for record in records]

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        ids: Iterable[str | None] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts`."""
        _reject_extra("aadd_texts", kwargs, "metadatas, ids, batch_size, progress")
        batch_size = _check_batch_size(batch_size)
        records = _records(texts, metadatas, ids, batch_size)
        await self._astore_texts(records, batch_size, Progress(len(records), progress, _log, "aadd_texts"))
        return [record.id for record in records]

    def add_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Iterable[Sequence[float]],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        ids: Iterable[str | None] | None = None,
        *,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Store ``texts`` with vectors computed elsewhere (one per text); no embedding model is called.

        Ids, metadata, batching and ``progress`` work as in :meth:`add_texts`::

            store.add_embeddings(["a cat"], [[0.1, 0.9, 0.0]], metadatas=[{"year": 2024}], ids=["c1"])
        """
        _reject_extra("add_embeddings", kwargs, "metadatas, ids, batch_size, progress")
        batch_size = _check_batch_size(batch_size)
        records = _records(texts, metadatas, ids, batch_size)
        vectors = _vector_list(embeddings, len(records))
        report = Progress(len(records), progress, _log, "add_embeddings")
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            self._collection.upsert(_with_vectors(batch, vectors[start : start + batch_size]))
            report.advance(len(batch))
        return [record.id for record in records]

    async def aadd_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Iterable[Sequence[float]],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        ids: Iterable[str | None] | None = None,
        *,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_embeddings`."""
        _reject_extra("aadd_embeddings", kwargs, "metadatas, ids, batch_size, progress")
        batch_size = _check_batch_size(batch_size)
        records = _records(texts, metadatas, ids, batch_size)
        vectors = _vector_list(embeddings, len(records))
        report = Progress(len(records), progress, _log, "aadd_embeddings")
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            await self._async_collection.upsert(_with_vectors(batch, vectors[start : start + batch_size]))
            report.advance(len(batch))
        return [record.id for record in records]

    def add_documents(
        self,
        documents: Iterable[Document],
        *,
        ids: Sequence[str | None] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Store documents, keeping ``Document.id`` (``ids=`` overrides it); Documents are not modified."""
        _reject_extra("add_documents", kwargs, "ids, batch_size, progress")
        texts, metadatas, doc_ids = _documents_input(documents, ids)
        return self.add_texts(texts, metadatas, ids=doc_ids, batch_size=batch_size, progress=progress)

    async def aadd_documents(
        self,
        documents: Iterable[Document],
        *,
        ids: Sequence[str | None] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_documents`."""
        _reject_extra("aadd_documents", kwargs, "ids, batch_size, progress")
        texts, metadatas, doc_ids = _documents_input(documents, ids)
        return await self.aadd_texts(texts, metadatas, ids=doc_ids, batch_size=batch_size, progress=progress)

    def delete(
        self, ids: Sequence[str] | None = None, *, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> bool:
        """Delete documents by id, or those matching ``filter``; unknown ids are ignored. Returns True.

        With neither ``ids`` nor ``filter``, every document is deleted (the collection stays), as
        LangChain's ``VectorStore.delete`` specifies for ``ids=None``.
        """
        _reject_extra("delete", kwargs, "ids, filter")
        if ids is not None and filter is not None:
            raise InvalidArgumentError("pass ids or filter to delete(), not both")
        if filter is not None:
            where, predicate = _split_filter(filter)
            if predicate is not None:
                self._collection.delete(_select_ids(self._collection.scan(), predicate))
            else:
                self._collection.delete_where(where or {})
        elif ids is None:
            self._collection.clear()
        else:
            self._collection.delete(ids)
        return True

    async def adelete(
        self, ids: Sequence[str] | None = None, *, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> bool:
        """Async :meth:`delete`."""
        _reject_extra("adelete", kwargs, "ids, filter")
        if ids is not None and filter is not None:
            raise InvalidArgumentError("pass ids or filter to delete(), not both")
        if filter is not None:
            where, predicate = _split_filter(filter)
            if predicate is not None:
                await self._async_collection.delete(
                    _select_ids(await self._async_collection.scan(), predicate)
                )
            else:
                await self._async_collection.delete_where(where or {})
        elif ids is None:
            await self._async_collection.clear()
        else:
            await self._async_collection.delete(ids)
        return True

    def delete_collection(self) -> bool:
        """Drop the whole collection from the server; False when it did not exist."""
        return self._collection.drop()

    async def adelete_collection(self) -> bool:
        """Async :meth:`delete_collection`."""
        return await self._async_collection.drop()

    # -- reading by id

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents for the ids that exist, in the order asked; unknown ids are skipped."""
        return [_to_document(record) for record in self._collection.get(ids)]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return [_to_document(record) for record in await self._async_collection.get(ids)]

    # -- listing without a query

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: DocumentFilter | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Document]:
        """Stored documents without a query: those among ``ids`` (in that order) that pass ``where``.

        Without ``ids``, every document passing ``where`` (a filter dict or a callable, as
        ``filter=`` elsewhere), oldest write first. ``offset`` documents are skipped and at most
        ``limit`` returned. Unlike Chroma's ``get``, which returns a dict of columns, this returns
        ``Document`` objects with their ids::

            store.get(where={"lang": "en"}, limit=10, offset=20)   # the third page of ten
        """
        _check_window(limit, offset)
        _check_id_list(ids)
        dict_where, predicate = _split_filter(where)
        if ids is not None:
            records = (
                self._collection.get(ids)
                if dict_where is None
                else _in_order(self._collection.scan(dict_where), ids)
            )
        else:
            wanted = None if predicate is not None or limit is None else offset + limit
            records = self._collection.scan(dict_where, limit=wanted) if wanted != 0 else []
        return _window(_documents_passing(records, predicate), limit, offset)

    async def aget(
        self,
        ids: Sequence[str] | None = None,
        where: DocumentFilter | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Document]:
        """Async :meth:`get`."""
        _check_window(limit, offset)
        _check_id_list(ids)
        dict_where, predicate = _split_filter(where)
        if ids is not None:
            records = (
                await self._async_collection.get(ids)
                if dict_where is None
                else _in_order(await self._async_collection.scan(dict_where), ids)
            )
        else:
            wanted = None if predicate is not None or limit is None else offset + limit
            records = await self._async_collection.scan(dict_where, limit=wanted) if wanted != 0 else []
        return _window(_documents_passing(records, predicate), limit, offset)

    def scroll(
        self, filter: DocumentFilter | None = None, *, batch_size: int = _DEFAULT_BATCH_SIZE
    ) -> Iterator[list[Document]]:
        """Every document passing ``filter``, oldest write first, in lists of up to ``batch_size``.

        The set of documents is fixed when iteration starts; writes made while iterating are not
        seen. For exports::

            for page in store.scroll({"lang": "en"}, batch_size=500):
                write_rows(page)
        """
        batch_size = _check_batch_size(batch_size)
        dict_where, predicate = _split_filter(filter)
        records = self._collection.scan(dict_where)
        yield from _pages(records, predicate, batch_size)

    async def ascroll(
        self, filter: DocumentFilter | None = None, *, batch_size: int = _DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[list[Document]]:
        """Async :meth:`scroll`: ``async for page in store.ascroll(...)``."""
        batch_size = _check_batch_size(batch_size)
        dict_where, predicate = _split_filter(filter)
        records = await self._async_collection.scan(dict_where)
        for page in _pages(records, predicate, batch_size):
            yield page

    # -- similarity search: one sync and one async core, every public method goes through them

    def _search_vector(
        self, vector: Sequence[float], k: int, filter: DocumentFilter | None, include_vector: bool = False
    ) -> list[ScoredRecord]:
        where, predicate = _split_filter(filter)
        if predicate is None:
            return self._collection.search(vector, k, filter=where, include_vector=include_vector)
        allowed = _select_ids(self._collection.scan(), predicate)
        return self._collection.search(vector, k, ids=allowed, include_vector=include_vector)

    async def _asearch_vector(
        self, vector: Sequence[float], k: int, filter: DocumentFilter | None, include_vector: bool = False
    ) -> list[ScoredRecord]:
        where, predicate = _split_filter(filter)
        if predicate is None:
            return await self._async_collection.search(vector, k, filter=where, include_vector=include_vector)
        allowed = _select_ids(await self._async_collection.scan(), predicate)
        return await self._async_collection.search(vector, k, ids=allowed, include_vector=include_vector)

    def _search_query(self, query: str, k: int, filter: DocumentFilter | None) -> list[ScoredRecord]:
        where, predicate = _split_filter(filter)  # a bad filter fails before any embedding is paid for
        if self._server_embeds and predicate is None:
            with explain_embedding_failure(_PASS_EMBEDDINGS):
                return self._collection.search_text(query, k, filter=where, model=self._embedding_model)
        return self._search_vector(self.embeddings.embed_query(query), k, filter)

    async def _asearch_query(self, query: str, k: int, filter: DocumentFilter | None) -> list[ScoredRecord]:
        where, predicate = _split_filter(filter)
        if self._server_embeds and predicate is None:
            with explain_embedding_failure(_PASS_EMBEDDINGS):
                return await self._async_collection.search_text(
                    query, k, filter=where, model=self._embedding_model
                )
        return await self._asearch_vector(await self.embeddings.aembed_query(query), k, filter)

    def similarity_search(
        self, query: str, k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents nearest to ``query`` that pass ``filter``, closest first."""
        _reject_extra_search("similarity_search", kwargs, "k, filter")
        return [_to_document(hit.record) for hit in self._search_query(query, k, filter)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search`."""
        _reject_extra_search("asimilarity_search", kwargs, "k, filter")
        return [_to_document(hit.record) for hit in await self._asearch_query(query, k, filter)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, distance)`` pairs, closest first. The score is the server's distance: LOWER is closer.

        For relevance scores in [0, 1] (higher is closer) use :meth:`similarity_search_with_relevance_scores`.
        """
        _reject_extra_search("similarity_search_with_score", kwargs, "k, filter")
        return _scored_documents(self._search_query(query, k, filter))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score` (distances, lower is closer)."""
        _reject_extra_search("asimilarity_search_with_score", kwargs, "k, filter")
        return _scored_documents(await self._asearch_query(query, k, filter))

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents nearest to the vector ``embedding`` that pass ``filter``, closest first."""
        _reject_extra_search("similarity_search_by_vector", kwargs, "k, filter")
        return [_to_document(hit.record) for hit in self._search_vector(embedding, k, filter)]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`."""
        _reject_extra_search("asimilarity_search_by_vector", kwargs, "k, filter")
        return [_to_document(hit.record) for hit in await self._asearch_vector(embedding, k, filter)]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, distance)`` pairs nearest to the vector ``embedding``; LOWER is closer."""
        _reject_extra_search("similarity_search_with_score_by_vector", kwargs, "k, filter")
        return _scored_documents(self._search_vector(embedding, k, filter))

    async def asimilarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score_by_vector`."""
        _reject_extra_search("asimilarity_search_with_score_by_vector", kwargs, "k, filter")
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
        _reject_extra_search("similarity_search_with_relevance_scores_by_vector", kwargs, "k, filter")
        hits = self._search_vector(embedding, k, filter)
        return _relevance_pairs(hits, self._select_relevance_score_fn(), score_threshold)

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
        _reject_extra_search("asimilarity_search_with_relevance_scores_by_vector", kwargs, "k, filter")
        hits = await self._asearch_vector(embedding, k, filter)
        return _relevance_pairs(hits, self._select_relevance_score_fn(), score_threshold)

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
        _reject_extra_search(
            "max_marginal_relevance_search_by_vector", kwargs, "k, fetch_k, lambda_mult, filter"
        )
        where, predicate = _split_filter(filter)
        if predicate is None:
            hits = self._collection.mmr(embedding, k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=where)
        else:
            candidates = self._search_vector(embedding, max(k, fetch_k), predicate, include_vector=True)
            hits = _mmr_pick(embedding, candidates, k, lambda_mult)
        return [_to_document(hit.record) for hit in hits]

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
        _reject_extra_search(
            "amax_marginal_relevance_search_by_vector", kwargs, "k, fetch_k, lambda_mult, filter"
        )
        where, predicate = _split_filter(filter)
        if predicate is None:
            hits = await self._async_collection.mmr(
                embedding, k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=where
            )
        else:
            candidates = await self._asearch_vector(
                embedding, max(k, fetch_k), predicate, include_vector=True
            )
            hits = _mmr_pick(embedding, candidates, k, lambda_mult)
        return [_to_document(hit.record) for hit in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: DocumentFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` diverse documents for ``query``; see :meth:`max_marginal_relevance_search_by_vector`."""
        _reject_extra_search("max_marginal_relevance_search", kwargs, "k, fetch_k, lambda_mult, filter")
        _split_filter(filter)  # a bad filter fails before any embedding is paid for
        vector = self.embeddings.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)

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
        _reject_extra_search("amax_marginal_relevance_search", kwargs, "k, fetch_k, lambda_mult, filter")
        _split_filter(filter)
        vector = await self.embeddings.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)

    # -- constructors

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        embedding: Embeddings | None = None,
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        ids: Iterable[str | None] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> Self:
        """A store (constructor arguments in ``kwargs``) holding ``texts``.

        ::

            store = ScintireteVectorStore.from_texts(["a", "b"], embeddings, collection_name="notes")
        """
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids, batch_size=batch_size, progress=progress)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: Iterable[str],
        embedding: Embeddings | None = None,
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        ids: Iterable[str | None] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_texts`."""
        store = cls(embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids, batch_size=batch_size, progress=progress)
        return store

    @classmethod
    def from_documents(
        cls,
        documents: Iterable[Document],
        embedding: Embeddings | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> Self:
        """A store (constructor arguments in ``kwargs``) holding ``documents``, keeping their ids."""
        store = cls(embedding, **kwargs)
        store.add_documents(documents, ids=ids, batch_size=batch_size, progress=progress)
        return store

    @classmethod
    async def afrom_documents(
        cls,
        documents: Iterable[Document],
        embedding: Embeddings | None = None,
        *,
        ids: Sequence[str | None] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_documents`."""
        store = cls(embedding, **kwargs)
        await store.aadd_documents(documents, ids=ids, batch_size=batch_size, progress=progress)
        return store

    @classmethod
    def from_embeddings(
        cls,
        text_embeddings: Iterable[tuple[str, Sequence[float]]],
        embedding: Embeddings | None = None,
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        ids: Iterable[str | None] | None = None,
        *,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> Self:
        """A store holding texts with precomputed vectors, given as ``(text, vector)`` pairs.

        ``embedding`` embeds later queries (None: the server does). As FAISS's ``from_embeddings``::

            pairs = list(zip(texts, my_model.encode(texts).tolist()))
            store = ScintireteVectorStore.from_embeddings(pairs, my_embeddings, collection_name="notes")
        """
        texts, vectors = _split_pairs(text_embeddings)
        store = cls(embedding, **kwargs)
        store.add_embeddings(texts, vectors, metadatas, ids, batch_size=batch_size, progress=progress)
        return store

    @classmethod
    async def afrom_embeddings(
        cls,
        text_embeddings: Iterable[tuple[str, Sequence[float]]],
        embedding: Embeddings | None = None,
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        ids: Iterable[str | None] | None = None,
        *,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_embeddings`."""
        texts, vectors = _split_pairs(text_embeddings)
        store = cls(embedding, **kwargs)
        await store.aadd_embeddings(texts, vectors, metadatas, ids, batch_size=batch_size, progress=progress)
        return store

    @classmethod
    def from_existing_collection(
        cls, collection_name: str, embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """Open a collection that must already exist; NotFoundError otherwise.

        The metric is read from the collection (a different ``metric=`` is an error). ``kwargs``
        are the constructor's::

            store = ScintireteVectorStore.from_existing_collection("notes", embeddings, address="db:9090")
        """
        connection = {key: kwargs.pop(key) for key in _CONNECTION_KEYS if key in kwargs}
        client, async_client = resolve_clients(**connection, **dict(kwargs.pop("client_options", None) or {}))
        db = kwargs.get("db_name", "default")
        try:
            info = client.get_collection_info(
                db, collection_name, timeout=kwargs.get("timeout", USE_CLIENT_DEFAULT)
            )
        except NotFoundError as exc:
            raise _missing_collection(exc, collection_name, db) from exc
        metric = _existing_metric(info, kwargs.pop("metric", None))
        store = cls(
            embedding,
            collection_name=collection_name,
            client=client,
            async_client=async_client,
            metric=metric,
            **kwargs,
        )
        store._owned_clients = _made_here(connection, client, async_client)
        return store

    @classmethod
    async def afrom_existing_collection(
        cls, collection_name: str, embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """Async :meth:`from_existing_collection`."""
        connection = {key: kwargs.pop(key) for key in _CONNECTION_KEYS if key in kwargs}
        client, async_client = resolve_clients(**connection, **dict(kwargs.pop("client_options", None) or {}))
        db = kwargs.get("db_name", "default")
        try:
            info = await async_client.get_collection_info(
                db, collection_name, timeout=kwargs.get("timeout", USE_CLIENT_DEFAULT)
            )
        except NotFoundError as exc:
            raise _missing_collection(exc, collection_name, db) from exc
        metric = _existing_metric(info, kwargs.pop("metric", None))
        store = cls(
            embedding,
            collection_name=collection_name,
            client=client,
            async_client=async_client,
            metric=metric,
            **kwargs,
        )
        store._owned_clients = _made_here(connection, client, async_client)
        return store


# -- embeddings -------------------------------------------------------------------------------------


class ScintireteEmbeddings(Embeddings):
    """Embeddings computed by the Scintirete server's embedding model (the ``EmbedText`` RPC).

    ::

        from scintirete_integrations.langchain import ScintireteEmbeddings

        embeddings = ScintireteEmbeddings("text-embedding-3-small", address="localhost:9090", password="pw")
        embeddings.embed_documents(["first text", "second text"])   # two vectors, in order
        await embeddings.aembed_query("a question")

    ``model`` names one of the server's models (None: its default). Texts go to the server
    ``batch_size`` at a time. Connection arguments work as for :class:`ScintireteVectorStore`.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        address: str | None = None,
        password: str | None = None,
        client: ScintireteClient | None = None,
        async_client: AsyncScintireteClient | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if model is not None and (not isinstance(model, str) or not model):
            raise InvalidArgumentError(f"model must be a non-empty string or None, got {model!r}")
        self.model = model
        self.batch_size = _check_batch_size(batch_size)
        self.timeout = timeout
        self._client, self._async_client = resolve_clients(
            address=address,
            password=password,
            data_dir=data_dir,
            client=client,
            async_client=async_client,
            **dict(client_options or {}),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, address={self._client.address!r})"

    def _chunks(self, texts: Iterable[str]) -> list[list[str]]:
        if isinstance(texts, str):
            raise InvalidArgumentError("texts must be a list of strings, not a single string")
        text_list = list(texts)
        return [
            text_list[start : start + self.batch_size] for start in range(0, len(text_list), self.batch_size)
        ]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (an empty list gives an empty list)."""
        vectors: list[list[float]] = []
        for chunk in self._chunks(texts):
            with explain_embedding_failure(_PASS_EMBEDDINGS):
                vectors += self._client.embed_text(chunk, model=self.model, timeout=self.timeout)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        with explain_embedding_failure(_PASS_EMBEDDINGS):
            return self._client.embed_text([text], model=self.model, timeout=self.timeout)[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`."""
        vectors: list[list[float]] = []
        for chunk in self._chunks(texts):
            with explain_embedding_failure(_PASS_EMBEDDINGS):
                vectors += await self._async_client.embed_text(chunk, model=self.model, timeout=self.timeout)
        return vectors

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`."""
        with explain_embedding_failure(_PASS_EMBEDDINGS):
            return (await self._async_client.embed_text([text], model=self.model, timeout=self.timeout))[0]


# -- self-query --------------------------------------------------------------------------------------

_COMPARATORS: dict[Comparator, str] = {
    Comparator.EQ: "$eq",
    Comparator.NE: "$ne",
    Comparator.GT: "$gt",
    Comparator.GTE: "$gte",
    Comparator.LT: "$lt",
    Comparator.LTE: "$lte",
    Comparator.IN: "$in",
    Comparator.NIN: "$nin",
    Comparator.CONTAIN: "$contains",
    # LIKE has no pattern language here: it becomes a case-insensitive substring match.
    Comparator.LIKE: "$icontains",
}


def _query_value(value: Any) -> Any:
    # The self-query parser writes dates as {"date": "2024-01-31", "type": "date"} (and "datetime");
    # ISO strings compare in time order, so metadata stored as ISO strings filters correctly.
    if isinstance(value, Mapping) and value.get("type") in ("date", "datetime") and value["type"] in value:
        return value[value["type"]]
    return value


class ScintireteTranslator(Visitor):
    """Translates a LangChain ``StructuredQuery`` into the document layer's filter dict.

    Use it with a ``SelfQueryRetriever`` (``structured_query_translator=ScintireteTranslator()``),
    or directly::

        from langchain_core.structured_query import Comparator, Comparison, StructuredQuery

        query = StructuredQuery("cats", Comparison(comparator=Comparator.GTE, attribute="year", value=2020))
        ScintireteTranslator().visit_structured_query(query)
        # ('cats', {'filter': {'year': {'$gte': 2020}}})

    Comparators map to ``$eq $ne $gt $gte $lt $lte $in $nin $contains``; LIKE becomes ``$icontains``
    (surrounding ``%`` wildcards dropped). AND, OR and NOT map to ``$and``, ``$or`` and ``$not``.
    """

    allowed_comparators = tuple(_COMPARATORS)
    allowed_operators = (Operator.AND, Operator.OR, Operator.NOT)

    def visit_operation(self, operation: Operation) -> dict[str, Any]:
        """``$and`` / ``$or`` of the arguments; NOT of several arguments means none of them matches."""
        if operation.operator not in self.allowed_operators:
            supported = ", ".join(op.value.upper() for op in self.allowed_operators)
            raise InvalidArgumentError(
                f"operator {operation.operator!r} is not supported by Scintirete filters; "
                f"supported: {supported}"
            )
        arguments = [argument.accept(self) for argument in operation.arguments]
        if not arguments:
            raise InvalidArgumentError(
                f"operator {operation.operator.value.upper()} needs at least one argument"
            )
        if operation.operator is Operator.AND:
            return {"$and": arguments}
        if operation.operator is Operator.OR:
            return {"$or": arguments}
        return {"$not": arguments[0] if len(arguments) == 1 else {"$or": arguments}}

    def visit_comparison(self, comparison: Comparison) -> dict[str, Any]:
        """``{attribute: {operator: value}}``."""
        operator = _COMPARATORS.get(comparison.comparator)
        if operator is None:
            supported = ", ".join(comparator.value.upper() for comparator in _COMPARATORS)
            raise InvalidArgumentError(
                f"comparator {comparison.comparator!r} is not supported by Scintirete filters; "
                f"supported: {supported}"
            )
        value = _query_value(comparison.value)
        if operator in ("$in", "$nin") and not isinstance(value, (list, tuple)):
            value = [value]  # a model may write IN with a single value
        if operator == "$icontains":
            if not isinstance(value, str):
                raise InvalidArgumentError(f"LIKE on {comparison.attribute!r} needs a string, got {value!r}")
            value = value.strip("%")
        return {comparison.attribute: {operator: value}}

    def visit_structured_query(self, structured_query: StructuredQuery) -> tuple[str, dict[str, Any]]:
        """``(query, {"filter": ...})``, or ``(query, {})`` without a filter; the filter is validated here."""
        if structured_query.filter is None:
            return structured_query.query, {}
        where = structured_query.filter.accept(self)
        filters.validate(where)
        return structured_query.query, {"filter": where}
