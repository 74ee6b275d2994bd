"""LlamaIndex integration: :class:`ScintireteVectorStore` and :class:`ScintireteEmbedding`.

Install the extra with ``pip install "scintirete-integrations[llama-index]"``. Both classes are thin
over :mod:`scintirete_integrations.documents`, which owns ids, metadata encoding, filtering and MMR;
this package only maps LlamaIndex nodes, filters and queries onto it. Without an address (and without
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

The package, one job per module: :mod:`.nodes` (nodes <-> records and query results),
:mod:`.metadata_filters` (``MetadataFilters`` -> the layer's filters), :mod:`.queries`
(``VectorStoreQuery`` -> a document-layer search), :mod:`.store` (the vector store) and
:mod:`.embeddings` (server-side and local embedding models).
"""

from __future__ import annotations

from .embeddings import MiniLMEmbedding, ScintireteEmbedding
from .metadata_filters import FILTER_OPERATORS, metadata_filters_to_filter
from .nodes import node_to_record, query_result, record_to_node
from .store import ScintireteVectorStore

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
