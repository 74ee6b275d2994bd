"""``ScintireteVectorStore``: the LangChain ``VectorStore`` over one document collection.

The store is built in layers, one job per module: :mod:`.reads` (by id, listing, similarity
search, MMR), :mod:`.writes` (adding and deleting) and this module, which makes the store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self, TypeVar

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from .._progress import ProgressArg
from ..client import USE_CLIENT_DEFAULT, AsyncScintireteClient, ScintireteClient, Timeout
from ..documents import (
    AsyncDocumentCollection,
    ClosesWhatItMade,
    DocumentCollection,
    ViewCacheOption,
    resolve_clients,
    runs_embedded,
    view_cache_dir,
)
from ..documents.core import APPROXIMATE_SEARCH_FROM, EXACT_SEARCH_LIMIT
from ..documents.hybrid import Fusion
from ..errors import InvalidArgumentError, NotFoundError
from ..models import CollectionInfo, Metric
from ._records import (
    DEFAULT_BATCH_SIZE,
    split_pairs,
)
from .embeddings import ScintireteEmbeddings
from .modes import Retrieval, RetrievalMode
from .writes import Writes

# The adapter's logger keeps the package's name, which the README documents.
_log = logging.getLogger("scintirete_integrations.langchain")

# Connection arguments of the constructor, resolved together by documents.resolve_clients.
_CONNECTION_KEYS = ("address", "password", "data_dir", "client", "async_client")
_S = TypeVar("_S", bound="ScintireteVectorStore")


class _Existing:
    """What ``from_existing_collection`` and its async twin share: the clients, the checks, the store."""

    def __init__(self, collection_name: str, kwargs: dict[str, Any]) -> None:
        self.connection = {key: kwargs.pop(key) for key in _CONNECTION_KEYS if key in kwargs}
        options = dict(kwargs.pop("client_options", None) or {})
        self.client, self.async_client = resolve_clients(**self.connection, **options)
        self.name = collection_name
        self.db = kwargs.get("db_name", "default")
        self.timeout = kwargs.get("timeout", USE_CLIENT_DEFAULT)
        self.kwargs = kwargs

    def missing(self, exc: NotFoundError) -> NotFoundError:
        return NotFoundError(
            f"{exc.details}; check collection_name and db_name, or create the collection by adding "
            "documents (from_texts, from_documents, add_texts)",
            code=exc.code,
            rpc=exc.rpc,
        )

    def store(self, cls: type[_S], embedding: Embeddings | None, info: CollectionInfo) -> _S:
        requested = self.kwargs.pop("metric", None)
        metric = (info.metric or Metric.COSINE) if requested is None else Metric.parse(requested)
        if info.metric is not None and metric is not info.metric:
            raise InvalidArgumentError(
                f"collection {info.name!r} uses the {info.metric.value!r} metric, not {metric.value!r}; "
                "leave metric out to use the collection's own"
            )
        store = cls(
            embedding,
            collection_name=self.name,
            client=self.client,
            async_client=self.async_client,
            metric=metric,
            **self.kwargs,
        )
        # The clients resolve_clients made rather than received, which the store may close.
        store._owned_clients = [
            made
            for made, key in ((self.client, "client"), (self.async_client, "async_client"))
            if self.connection.get(key) is None
        ]
        return store


# -- the vector store -----------------------------------------------------------------------------


class ScintireteVectorStore(ClosesWhatItMade, Writes):
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
        store.get(filter={"lang": "en"}, limit=10, offset=0)  # listing without a query, oldest first
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

    Retrieval modes (:class:`RetrievalMode`): ``retrieval_mode="dense"`` (the default) ranks by
    embeddings, ``"keyword"`` by BM25 over the texts (nothing is embedded), ``"hybrid"`` fuses
    both: relative score fusion weighted by ``alpha`` (1 dense only, 0 keyword only) or, with
    ``fusion="rrf"``, reciprocal rank fusion. Every search by query text takes
    ``retrieval_mode=``, ``fusion=``, ``alpha=`` and ``fetch_k=`` per call, so does a retriever's
    ``search_kwargs``; searches by vector are dense. Scores per mode are described in
    :mod:`scintirete_integrations.langchain.modes`::

        store = ScintireteVectorStore(embeddings, retrieval_mode="hybrid", alpha=0.5)
        store.similarity_search("ERR_4031", k=3, retrieval_mode="keyword")
        store.as_retriever(search_kwargs={"retrieval_mode": "hybrid", "fusion": "rrf"})
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
        exact_search_limit: int = EXACT_SEARCH_LIMIT,
        embedding_model: str | None = None,
        client_options: Mapping[str, Any] | None = None,
        retrieval_mode: RetrievalMode | str = RetrievalMode.DENSE,
        fusion: Fusion = "relative",
        alpha: float = 0.5,
        view_cache: ViewCacheOption = None,
        approximate_search_from: int | None = APPROXIMATE_SEARCH_FROM,
    ) -> None:
        self._retrieval = Retrieval.make(retrieval_mode, fusion, alpha)
        if embedding is not None and not isinstance(embedding, Embeddings):
            raise InvalidArgumentError(
                f"embedding must be a LangChain Embeddings object (or None to embed on the server), "
                f"got {type(embedding).__name__}"
            )
        if embedding is None and runs_embedded(
            address=address, data_dir=data_dir, client=client, async_client=async_client
        ):
            raise InvalidArgumentError(
                "ScintireteVectorStore needs an embedding here: with no address (and no "
                "$SCINTIRETE_ADDRESS) it runs on an embedded Scintirete Lite server, which has no "
                "embedding model. Pass a LangChain Embeddings object, e.g. "
                "ScintireteVectorStore(OpenAIEmbeddings()) or ScintireteVectorStore(MiniLMEmbeddings()) "
                "(pip install 'scintirete-integrations[model]'), or the address of a server "
                "configured with an embedding model"
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
            view_cache=view_cache_dir(data_dir, view_cache),
            approximate_search_from=approximate_search_from,
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

    # -- constructors

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        embedding: Embeddings | None = None,
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        ids: Iterable[str | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
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
        batch_size: int = DEFAULT_BATCH_SIZE,
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
        batch_size: int = DEFAULT_BATCH_SIZE,
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
        batch_size: int = DEFAULT_BATCH_SIZE,
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
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> Self:
        """A store holding texts with precomputed vectors, given as ``(text, vector)`` pairs.

        ``embedding`` embeds later queries (None: the server does). As FAISS's ``from_embeddings``::

            pairs = list(zip(texts, my_model.encode(texts).tolist()))
            store = ScintireteVectorStore.from_embeddings(pairs, my_embeddings, collection_name="notes")
        """
        texts, vectors = split_pairs(text_embeddings)
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
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_embeddings`."""
        texts, vectors = split_pairs(text_embeddings)
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
        existing = _Existing(collection_name, kwargs)
        try:
            info = existing.client.get_collection_info(existing.db, collection_name, timeout=existing.timeout)
        except NotFoundError as exc:
            raise existing.missing(exc) from exc
        return existing.store(cls, embedding, info)

    @classmethod
    async def afrom_existing_collection(
        cls, collection_name: str, embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """Async :meth:`from_existing_collection`."""
        existing = _Existing(collection_name, kwargs)
        try:
            info = await existing.async_client.get_collection_info(
                existing.db, collection_name, timeout=existing.timeout
            )
        except NotFoundError as exc:
            raise existing.missing(exc) from exc
        return existing.store(cls, embedding, info)
