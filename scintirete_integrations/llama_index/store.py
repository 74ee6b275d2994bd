"""The LlamaIndex ``ScintireteVectorStore`` over one document collection."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryResult,
)

from .._progress import Progress, ProgressArg
from ..client import USE_CLIENT_DEFAULT, AsyncScintireteClient, ScintireteClient, Timeout
from ..documents import (
    AsyncDocumentCollection,
    ClosesWhatItMade,
    DocumentCollection,
    Record,
    ViewCacheOption,
    resolve_clients,
    view_cache_dir,
)
from ..documents.core import APPROXIMATE_SEARCH_FROM, EXACT_SEARCH_LIMIT
from ..documents.hybrid import Fusion, check_fusion
from ..errors import InvalidArgumentError
from ..models import Metric
from .metadata_filters import metadata_filters_to_filter
from .nodes import in_order, node_to_record, record_to_node
from .queries import DEFAULT_ALPHA, _plan_search

# The adapter's logger keeps the package's name, which the README documents.
_log = logging.getLogger("scintirete_integrations.llama_index")
_DEFAULT_BATCH_SIZE = 256


class ScintireteVectorStore(ClosesWhatItMade, BasePydanticVectorStore):
    """LlamaIndex vector store over one Scintirete collection, with sync and native async methods.

    ::

        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.core.vector_stores import MetadataFilter, MetadataFilters

        store = ScintireteVectorStore("notes", address="localhost:9090", password="pw")
        docs = [Document(text="Scintirete speaks gRPC", metadata={"year": 2024}, doc_id="d1")]
        index = VectorStoreIndex.from_documents(
            docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed_model
        )
        recent = MetadataFilters(filters=[MetadataFilter(key="year", value=2023, operator=">")])
        index.as_retriever(similarity_top_k=4, filters=recent).retrieve("which protocol?")
        store.get_nodes(filters=recent)                     # nodes with text, metadata, relationships
        index.delete_ref_doc("d1")                          # every node of that document

    Connection: ``client``/``async_client``, else ``address``/``password``, else
    ``$SCINTIRETE_ADDRESS``, else an embedded Scintirete Lite server (in memory, or persisted at
    ``data_dir``), all resolved by :func:`scintirete_integrations.documents.resolve_clients`;
    ``timeout`` bounds each call of the store (seconds, None for no deadline); ``client_options``
    (``tls``, ``compression``, ``max_message_bytes``, ``retry``, ...) go to the clients it builds, as
    in the LangChain store. The collection is created on the first write, with ``metric`` and the
    HNSW ``m``/``ef_construction``.

    Queries: modes ``default`` and ``mmr`` (``mmr_threshold``, from the query or the
    ``vector_store_kwargs`` of a retriever, is the relevance weight lambda, default 0.5; candidates
    are the ``mmr_prefetch_k`` nearest, default ``4 * similarity_top_k``, or set
    ``mmr_prefetch_factor``); ``text_search``: BM25 keyword search on ``query_str`` (nothing is
    embedded), ``similarity_top_k`` nodes; ``sparse``: the same BM25 ranking, ``sparse_top_k``
    nodes (default ``similarity_top_k``), as this store has no learned sparse vectors;
    ``hybrid``: the ``similarity_top_k`` nearest and the ``sparse_top_k`` best keyword matches
    fused, ``hybrid_top_k`` nodes returned (default ``similarity_top_k``), by relative score
    fusion with ``alpha`` (default 0.5; 1 is dense only, 0 keyword only) or, for a store made
    with ``fusion="rrf"``, by reciprocal rank fusion weighted ``alpha`` / ``1 - alpha``. Every
    collection can be searched by keywords (no ``enable_hybrid`` flag)::

        index.as_retriever(vector_store_query_mode="hybrid", alpha=0.3, similarity_top_k=10,
                           sparse_top_k=10, hybrid_top_k=4).retrieve("ERR_4031 on disk")

    ``filters`` support every ``FilterOperator`` (see
    :data:`FILTER_OPERATORS`) and AND/OR/NOT nesting; ``node_ids`` restricts to those nodes and
    ``doc_ids`` to nodes of those source documents (``ref_doc_id``). As in LlamaIndex's own
    stores, an empty list there means no restriction (``VectorStoreIndex.as_retriever`` passes
    ``node_ids=[]``). Anything else raises ``InvalidArgumentError``. In ``get_nodes`` and
    ``delete_nodes``, by contrast, ``node_ids=[]`` selects no node.

    ``similarities`` follow LlamaIndex's own stores (``SimpleVectorStore``, Qdrant, Postgres),
    higher is closer, from the server distance d: cosine the cosine similarity ``1 - d`` (in
    [-1, 1]); inner product the dot product ``-d``; L2 ``1 / (1 + d)``. A ``similarity_cutoff``
    written for those stores keeps the same nodes here. In keyword and hybrid modes they are the
    keyword relevance ``bm25 / max_score(query)`` in [0, 1) and the fused score in [0, 1]
    (it orders one query's nodes; it is not a similarity).
    Returned nodes carry text, metadata, relationships and type, but no embedding.
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str = Field(description="The Scintirete collection.")
    db_name: str = Field(description="The Scintirete database.")
    metric: str = Field(description="Distance metric: 'cosine', 'l2' or 'inner_product'.")
    fusion: Fusion = Field(default="relative", description="How hybrid queries fuse: 'relative' or 'rrf'.")

    _collection: DocumentCollection = PrivateAttr()
    _async_collection: AsyncDocumentCollection = PrivateAttr()
    _owned_clients: list[ScintireteClient | AsyncScintireteClient] = PrivateAttr(default_factory=list)

    def __init__(
        self,
        collection_name: str = "llama_index",
        db_name: str = "default",
        *,
        address: str | None = None,
        password: str | None = None,
        client: ScintireteClient | None = None,
        async_client: AsyncScintireteClient | None = None,
        metric: Metric | str = Metric.COSINE,
        data_dir: str | os.PathLike[str] | None = None,
        m: int | None = None,
        ef_construction: int | None = None,
        auto_compact: bool = True,
        exact_search_limit: int = EXACT_SEARCH_LIMIT,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        client_options: Mapping[str, Any] | None = None,
        fusion: Fusion = "relative",
        view_cache: ViewCacheOption = None,
        approximate_search_from: int | None = APPROXIMATE_SEARCH_FROM,
    ) -> None:
        check_fusion(fusion, DEFAULT_ALPHA)
        sync_client, aio_client = resolve_clients(
            address=address,
            password=password,
            data_dir=data_dir,
            client=client,
            async_client=async_client,
            **dict(client_options or {}),
        )
        collection = DocumentCollection(
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
        super().__init__(  # type: ignore[call-arg]  # pydantic fields, unseen by mypy's synthesized __init__
            collection_name=collection_name, db_name=db_name, metric=collection.metric.value, fusion=fusion
        )
        self._collection = collection
        self._async_collection = collection.async_twin(aio_client)
        # close() closes what this store made, never a client the caller passed in.
        self._owned_clients = [
            made for made, given in ((sync_client, client), (aio_client, async_client)) if given is None
        ]

    @classmethod
    def class_name(cls) -> str:
        return "ScintireteVectorStore"

    @property
    def client(self) -> ScintireteClient:
        """The blocking Scintirete client."""
        return self._collection.client

    @property
    def aclient(self) -> AsyncScintireteClient:
        """The asyncio Scintirete client."""
        return self._async_collection.client

    @property
    def collection(self) -> DocumentCollection:
        """The document collection underneath (e.g. for ``count()`` or ``save()``)."""
        return self._collection

    @property
    def async_collection(self) -> AsyncDocumentCollection:
        """The asyncio twin of :attr:`collection`, sharing its view."""
        return self._async_collection

    # -- writes

    def add(
        self,
        nodes: Sequence[BaseNode],
        *,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **add_kwargs: Any,
    ) -> list[str]:
        """Insert or replace nodes (by node id); returns their ids. Each node needs an embedding.

        Nodes are checked as a whole first, then written ``batch_size`` per write: a failure
        leaves the batches before it stored. ``progress=True`` keeps a status line on stderr, a
        callable gets ``(done, total)`` after each batch, and each batch is logged at INFO.
        """
        records, report = _prepared(nodes, batch_size, progress, "add")
        for batch in _record_batches(records, batch_size):
            self._collection.upsert(batch)
            report.advance(len(batch))
        return [record.id for record in records]

    async def async_add(
        self,
        nodes: Sequence[BaseNode],
        *,
        batch_size: int = _DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **add_kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add`."""
        records, report = _prepared(nodes, batch_size, progress, "async_add")
        for batch in _record_batches(records, batch_size):
            await self._async_collection.upsert(batch)
            report.advance(len(batch))
        return [record.id for record in records]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document ``ref_doc_id``."""
        self._collection.delete_group(ref_doc_id)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document ``ref_doc_id``."""
        await self._async_collection.delete_group(ref_doc_id)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete the nodes among ``node_ids`` that match ``filters`` (at least one must be given).

        ``filters`` with no condition (``MetadataFilters(filters=[])``) alone are refused;
        :meth:`clear` deletes every node::

            store.delete_nodes(["n1", "n2"])
            store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="draft", value=True)]))
        """
        where = _delete_filter(node_ids, filters)  # refuses a delete of everything
        if node_ids is None:
            if where is not None:
                self._collection.delete_where(where)
        elif where is None:
            self._collection.delete(node_ids)
        else:
            self._collection.delete(
                [record.id for record in in_order(self._collection.scan(where), node_ids)]
            )

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete the nodes among ``node_ids`` that match ``filters`` (at least one must be given)."""
        where = _delete_filter(node_ids, filters)  # refuses a delete of everything
        if node_ids is None:
            if where is not None:
                await self._async_collection.delete_where(where)
        elif where is None:
            await self._async_collection.delete(node_ids)
        else:
            records = await self._async_collection.scan(where)
            await self._async_collection.delete([record.id for record in in_order(records, node_ids)])

    def clear(self) -> None:
        """Delete every node, keeping the (empty) collection."""
        self._collection.clear()

    async def aclear(self) -> None:
        """Delete every node, keeping the (empty) collection."""
        await self._async_collection.clear()

    # -- reads

    def get_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[BaseNode]:
        """Nodes among ``node_ids`` (in that order) matching ``filters``; all nodes when neither is given.

        Without ``node_ids`` the nodes come oldest write first. ``offset`` nodes are skipped and
        at most ``limit`` returned, so pages follow one another::

            store.get_nodes(filters=recent, limit=100, offset=200)   # the third page of 100
        """
        wanted = _check_window(limit, offset)
        where = metadata_filters_to_filter(filters)
        if node_ids is None:
            records = self._collection.scan(where, limit=wanted) if wanted != 0 else []
        elif where is None:
            records = self._collection.get(node_ids)
        else:
            records = in_order(self._collection.scan(where), node_ids)
        return [record_to_node(record) for record in records[offset:wanted]]

    async def aget_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[BaseNode]:
        """Async :meth:`get_nodes`."""
        wanted = _check_window(limit, offset)
        where = metadata_filters_to_filter(filters)
        if node_ids is None:
            records = await self._async_collection.scan(where, limit=wanted) if wanted != 0 else []
        elif where is None:
            records = await self._async_collection.get(node_ids)
        else:
            records = in_order(await self._async_collection.scan(where), node_ids)
        return [record_to_node(record) for record in records[offset:wanted]]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Nodes for ``query`` in its mode (see the class docstring), passing every restriction."""
        search = _plan_search(query, kwargs)
        method, args, options = search.layer_call(self.fusion)
        hits = getattr(self._collection, method)(*args, **options)
        return search.result(hits, self._collection.metric)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Nodes for ``query`` in its mode (see the class docstring), passing every restriction."""
        search = _plan_search(query, kwargs)
        method, args, options = search.layer_call(self.fusion)
        hits = await getattr(self._async_collection, method)(*args, **options)
        return search.result(hits, self._collection.metric)


def _prepared(
    nodes: Iterable[BaseNode], batch_size: int, progress: ProgressArg, what: str
) -> tuple[list[Record], Progress]:
    """Every node as a record, checked before the first write, and the progress of writing them."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidArgumentError(f"batch_size must be a positive integer, got {batch_size!r}")
    records = [node_to_record(node) for node in nodes]
    return records, Progress(len(records), progress, _log, what)


def _record_batches(records: list[Record], batch_size: int) -> Iterable[list[Record]]:
    for start in range(0, len(records), batch_size):
        yield records[start : start + batch_size]


def _check_window(limit: int | None, offset: int) -> int | None:
    """How many records to read for ``limit`` after ``offset`` (None: all), once both are checked."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidArgumentError(f"limit must be a non-negative integer or None, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidArgumentError(f"offset must be a non-negative integer, got {offset!r}")
    return None if limit is None else offset + limit


def _delete_filter(node_ids: list[str] | None, filters: MetadataFilters | None) -> dict[str, Any] | None:
    if node_ids is None and filters is None:
        raise InvalidArgumentError(
            "delete_nodes needs node_ids, filters or both; to delete every node call clear()"
        )
    where = metadata_filters_to_filter(filters)
    if node_ids is None and where is None:
        raise InvalidArgumentError(
            f"delete_nodes(filters={filters!r}) would delete every node: the filters place no "
            "condition. To delete every node call clear()"
        )
    return where
