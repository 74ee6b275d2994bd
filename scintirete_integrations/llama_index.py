"""LlamaIndex integration: :class:`ScintireteVectorStore` and :class:`ScintireteEmbedding`.

Install the extra with ``pip install "scintirete-integrations[llama-index]"``. Both classes are thin
over :mod:`scintirete_integrations.documents`, which owns ids, metadata encoding, filtering and MMR;
this module only maps LlamaIndex nodes, filters and queries onto it. Without an address (and without
``$SCINTIRETE_ADDRESS``) both start an embedded Scintirete Lite server in this process::

    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from scintirete_integrations.llama_index import ScintireteEmbedding, ScintireteVectorStore

    store = ScintireteVectorStore("papers", address="localhost:9090", password="pw")
    index = VectorStoreIndex.from_documents(
        [Document(text="HNSW is a graph index", metadata={"year": 2016})],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=ScintireteEmbedding(address="localhost:9090", password="pw"),  # server-side embeddings
    )
    index.as_retriever(similarity_top_k=3).retrieve("graph index")

Nodes map to document-layer records with LlamaIndex's own helpers: the record id is the node id,
the record text is the node text, the record group is the node's ``ref_doc_id``, and the record
metadata is ``node_to_metadata_dict(node, remove_text=True)`` (user metadata as top-level fields,
nested values and types kept, plus ``_node_content``, ``_node_type``, ``doc_id``, ``document_id``
and ``ref_doc_id``). ``MetadataFilters`` are translated through one table, :data:`FILTER_OPERATORS`,
into the filter language of :mod:`scintirete_integrations.filters`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.constants import DEFAULT_EMBED_BATCH_SIZE
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from ._demo_embeddings import MODEL_NAME, encode_with_model, require_model
from ._metadata import plain_metadata, plain_value
from ._progress import Progress, ProgressArg
from .client import USE_CLIENT_DEFAULT, AsyncScintireteClient, ScintireteClient, Timeout
from .documents import (
    AsyncDocumentCollection,
    ClosesWhatItMade,
    DocumentCollection,
    Record,
    ScoredRecord,
    resolve_clients,
    similarity_score,
)
from .errors import InvalidArgumentError, explain_embedding_failure
from .models import Metric

__all__ = [
    "FILTER_OPERATORS",
    "MiniLMEmbedding",
    "ScintireteEmbedding",
    "ScintireteVectorStore",
    "metadata_filters_to_filter",
    "node_to_record",
    "query_result",
    "record_to_node",
]

_log = logging.getLogger(__name__)
_DEFAULT_BATCH_SIZE = 256
_NODE_CONTENT_KEY = "_node_content"  # written by node_to_metadata_dict
_REF_DOC_KEY = "ref_doc_id"  # written by node_to_metadata_dict: the node's ref_doc_id, or "None"


# -- nodes <-> records -------------------------------------------------------------------------------


def node_to_record(node: BaseNode) -> Record:
    """The document-layer record for ``node``: id, text, embedding, group = ``ref_doc_id``, metadata."""
    if node.embedding is None:
        raise InvalidArgumentError(
            f"node {node.node_id!r} has no embedding; embed nodes before adding them "
            "(VectorStoreIndex and an IngestionPipeline with an embedding model do this)"
        )
    # The layer's rule (no datetime, sets, ...; numpy values as Python values) before LlamaIndex
    # serialises the node, on a copy: the caller's node is not changed.
    node = node.model_copy(update={"metadata": plain_metadata(node.metadata)})
    return Record(
        id=node.node_id,
        text=node.get_content(metadata_mode=MetadataMode.NONE),
        vector=node.embedding,
        metadata=node_to_metadata_dict(node, remove_text=True, flat_metadata=False),
        group=node.ref_doc_id,
    )


def record_to_node(record: Record) -> BaseNode:
    """The node stored as ``record``, with its text, metadata, relationships and type (no embedding)."""
    if _NODE_CONTENT_KEY not in record.metadata:
        raise InvalidArgumentError(
            f"record {record.id!r} was not written by LlamaIndex (it has no {_NODE_CONTENT_KEY!r} field); "
            "use a separate collection for LlamaIndex nodes"
        )
    return metadata_dict_to_node(dict(record.metadata), text=record.text)


def query_result(
    hits: Sequence[ScoredRecord], metric: Metric | str = Metric.COSINE
) -> VectorStoreQueryResult:
    """Search hits as a LlamaIndex result, with the similarities LlamaIndex's own stores report.

    For ``metric`` (the collection's): cosine similarity ``1 - d`` for cosine, the dot product
    for inner product, ``1 / (1 + d)`` for L2 (see :func:`~.documents.similarity_score`)::

        result = query_result(store.collection.search([0.1, 0.9], k=3), store.metric)
    """
    return VectorStoreQueryResult(
        nodes=[record_to_node(hit.record) for hit in hits],
        similarities=[similarity_score(metric, hit.distance) for hit in hits],
        ids=[hit.record.id for hit in hits],
    )


def _in_order(records: Iterable[Record], node_ids: Sequence[str]) -> list[Record]:
    """The records whose id is in ``node_ids``, in the order of ``node_ids``."""
    by_id = {record.id: record for record in records}
    return [by_id[node_id] for node_id in node_ids if node_id in by_id]


# -- MetadataFilters -> filters.py -------------------------------------------------------------------


def _op(name: str) -> Callable[[str, Any], dict[str, Any]]:
    return lambda key, value: {key: {name: value}}


def _text_match(name: str) -> Callable[[str, Any], dict[str, Any]]:
    def build(key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, str):
            raise InvalidArgumentError(
                f"a text-match filter on {key!r} needs a string value, got {type(value).__name__} {value!r}"
            )
        # "$gte": "" holds for every string and for nothing else: it keeps the match to string fields.
        return {key: {"$gte": "", name: value}}

    return build


def _is_empty(key: str, value: Any) -> dict[str, Any]:
    # As llama-index-core's build_metadata_filter_fn: missing, None, "" or [].
    return {"$or": [{key: {"$exists": False}}, {key: {"$eq": None}}, {key: {"$eq": ""}}, {key: {"$eq": []}}]}


#: The one translation table: a LlamaIndex operator, a key and a value -> a filter of filters.py.
FILTER_OPERATORS: Mapping[FilterOperator, Callable[[str, Any], dict[str, Any]]] = {
    FilterOperator.EQ: _op("$eq"),
    FilterOperator.NE: _op("$ne"),
    FilterOperator.GT: _op("$gt"),
    FilterOperator.GTE: _op("$gte"),
    FilterOperator.LT: _op("$lt"),
    FilterOperator.LTE: _op("$lte"),
    FilterOperator.IN: _op("$in"),
    FilterOperator.NIN: _op("$nin"),
    FilterOperator.ANY: _op("$in"),  # a list field with any element among the values
    FilterOperator.ALL: _op("$all"),  # a list field holding every one of the values
    FilterOperator.CONTAINS: _op("$contains"),  # a list element, or a substring of a string field
    FilterOperator.TEXT_MATCH: _text_match("$contains"),  # substring of a string field
    FilterOperator.TEXT_MATCH_INSENSITIVE: _text_match("$icontains"),
    FilterOperator.IS_EMPTY: _is_empty,  # missing, null, "" or an empty list
}


def metadata_filters_to_filter(filters: MetadataFilters | None) -> dict[str, Any] | None:
    """Translate LlamaIndex ``MetadataFilters`` into a filter of :mod:`scintirete_integrations.filters`.

    AND, OR and NOT nest to any depth. NOT means "none of the filters match", as in LlamaIndex's own
    ``build_metadata_filter_fn``. An empty ``MetadataFilters`` matches everything. Keys with dots
    reach into nested metadata (``"author.name"``), and a stored key holding dots wins over the
    path. Returns None when there is nothing to filter.

    >>> metadata_filters_to_filter(MetadataFilters(filters=[MetadataFilter(key="year", value=2020, operator=">=")]))
    {'year': {'$gte': 2020}}
    """
    if filters is None:
        return None
    return _translate(filters) or None


def _translate(filters: MetadataFilters) -> dict[str, Any]:
    parts = [
        _translate(item) if isinstance(item, MetadataFilters) else _translate_one(item)
        for item in filters.filters
    ]
    if not parts:
        return {}
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return parts[0] if len(parts) == 1 else {"$and": parts}
    any_of = parts[0] if len(parts) == 1 else {"$or": parts}
    if condition == FilterCondition.OR:
        return any_of
    if condition == FilterCondition.NOT:
        return {"$not": any_of}
    supported = ", ".join(c.value for c in FilterCondition)
    raise InvalidArgumentError(f"filter condition {condition!r} is not supported; supported: {supported}")


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _float32_value(value: Any) -> Any:
    """A float that is exactly a float32 value, read as that float32 (see ``_metadata.plain_value``).

    ``MetadataFilter`` turns a numpy value into a Python float before the store sees it:
    ``np.float32(0.1)`` arrives as ``0.10000000149011612``, while the store holds it as ``0.1``.
    Only floats that a float32 widens to change; ``0.1`` or ``2.5`` stay as they are.
    """
    if isinstance(value, list):
        return [_float32_value(item) for item in value]
    if type(value) is float and abs(value) <= _FLOAT32_MAX and float(np.float32(value)) == value:
        return plain_value(np.float32(value))
    return value


def _translate_one(item: MetadataFilter) -> dict[str, Any]:
    build = FILTER_OPERATORS.get(item.operator)
    if build is None:
        supported = ", ".join(op.name for op in FILTER_OPERATORS)
        raise InvalidArgumentError(
            f"filter operator {item.operator!r} on key {item.key!r} is not supported by "
            f"ScintireteVectorStore; supported: {supported}"
        )
    return build(item.key, _float32_value(item.value))


# -- VectorStoreQuery -> a search --------------------------------------------------------------------

_SUPPORTED_MODES = (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR)
_MODES = {mode.value: mode for mode in VectorStoreQueryMode}  # a mode given as a plain string counts too
_QUERY_KWARGS = ("mmr_threshold", "mmr_prefetch_k", "mmr_prefetch_factor")
_DEFAULT_MMR_LAMBDA = 0.5
_DEFAULT_MMR_PREFETCH_FACTOR = 4.0


@dataclass(frozen=True)
class _Search:
    """What the document layer is asked for one ``VectorStoreQuery``."""

    vector: list[float]
    k: int
    filter: dict[str, Any] | None
    ids: list[str] | None
    mmr: bool
    fetch_k: int
    lambda_mult: float


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
            f"{', '.join(repr(m.value) for m in _SUPPORTED_MODES)} (dense vector search; no sparse, "
            "hybrid, text-search or learner modes)"
        )
    if query.query_embedding is None:
        raise InvalidArgumentError(
            "VectorStoreQuery.query_embedding is required: ScintireteVectorStore searches by vector "
            "(query_str alone is not searchable)"
        )
    where = metadata_filters_to_filter(query.filters)
    if query.doc_ids:
        by_doc = {_REF_DOC_KEY: {"$in": list(query.doc_ids)}}
        where = by_doc if where is None else {"$and": [where, by_doc]}
    k = query.similarity_top_k
    mmr = mode == VectorStoreQueryMode.MMR
    lambda_mult = query.mmr_threshold if query.mmr_threshold is not None else kwargs.get("mmr_threshold")
    prefetch_k = kwargs.get("mmr_prefetch_k")
    if prefetch_k is None:
        prefetch_k = math.ceil(k * float(kwargs.get("mmr_prefetch_factor", _DEFAULT_MMR_PREFETCH_FACTOR)))
    return _Search(
        vector=list(query.query_embedding),
        k=k,
        filter=where,
        ids=list(query.node_ids) if query.node_ids else None,
        mmr=mmr,
        fetch_k=int(prefetch_k),
        lambda_mult=_DEFAULT_MMR_LAMBDA if lambda_mult is None else float(lambda_mult),
    )


# -- the vector store --------------------------------------------------------------------------------


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
    ``mmr_prefetch_factor``). ``filters`` support every ``FilterOperator`` (see
    :data:`FILTER_OPERATORS`) and AND/OR/NOT nesting; ``node_ids`` restricts to those nodes and
    ``doc_ids`` to nodes of those source documents (``ref_doc_id``). As in LlamaIndex's own
    stores, an empty list there means no restriction (``VectorStoreIndex.as_retriever`` passes
    ``node_ids=[]``). Anything else raises ``InvalidArgumentError``. In ``get_nodes`` and
    ``delete_nodes``, by contrast, ``node_ids=[]`` selects no node.

    ``similarities`` follow LlamaIndex's own stores (``SimpleVectorStore``, Qdrant, Postgres),
    higher is closer, from the server distance d: cosine the cosine similarity ``1 - d`` (in
    [-1, 1]); inner product the dot product ``-d``; L2 ``1 / (1 + d)``. A ``similarity_cutoff``
    written for those stores keeps the same nodes here.
    Returned nodes carry text, metadata, relationships and type, but no embedding.
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str = Field(description="The Scintirete collection.")
    db_name: str = Field(description="The Scintirete database.")
    metric: str = Field(description="Distance metric: 'cosine', 'l2' or 'inner_product'.")

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
        exact_search_limit: int = 20_000,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
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
        )
        super().__init__(  # type: ignore[call-arg]  # pydantic fields, unseen by mypy's synthesized __init__
            collection_name=collection_name, db_name=db_name, metric=collection.metric.value
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
                [record.id for record in _in_order(self._collection.scan(where), node_ids)]
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
            await self._async_collection.delete([record.id for record in _in_order(records, node_ids)])

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
            records = _in_order(self._collection.scan(where), node_ids)
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
            records = _in_order(await self._async_collection.scan(where), node_ids)
        return [record_to_node(record) for record in records[offset:wanted]]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nearest nodes (or an MMR selection) passing every restriction."""
        search = _plan_search(query, kwargs)
        if search.mmr:
            hits = self._collection.mmr(
                search.vector,
                search.k,
                fetch_k=search.fetch_k,
                lambda_mult=search.lambda_mult,
                filter=search.filter,
                ids=search.ids,
            )
        else:
            hits = self._collection.search(search.vector, search.k, filter=search.filter, ids=search.ids)
        return query_result(hits, self._collection.metric)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nearest nodes (or an MMR selection) passing every restriction."""
        search = _plan_search(query, kwargs)
        if search.mmr:
            hits = await self._async_collection.mmr(
                search.vector,
                search.k,
                fetch_k=search.fetch_k,
                lambda_mult=search.lambda_mult,
                filter=search.filter,
                ids=search.ids,
            )
        else:
            hits = await self._async_collection.search(
                search.vector, search.k, filter=search.filter, ids=search.ids
            )
        return query_result(hits, self._collection.metric)


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


# -- the embedding model -----------------------------------------------------------------------------


# Added to the server's "failed to get embeddings" when ScintireteEmbedding asked it to embed.
_PASS_EMBED_MODEL = (
    "ScintireteEmbedding embeds on the server: pass another embed_model to the index (or set "
    "Settings.embed_model, e.g. OpenAIEmbedding()), or configure an embedding model on the server"
)


class ScintireteEmbedding(BaseEmbedding):
    """LlamaIndex embedding model computed by the Scintirete server (the EmbedText RPC).

    ::

        from llama_index.core import Settings, VectorStoreIndex
        from scintirete_integrations.llama_index import ScintireteEmbedding

        embed = ScintireteEmbedding(
            model_name="text-embedding-3-small",   # "" (default): the server's default model
            embed_batch_size=64,                   # texts per EmbedText call
            address="localhost:9090",
            password="pw",
        )
        vector = embed.get_text_embedding("hello")
        Settings.embed_model = embed                # or pass embed_model= to an index

    Connection arguments are those of :class:`ScintireteVectorStore`. Queries and texts are embedded
    alike; sync methods use the blocking client and async methods the asyncio client.
    """

    model_name: str = Field(default="", description="Server embedding model; empty for the server's default.")

    _client: ScintireteClient = PrivateAttr()
    _aclient: AsyncScintireteClient = PrivateAttr()
    _timeout: Timeout = PrivateAttr()

    def __init__(
        self,
        model_name: str = "",
        embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE,
        *,
        address: str | None = None,
        password: str | None = None,
        client: ScintireteClient | None = None,
        async_client: AsyncScintireteClient | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        client_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        sync_client, aio_client = resolve_clients(
            address=address,
            password=password,
            data_dir=data_dir,
            client=client,
            async_client=async_client,
            **dict(client_options or {}),
        )
        super().__init__(model_name=model_name, embed_batch_size=embed_batch_size, **kwargs)
        self._client = sync_client
        self._aclient = aio_client
        self._timeout = timeout

    @classmethod
    def class_name(cls) -> str:
        return "ScintireteEmbedding"

    @property
    def client(self) -> ScintireteClient:
        """The blocking Scintirete client."""
        return self._client

    @property
    def aclient(self) -> AsyncScintireteClient:
        """The asyncio Scintirete client."""
        return self._aclient

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        with explain_embedding_failure(_PASS_EMBED_MODEL):
            return self._client.embed_text(texts, model=self.model_name or None, timeout=self._timeout)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        with explain_embedding_failure(_PASS_EMBED_MODEL):
            return await self._aclient.embed_text(texts, model=self.model_name or None, timeout=self._timeout)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self._aget_text_embedding(query)


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 embeddings computed in this process, on CPU, offline: 384-d, unit length.

    Needs the ``model`` extra (``pip install torch==2.13.0 'scintirete-integrations[model]'``);
    without it, making one raises ``ModelUnavailableError`` (a ``RuntimeError``) saying what to
    install. The model loads on the first text and is shared by every instance::

        from llama_index.core import Settings
        from scintirete_integrations.llama_index import MiniLMEmbedding

        Settings.embed_model = MiniLMEmbedding()
    """

    model_name: str = Field(default=MODEL_NAME, description="The local model (fixed).")

    def __init__(self, embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE, **kwargs: Any) -> None:
        require_model("MiniLMEmbedding")
        super().__init__(model_name=MODEL_NAME, embed_batch_size=embed_batch_size, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return encode_with_model(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return encode_with_model(texts)

    def _get_text_embedding(self, text: str) -> Embedding:
        return encode_with_model([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return encode_with_model([text])[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return encode_with_model([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return encode_with_model([query])[0]
