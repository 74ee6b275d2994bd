"""LlamaIndex nodes <-> document-layer records, and search hits as a ``VectorStoreQueryResult``.

Nodes map to records with LlamaIndex's own helpers: the record id is the node id, the record
text the node text, the record group the node's ``ref_doc_id``, and the record metadata
``node_to_metadata_dict(node, remove_text=True)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import VectorStoreQueryResult
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from .._metadata import plain_metadata
from ..documents import Record, ScoredRecord, similarity_score
from ..errors import InvalidArgumentError
from ..models import Metric

NODE_CONTENT_KEY = "_node_content"  # written by node_to_metadata_dict
REF_DOC_KEY = "ref_doc_id"  # written by node_to_metadata_dict: the node's ref_doc_id, or "None"


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
    if NODE_CONTENT_KEY not in record.metadata:
        raise InvalidArgumentError(
            f"record {record.id!r} was not written by LlamaIndex (it has no {NODE_CONTENT_KEY!r} field); "
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


def relevance_result(hits: Sequence[ScoredRecord]) -> VectorStoreQueryResult:
    """Keyword or hybrid hits as a LlamaIndex result: ``similarities`` are the layer's relevance.

    Keyword: ``bm25 / max_score(query)`` in [0, 1); hybrid: the fused score in [0, 1] (see
    :meth:`~scintirete_integrations.documents.DocumentCollection.search_hybrid`). Higher is better.
    """
    return VectorStoreQueryResult(
        nodes=[record_to_node(hit.record) for hit in hits],
        similarities=[hit.score for hit in hits],
        ids=[hit.record.id for hit in hits],
    )


def in_order(records: Iterable[Record], node_ids: Sequence[str]) -> list[Record]:
    """The records whose id is in ``node_ids``, in the order of ``node_ids``."""
    by_id = {record.id: record for record in records}
    return [by_id[node_id] for node_id in node_ids if node_id in by_id]
