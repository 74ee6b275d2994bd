"""TEXT_SEARCH, SPARSE and HYBRID queries through the LlamaIndex store, the way users run them:
``VectorStoreIndex.from_documents(...).as_retriever(vector_store_query_mode=...)``.

The rankings are the document layer's (tests/integration/test_keyword_search.py); each query
must return what the layer returns for the depths and alpha LlamaIndex passes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from scintirete_integrations import InvalidArgumentError
from scintirete_integrations.lite import HashEmbeddings
from scintirete_integrations.llama_index import ScintireteVectorStore

DB = "llama_index_modes"
_HASH = HashEmbeddings(64)


class CountingEmbedding(BaseEmbedding):
    """Word-hash vectors (offline, not semantic), counting the queries embedded."""

    queries: int = 0

    def _get_text_embedding(self, text: str) -> Embedding:
        return [float(x) for x in _HASH.embed_one(text)]

    def _get_query_embedding(self, query: str) -> Embedding:
        self.queries += 1
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)


RUNBOOK = [
    ("disk", "Disk full: the storage driver raised ERR_4031 and stopped writing.", {"team": "storage"}),
    ("quota", "When the quota is reached, err 4031 appears in the storage log.", {"team": "storage"}),
    ("network", "Network partitions raise ERR_5002 in parseHTTPResponse.", {"team": "net"}),
    ("restart", "Restart the storage driver after replacing a failed disk.", {"team": "storage"}),
    ("dns", "DNS lookups time out when the resolver is down.", {"team": "net"}),
    ("power", "A power cut stops every node until the supply is replaced.", {"team": "ops"}),
]
QUERY = "ERR_4031 storage driver"


@pytest.fixture
def embed() -> CountingEmbedding:
    return CountingEmbedding()


def make_index(address: str, password: str, embed: CountingEmbedding, **options: Any) -> VectorStoreIndex:
    store = ScintireteVectorStore(
        f"lim-{uuid.uuid4().hex[:10]}", DB, address=address, password=password, **options
    )
    documents = [Document(text=text, doc_id=doc_id, metadata=meta) for doc_id, text, meta in RUNBOOK]
    return VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed
    )


@pytest.fixture
def index(address: str, password: str, embed: CountingEmbedding) -> Iterator[VectorStoreIndex]:
    built = make_index(address, password, embed)
    yield built
    built.vector_store.collection.drop()  # type: ignore[attr-defined]


def store_of(index: VectorStoreIndex) -> ScintireteVectorStore:
    store = index.vector_store
    assert isinstance(store, ScintireteVectorStore)
    return store


def docs_of(nodes: list[Any]) -> list[str]:
    return [n.node.ref_doc_id for n in nodes]


def node_pairs(nodes: list[Any]) -> list[tuple[str, float]]:
    return [(n.node.node_id, n.score) for n in nodes]


def hit_pairs(hits: list[Any]) -> list[tuple[str, float]]:
    return [(hit.record.id, hit.score) for hit in hits]


def assert_same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    """The same nodes in the same order, with the same scores up to float rounding."""
    assert [sid for sid, _ in got] == [sid for sid, _ in want]
    assert [score for _, score in got] == pytest.approx([score for _, score in want], abs=1e-9)


@pytest.mark.parametrize("mode", ["text_search", VectorStoreQueryMode.TEXT_SEARCH])
async def test_text_search_is_bm25_on_the_query_text_and_embeds_nothing(
    index: VectorStoreIndex, embed: CountingEmbedding, mode: Any
) -> None:
    before = embed.queries
    retriever = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=3)
    nodes = retriever.retrieve(QUERY)
    assert node_pairs(nodes) == hit_pairs(store_of(index).collection.search_keywords(QUERY, 3))
    assert docs_of(nodes)[0] == "disk"  # the whole identifier and both words
    assert all(0 < (n.score or 0) < 1 for n in nodes)
    assert node_pairs(await retriever.aretrieve(QUERY)) == node_pairs(nodes)
    assert embed.queries == before
    assert index.as_retriever(vector_store_query_mode=mode).retrieve("no such words") == []


async def test_sparse_is_the_same_bm25_with_sparse_top_k(
    index: VectorStoreIndex, embed: CountingEmbedding
) -> None:
    before = embed.queries
    sparse = index.as_retriever(vector_store_query_mode="sparse", similarity_top_k=2, sparse_top_k=4)
    nodes = sparse.retrieve(QUERY)
    assert len(nodes) == 4
    text = index.as_retriever(vector_store_query_mode="text_search", similarity_top_k=4).retrieve(QUERY)
    assert node_pairs(nodes) == node_pairs(text)
    assert node_pairs(await sparse.aretrieve(QUERY)) == node_pairs(nodes)
    assert embed.queries == before


@pytest.mark.parametrize("alpha", [None, 0.0, 0.3, 1.0])
async def test_hybrid_fuses_with_alpha_and_the_three_depths(
    index: VectorStoreIndex, embed: CountingEmbedding, alpha: float | None
) -> None:
    options: dict[str, Any] = {} if alpha is None else {"alpha": alpha}
    retriever = index.as_retriever(
        vector_store_query_mode="hybrid", similarity_top_k=5, sparse_top_k=4, hybrid_top_k=3, **options
    )
    nodes = retriever.retrieve(QUERY)
    vector = embed.get_query_embedding(QUERY)
    collection = store_of(index).collection
    want = collection.search_hybrid(
        QUERY, vector, 3, alpha=0.5 if alpha is None else alpha, dense_k=5, keyword_k=4
    )
    assert_same(node_pairs(nodes), hit_pairs(want))
    assert len(nodes) == 3
    assert_same(node_pairs(await retriever.aretrieve(QUERY)), node_pairs(nodes))
    if alpha == 1.0:
        dense = index.as_retriever(similarity_top_k=3).retrieve(QUERY)
        assert [n.node.node_id for n in nodes] == [n.node.node_id for n in dense]
    if alpha == 0.0:
        assert [n.node.node_id for n in nodes] == [h.record.id for h in collection.search_keywords(QUERY, 3)]


def test_hybrid_top_k_defaults_to_similarity_top_k(index: VectorStoreIndex) -> None:
    nodes = index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=4).retrieve(QUERY)
    assert len(nodes) == 4 and docs_of(nodes)[0] == "disk"


def test_a_store_made_with_rrf_fuses_hybrid_queries_by_rank(
    address: str, password: str, embed: CountingEmbedding
) -> None:
    index = make_index(address, password, embed, fusion="rrf")
    try:
        store = store_of(index)
        assert store.fusion == "rrf"
        nodes = index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=6, alpha=0.4).retrieve(
            QUERY
        )
        want = store.collection.search_hybrid(
            QUERY, embed.get_query_embedding(QUERY), 6, fusion="rrf", alpha=0.4, dense_k=6, keyword_k=6
        )
        assert_same(node_pairs(nodes), hit_pairs(want))
    finally:
        store_of(index).collection.drop()
    with pytest.raises(InvalidArgumentError, match="fusion must be one of 'relative', 'rrf'"):
        ScintireteVectorStore("x", DB, address=address, password=password, fusion="max")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["text_search", "sparse", "hybrid"])
def test_filters_doc_ids_and_node_ids_apply_in_every_mode(index: VectorStoreIndex, mode: str) -> None:
    storage = MetadataFilters(filters=[MetadataFilter(key="team", value="storage")])
    nodes = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=6, filters=storage).retrieve(
        QUERY
    )
    assert nodes and {n.node.metadata["team"] for n in nodes} == {"storage"}
    by_doc = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=6, doc_ids=["quota", "dns"])
    assert set(docs_of(by_doc.retrieve(QUERY))) <= {"quota", "dns"}
    assert "quota" in docs_of(by_doc.retrieve(QUERY))
    store = store_of(index)
    some = [n.node_id for n in store.get_nodes()][:2]
    query = VectorStoreQuery(
        query_str=QUERY,
        query_embedding=_HASH.embed_one(QUERY),
        similarity_top_k=6,
        node_ids=some,
        mode=mode,  # type: ignore[arg-type]
    )
    assert set(store.query(query).ids or []) <= set(some)


def test_keyword_modes_need_query_text_and_other_modes_still_raise(index: VectorStoreIndex) -> None:
    store = store_of(index)
    with pytest.raises(InvalidArgumentError, match="query_str is required in mode 'text_search'"):
        store.query(
            VectorStoreQuery(query_embedding=_HASH.embed_one("x"), mode=VectorStoreQueryMode.TEXT_SEARCH)
        )
    with pytest.raises(
        InvalidArgumentError, match=r"'semantic_hybrid' is not supported.*'text_search', 'sparse', 'hybrid'"
    ):
        index.as_retriever(vector_store_query_mode="semantic_hybrid").retrieve(QUERY)
