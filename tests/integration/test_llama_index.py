"""ScintireteVectorStore and ScintireteEmbedding over real gRPC to Scintirete Lite.

LlamaIndex drives the store (VectorStoreIndex, retrievers, query engines with MockLLM,
IngestionPipeline); filters are checked against a brute-force evaluation written here.
Each test gets its own collection. Embeddings are deterministic and offline.
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.schema import NodeRelationship, NodeWithScore, RelatedNodeInfo, TextNode
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)

from scintirete_integrations import InvalidArgumentError, ScintireteError
from scintirete_integrations.client import ScintireteClient
from scintirete_integrations.lite import HashEmbeddings, LiteServer
from scintirete_integrations.llama_index import ScintireteEmbedding, ScintireteVectorStore

DB = "llama_index"
F = FilterOperator
AND, OR, NOT = FilterCondition.AND, FilterCondition.OR, FilterCondition.NOT
_HASH = HashEmbeddings(64)


class WordHashEmbedding(BaseEmbedding):
    """Deterministic, offline and not semantic: texts sharing words get close vectors."""

    def _get_text_embedding(self, text: str) -> Embedding:
        return [float(x) for x in _HASH.embed_one(text)]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)


EMBED = WordHashEmbedding()

DOCS = [
    ("cats", "The cat sat on the warm mat by the fire and purred.", {"topic": "pets", "year": 2021}),
    (
        "quantum",
        "Quantum computers use qubits, superposition and entanglement.",
        {"topic": "physics", "year": 2023},
    ),
    (
        "bread",
        "Sourdough bread needs flour, water, salt and a lively starter.",
        {"topic": "food", "year": 2022},
    ),
]
QUESTIONS = {
    "cats": "which cat sat on the warm mat?",
    "quantum": "qubits and superposition in quantum computers",
    "bread": "sourdough flour water salt starter",
}


def _documents() -> list[Document]:
    return [Document(text=text, doc_id=doc_id, metadata=dict(meta)) for doc_id, text, meta in DOCS]


def _new_store(address: str, password: str, **options: Any) -> ScintireteVectorStore:
    return ScintireteVectorStore(
        f"li-{uuid.uuid4().hex[:10]}", DB, address=address, password=password, **options
    )


@pytest.fixture
def store(address: str, password: str) -> Iterator[ScintireteVectorStore]:
    vector_store = _new_store(address, password)
    yield vector_store
    vector_store.collection.drop()
    vector_store.client.close()


@pytest.fixture
async def astore(address: str, password: str) -> AsyncIterator[ScintireteVectorStore]:
    vector_store = _new_store(address, password)
    yield vector_store
    await vector_store.async_collection.drop()
    await vector_store.aclient.close()
    vector_store.client.close()


def _index(store: ScintireteVectorStore, documents: list[Document] | None = None) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(
        documents if documents is not None else _documents(),
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=EMBED,
    )


def _node(node_id: str, vector: list[float], ref_doc: str | None = None, **metadata: Any) -> TextNode:
    node = TextNode(id_=node_id, text=f"text of {node_id}", metadata=metadata, embedding=vector)
    if ref_doc is not None:
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=ref_doc)
    return node


def _texts_by_doc(store: ScintireteVectorStore) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in store.get_nodes():
        out.setdefault(node.ref_doc_id or "", []).append(node.get_content())
    return out


# -- the index, retrievers and query engines ------------------------------------------------------


def test_from_documents_retriever_and_query_engine(store: ScintireteVectorStore) -> None:
    index = _index(store)
    assert store.collection.count() == 3
    retriever = index.as_retriever(similarity_top_k=3)
    for doc_id, question in QUESTIONS.items():
        hits = retriever.retrieve(question)
        assert len(hits) == 3
        assert hits[0].node.ref_doc_id == doc_id
        scores = [hit.get_score() for hit in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0 <= s <= 1.0 for s in scores)  # cosine similarities
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
    response = engine.query(QUESTIONS["bread"])
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["bread"]
    assert "Sourdough bread" in str(response)  # MockLLM echoes its prompt, which holds the context
    assert response.source_nodes[0].node.metadata == {"topic": "food", "year": 2022}


def test_retriever_filters_and_doc_ids(store: ScintireteVectorStore) -> None:
    index = _index(store)
    after_2021 = MetadataFilters(filters=[MetadataFilter(key="year", value=2021, operator=F.GT)])
    hits = index.as_retriever(similarity_top_k=5, filters=after_2021).retrieve(QUESTIONS["cats"])
    assert sorted(h.node.ref_doc_id or "" for h in hits) == ["bread", "quantum"]
    hits = index.as_retriever(similarity_top_k=5, doc_ids=["cats"]).retrieve(QUESTIONS["quantum"])
    assert [h.node.ref_doc_id for h in hits] == ["cats"]


def test_insert_delete_ref_doc_and_refresh(store: ScintireteVectorStore) -> None:
    index = _index(store)
    index.insert(Document(text="Rust has ownership, borrowing and lifetimes.", doc_id="rust"))
    assert store.collection.count() == 4
    hit = index.as_retriever(similarity_top_k=1).retrieve("ownership borrowing lifetimes")[0]
    assert hit.node.ref_doc_id == "rust"

    index.delete_ref_doc("cats")
    assert store.collection.count() == 3
    assert "cats" not in _texts_by_doc(store)

    changed = [
        Document(
            text="Quantum annealers minimise energy landscapes.", doc_id="quantum", metadata={"year": 2024}
        ),
        Document(text=DOCS[2][1], doc_id="bread", metadata=dict(DOCS[2][2])),
    ]
    assert index.refresh_ref_docs(changed) == [True, False]
    assert store.collection.count() == 3
    assert _texts_by_doc(store)["quantum"] == ["Quantum annealers minimise energy landscapes."]
    top = index.as_retriever(similarity_top_k=1).retrieve("annealers energy landscapes")[0]
    assert top.node.ref_doc_id == "quantum" and top.node.metadata == {"year": 2024}


def test_ingestion_pipeline_updates_instead_of_duplicating(store: ScintireteVectorStore) -> None:
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=32, chunk_overlap=0), EMBED],
        vector_store=store,
        docstore=SimpleDocumentStore(),
    )
    long_text = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(12))
    docs = [Document(text=long_text, doc_id="long"), *_documents()]
    first = pipeline.run(documents=docs)
    count = store.collection.count()
    assert count == len(first) > len(docs)
    assert pipeline.run(documents=docs) == []  # unchanged: nothing re-ingested
    assert store.collection.count() == count

    changed = [docs[0], Document(text="The dog slept under the table.", doc_id="cats"), *docs[2:]]
    assert len(pipeline.run(documents=changed)) == 1
    assert store.collection.count() == count  # one chunk replaced by one chunk
    assert _texts_by_doc(store)["cats"] == ["The dog slept under the table."]
    assert len(_texts_by_doc(store)["long"]) == len([n for n in first if n.ref_doc_id == "long"])


# -- node round trip, get/delete, clear -----------------------------------------------------------


def test_nodes_round_trip_exactly(store: ScintireteVectorStore) -> None:
    metadata = {
        "page": 3,
        "ratio": 1.0,
        "ok": False,
        "none": None,
        "tags": ["a", 1],
        "author": {"name": "Ada"},
    }
    node = TextNode(
        id_="n1",
        text="exact text\nwith lines",
        metadata=metadata,
        excluded_llm_metadata_keys=["page"],
        excluded_embed_metadata_keys=["author"],
        start_char_idx=5,
        end_char_idx=25,
        embedding=[0.6, 0.8],
        relationships={
            NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc"),
            NodeRelationship.NEXT: RelatedNodeInfo(node_id="n2"),
        },
    )
    assert store.add([node]) == ["n1"]
    for back in (
        store.get_nodes(["n1"])[0],
        (store.query(VectorStoreQuery(query_embedding=[0.6, 0.8])).nodes or [])[0],
    ):
        assert type(back) is TextNode
        assert back.get_content() == node.get_content()
        assert back.metadata == metadata
        assert {k: type(v) for k, v in back.metadata.items()} == {k: type(v) for k, v in metadata.items()}
        assert back.relationships == node.relationships
        assert back.ref_doc_id == "doc"
        assert back.excluded_llm_metadata_keys == ["page"] and back.excluded_embed_metadata_keys == ["author"]
        assert (back.start_char_idx, back.end_char_idx) == (5, 25)
        assert back.hash == node.hash


def test_add_replaces_by_node_id_and_needs_embeddings(store: ScintireteVectorStore) -> None:
    assert store.add([]) == []
    assert store.add(n for n in [_node("a", [1.0, 0.0]), _node("b", [0.0, 1.0])]) == ["a", "b"]  # type: ignore[arg-type]
    assert store.add([_node("a", [1.0, 0.1], v=2)]) == ["a"]
    assert store.collection.count() == 2
    assert store.get_nodes(["a"])[0].metadata == {"v": 2}
    with pytest.raises(InvalidArgumentError, match="node 'c' has no embedding"):
        store.add([TextNode(id_="c", text="no vector")])


def test_get_nodes_and_delete_nodes(store: ScintireteVectorStore) -> None:
    store.add([_node(f"n{i}", [1.0, float(i)], ref_doc=f"d{i % 2}", i=i) for i in range(6)])
    small = MetadataFilters(filters=[MetadataFilter(key="i", value=3, operator=F.LT)])
    assert [n.node_id for n in store.get_nodes()] == [f"n{i}" for i in range(6)]
    assert [n.node_id for n in store.get_nodes(["n4", "missing", "n1"])] == ["n4", "n1"]
    assert [n.node_id for n in store.get_nodes(filters=small)] == ["n0", "n1", "n2"]
    assert [n.node_id for n in store.get_nodes(["n5", "n2", "n0"], filters=small)] == ["n2", "n0"]
    assert store.get_nodes([]) == []

    store.delete_nodes(["n5", "n0"], filters=small)  # both: only n0 matches
    assert [n.node_id for n in store.get_nodes()] == ["n1", "n2", "n3", "n4", "n5"]
    store.delete_nodes(filters=small)
    assert [n.node_id for n in store.get_nodes()] == ["n3", "n4", "n5"]
    store.delete_nodes(["n4", "unknown"])
    assert [n.node_id for n in store.get_nodes()] == ["n3", "n5"]
    store.delete("d1")  # n3 and n5 both come from d1
    assert store.get_nodes() == []
    with pytest.raises(
        InvalidArgumentError, match="needs node_ids, filters or both; to delete every node call clear"
    ):
        store.delete_nodes()


def test_delete_nodes_with_empty_filters_is_refused_and_clear_deletes_everything(
    store: ScintireteVectorStore,
) -> None:
    store.add([_node(f"n{i}", [1.0, float(i)]) for i in range(3)])
    with pytest.raises(InvalidArgumentError, match=r"would delete every node.*call clear"):
        store.delete_nodes(filters=MetadataFilters(filters=[]))
    assert store.collection.count() == 3
    store.delete_nodes(["n0"], filters=MetadataFilters(filters=[]))  # the ids alone decide
    assert store.collection.count() == 2
    store.clear()
    assert store.get_nodes() == []
    store.add([_node("again", [0.0, 1.0])])  # the collection is still usable
    assert [n.node_id for n in store.get_nodes()] == ["again"]


def test_a_second_store_on_the_same_collection_sees_and_deletes_the_same_nodes(
    store: ScintireteVectorStore, address: str, password: str
) -> None:
    other = ScintireteVectorStore(
        store.collection_name, DB, client=ScintireteClient(address, password=password)
    )
    try:
        store.add([_node("a", [1.0, 0.0], ref_doc="d1"), _node("b", [0.0, 1.0], ref_doc="d2")])
        assert {n.node_id for n in other.get_nodes()} == {"a", "b"}
        other.delete_nodes(["a"])
        assert store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=5)).ids == ["b"]
        store.add([_node("c", [1.0, 1.0], ref_doc="d2")])
        other.delete("d2")
        assert store.get_nodes() == [] and other.collection.count() == 0
    finally:
        other.client.close()


def test_embedded_lite_server_when_no_address_is_given() -> None:
    embedded = ScintireteVectorStore(f"li-embedded-{uuid.uuid4().hex[:8]}")
    try:
        embedded.add([_node("a", [1.0, 0.0]), _node("b", [0.0, 1.0])])
        assert embedded.query(VectorStoreQuery(query_embedding=[0.1, 1.0])).ids == ["b"]
    finally:
        embedded.collection.drop()
        embedded.client.close()


def test_store_attributes(store: ScintireteVectorStore) -> None:
    assert ScintireteVectorStore.class_name() == "ScintireteVectorStore"
    assert store.stores_text is True and store.flat_metadata is False and store.is_embedding_query is True
    assert (store.db_name, store.metric) == (DB, "cosine")
    assert isinstance(store.client, ScintireteClient)
    assert store.aclient.address == store.client.address
    assert store.collection.name == store.async_collection.name == store.collection_name
    assert "password" not in str(store.to_dict())
    tuned = ScintireteVectorStore(
        "tuned", DB, metric="l2", address=store.client.address, client_options={"timeout": 3.0}
    )
    assert (tuned.metric, tuned.client.timeout, tuned.aclient.timeout) == ("l2", 3.0, 3.0)
    # The same connection settings as the LangChain store: timeout= bounds the store's calls.
    timed = ScintireteVectorStore("timed", DB, address=store.client.address, timeout=2.5)
    assert timed.collection.timeout == timed.async_collection.timeout == 2.5
    embed = ScintireteEmbedding(address=store.client.address, timeout=2.5, client_options={"timeout": 3.0})
    assert (embed._timeout, embed.client.timeout) == (2.5, 3.0)
    with pytest.raises(InvalidArgumentError, match="not both"):
        ScintireteVectorStore(address="localhost:1", client=store.client)


# -- query: scores, restrictions, MMR, errors ------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "second"),
    [("cosine", 0.0), ("l2", 1 / (1 + math.sqrt(2))), ("inner_product", 0.0)],
)
def test_similarities_per_metric(address: str, password: str, metric: str, second: float) -> None:
    vector_store = _new_store(address, password, metric=metric)
    try:
        vector_store.add([_node("x", [1.0, 0.0, 0.0]), _node("y", [0.0, 1.0, 0.0])])
        result = vector_store.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2))
        assert result.ids == ["x", "y"]
        assert result.similarities == pytest.approx([1.0, second], abs=1e-6)
    finally:
        vector_store.collection.drop()
        vector_store.client.close()


def test_scores_and_a_cutoff_carry_over_from_simple_vector_store(store: ScintireteVectorStore) -> None:
    """LlamaIndex's own SimpleVectorStore reports the cosine similarity; so does this store."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(30, 16))
    nodes = [_node(f"n{i}", [float(x) for x in row]) for i, row in enumerate(vectors)]
    simple = SimpleVectorStore()
    simple.add([_node(node.node_id, node.get_embedding()) for node in nodes])
    store.add(nodes)
    cutoff = SimilarityPostprocessor(similarity_cutoff=0.5)
    near, unrelated, opposite = vectors[3] + rng.normal(scale=0.3, size=16), rng.normal(size=16), -vectors[5]
    for query_vector in (near, unrelated, opposite):
        query = VectorStoreQuery(query_embedding=[float(x) for x in query_vector], similarity_top_k=8)
        ours, theirs = store.query(query), simple.query(query)
        assert ours.ids == theirs.ids
        assert ours.similarities == pytest.approx(theirs.similarities, abs=1e-5)
        kept = [
            [hit.node.node_id for hit in cutoff.postprocess_nodes(_scored_nodes(result))]
            for result in (ours, theirs)
        ]
        assert kept[0] == kept[1]
        if query_vector is near:
            assert kept[0][0] == "n3"
        else:  # an unrelated query keeps (almost) nothing, as on SimpleVectorStore; (1 + cos) / 2 kept all 8
            assert len(ours.ids or []) == 8 and len(kept[0]) <= 1


def _scored_nodes(result: VectorStoreQueryResult) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(id_=node_id), score=score)
        for node_id, score in zip(result.ids or [], result.similarities or [], strict=True)
    ]


def test_node_ids_and_doc_ids_restrictions(store: ScintireteVectorStore) -> None:
    store.add([_node(f"n{i}", [1.0, i / 10], ref_doc=f"d{i % 3}", i=i) for i in range(9)])

    def ids(**kwargs: Any) -> list[str]:
        return (
            store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=9, **kwargs)).ids or []
        )

    assert ids(node_ids=["n7", "n2", "nope"]) == ["n2", "n7"]
    assert ids(doc_ids=["d1"]) == ["n1", "n4", "n7"]
    assert ids(doc_ids=["d1", "d2"], node_ids=["n1", "n2", "n3"]) == ["n1", "n2"]
    small = MetadataFilters(filters=[MetadataFilter(key="i", value=4, operator=F.LTE)])
    assert ids(doc_ids=["d1"], filters=small) == ["n1", "n4"]
    everything = [f"n{i}" for i in range(9)]
    assert ids() == ids(node_ids=[], doc_ids=[]) == everything  # [] is "no restriction", as in LlamaIndex


MMR_VECTORS = {"a1": [1.0, 0.1, 0.0], "a2": [1.0, 0.12, 0.0], "b": [1.0, -0.25, 0.25], "far": [0.0, 0.0, 1.0]}


def test_mmr(store: ScintireteVectorStore) -> None:
    store.add(
        [
            _node(name, vector, ref_doc=name, group="far" if name == "far" else "near")
            for name, vector in MMR_VECTORS.items()
        ]
    )

    def ids(mode: VectorStoreQueryMode, **kwargs: Any) -> list[str]:
        query = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2, mode=mode)
        return store.query(query, **kwargs).ids or []

    assert ids(VectorStoreQueryMode.DEFAULT) == ["a1", "a2"]
    assert ids(VectorStoreQueryMode.MMR) == ["a1", "b"]  # lambda 0.5 by default
    assert ids(VectorStoreQueryMode.MMR, mmr_threshold=1.0) == ["a1", "a2"]
    assert ids(VectorStoreQueryMode.MMR, mmr_threshold=0.3) == ["a1", "far"]
    mmr_query = VectorStoreQuery(
        query_embedding=[1.0, 0.0, 0.0],
        similarity_top_k=2,
        mode=VectorStoreQueryMode.MMR,
        mmr_threshold=0.3,
        node_ids=["a2", "b", "far"],
        filters=MetadataFilters(filters=[MetadataFilter(key="group", value="near")]),
    )
    result = store.query(mmr_query)
    assert result.ids == ["a2", "b"]
    assert [n.node_id for n in result.nodes or []] == ["a2", "b"]
    assert len(result.similarities or []) == 2
    assert ids(VectorStoreQueryMode.MMR, mmr_threshold=0.3, mmr_prefetch_k=2) == [
        "a1",
        "a2",
    ]  # far not fetched


def test_mmr_through_a_retriever(store: ScintireteVectorStore) -> None:
    index = VectorStoreIndex.from_vector_store(store, embed_model=EMBED)
    index.insert_nodes([_node(name, vector) for name, vector in MMR_VECTORS.items()])
    retriever = index.as_retriever(
        similarity_top_k=2, vector_store_query_mode="mmr", vector_store_kwargs={"mmr_threshold": 0.5}
    )
    query_bundle_embedding = [1.0, 0.0, 0.0]
    from llama_index.core.schema import QueryBundle

    hits = retriever.retrieve(QueryBundle(query_str="q", embedding=query_bundle_embedding))
    assert [h.node.node_id for h in hits] == ["a1", "b"]


def test_unsupported_modes_and_arguments_raise(store: ScintireteVectorStore) -> None:
    store.add([_node("a", [1.0, 0.0])])
    unsupported = (
        VectorStoreQueryMode.SEMANTIC_HYBRID,
        VectorStoreQueryMode.SVM,
        VectorStoreQueryMode.LOGISTIC_REGRESSION,
        VectorStoreQueryMode.LINEAR_REGRESSION,
    )
    for mode in unsupported:
        with pytest.raises(
            InvalidArgumentError,
            match=f"mode '{mode.value}' is not supported.*'default', 'mmr', 'text_search', 'sparse', 'hybrid'",
        ):
            store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], query_str="a", mode=mode))
    with pytest.raises(InvalidArgumentError, match="query_embedding is required"):
        store.query(VectorStoreQuery(query_str="text only"))
    with pytest.raises(InvalidArgumentError, match="unknown query keyword argument"):
        store.query(VectorStoreQuery(query_embedding=[1.0, 0.0]), alpha=0.5)
    odd = MetadataFilter.model_construct(key="a", value="x", operator="regex")
    with pytest.raises(
        InvalidArgumentError, match=r"'regex' on key 'a' is not supported.*TEXT_MATCH_INSENSITIVE"
    ):
        store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], filters=MetadataFilters(filters=[odd])))
    with pytest.raises(InvalidArgumentError, match="'regex'"):
        store.get_nodes(filters=MetadataFilters(filters=[odd]))
    with pytest.raises(InvalidArgumentError, match="'regex'"):
        store.delete_nodes(filters=MetadataFilters(filters=[odd]))
    retriever = VectorStoreIndex.from_vector_store(store, embed_model=EMBED).as_retriever(
        vector_store_query_mode="svm"
    )
    with pytest.raises(InvalidArgumentError, match="mode 'svm' is not supported"):
        retriever.retrieve("anything")
    assert store.collection.count() == 1


# -- every filter operator, against a brute-force evaluation ---------------------------------------

MISSING = object()
POOLS: dict[str, list[Any]] = {
    "n": [0, 1, 2, 3, -1, 2.5, None, MISSING],
    "s": ["alpha", "Alpha beta", "beta", "", None, MISSING, ["alpha"]],
    "tags": [["a", "b"], ["b"], [], ["A"], [1, 2], None, MISSING, "a"],
    "flag": [True, False, 1, MISSING],
    "author": [{"name": "Ada"}, {"name": "Bob", "born": 1900}, {}, MISSING, "Ada"],
}


def _dataset(size: int = 40) -> dict[str, dict[str, Any]]:
    rng = random.Random(11)
    rows: dict[str, dict[str, Any]] = {}
    for i in range(size):
        picks = {key: rng.choice(pool) for key, pool in POOLS.items()}
        rows[f"f{i}"] = {key: value for key, value in picks.items() if value is not MISSING}
    return rows


DATA = _dataset()


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _number(a) and _number(b):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _lookup(metadata: dict[str, Any], key: str) -> Any:
    value: Any = metadata
    for step in key.split("."):
        if not isinstance(value, dict) or step not in value:
            return MISSING
        value = value[step]
    return value


def _is_in(field: Any, values: list[Any]) -> bool:
    items = field if isinstance(field, list) else [field]
    return field is not MISSING and any(_eq(item, v) for item in items for v in values)


def _ordered(field: Any, value: Any, compare: Any) -> bool:
    same_kind = (_number(field) and _number(value)) or (isinstance(field, str) and isinstance(value, str))
    return same_kind and bool(compare(field, value))


def reference(item: MetadataFilter | MetadataFilters, metadata: dict[str, Any]) -> bool:
    """What each operator and condition means, written out without the library."""
    if isinstance(item, MetadataFilters):
        results = [reference(child, metadata) for child in item.filters]
        if not results:
            return True
        if item.condition == OR:
            return any(results)
        if item.condition == NOT:
            return not any(results)
        return all(results)
    field, op = _lookup(metadata, item.key), item.operator
    value: Any = item.value
    checks: dict[FilterOperator, Callable[[], bool]] = {
        F.EQ: lambda: field is not MISSING and _eq(field, value),
        F.NE: lambda: field is MISSING or not _eq(field, value),
        F.GT: lambda: _ordered(field, value, lambda a, b: a > b),
        F.GTE: lambda: _ordered(field, value, lambda a, b: a >= b),
        F.LT: lambda: _ordered(field, value, lambda a, b: a < b),
        F.LTE: lambda: _ordered(field, value, lambda a, b: a <= b),
        F.IN: lambda: _is_in(field, value),
        F.ANY: lambda: _is_in(field, value),
        F.NIN: lambda: not _is_in(field, value),
        F.ALL: lambda: isinstance(field, list) and all(any(_eq(e, v) for e in field) for v in value),
        F.CONTAINS: lambda: (
            any(_eq(e, value) for e in field)
            if isinstance(field, list)
            else isinstance(field, str) and isinstance(value, str) and value in field
        ),
        F.TEXT_MATCH: lambda: isinstance(field, str) and value in field,
        F.TEXT_MATCH_INSENSITIVE: lambda: isinstance(field, str) and value.casefold() in field.casefold(),
        F.IS_EMPTY: lambda: field is MISSING or field is None or field == "" or field == [],
    }
    return checks[op]()


def _mf(*items: MetadataFilter | MetadataFilters, condition: FilterCondition = AND) -> MetadataFilters:
    return MetadataFilters(filters=list(items), condition=condition)


def _f(key: str, operator: FilterOperator, value: Any = None) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=operator)


FILTER_CASES: list[MetadataFilters] = [
    _mf(_f("n", F.EQ, 2)),
    _mf(_f("n", F.EQ, 2.5)),
    _mf(_f("s", F.EQ, "alpha")),
    _mf(_f("s", F.EQ, None)),
    _mf(_f("flag", F.EQ, 1)),  # True is not 1
    _mf(_f("author.name", F.EQ, "Ada")),
    _mf(_f("tags", F.EQ, ["a", "b"])),
    _mf(_f("n", F.NE, 2)),
    _mf(_f("s", F.NE, "alpha")),
    _mf(_f("n", F.GT, 1)),
    _mf(_f("n", F.GTE, 2)),
    _mf(_f("n", F.LT, 1)),
    _mf(_f("n", F.LTE, 0)),
    _mf(_f("s", F.GT, "alpha")),
    _mf(_f("author.born", F.GTE, 1900)),
    _mf(_f("n", F.IN, [1, 2])),
    _mf(_f("s", F.IN, ["alpha", "beta"])),
    _mf(_f("tags", F.IN, ["b"])),
    _mf(_f("n", F.NIN, [1, 2])),
    _mf(_f("tags", F.NIN, ["a"])),
    _mf(_f("tags", F.ANY, ["a", "A"])),
    _mf(_f("tags", F.ALL, ["a", "b"])),
    _mf(_f("tags", F.ALL, [1, 2])),
    _mf(_f("tags", F.CONTAINS, "a")),
    _mf(_f("tags", F.CONTAINS, 2)),
    _mf(_f("s", F.CONTAINS, "alp")),
    _mf(_f("s", F.TEXT_MATCH, "beta")),
    _mf(_f("s", F.TEXT_MATCH, "alpha")),  # not the list ["alpha"]
    _mf(_f("s", F.TEXT_MATCH_INSENSITIVE, "ALPHA")),
    _mf(_f("tags", F.IS_EMPTY)),
    _mf(_f("s", F.IS_EMPTY)),
    _mf(_f("author.name", F.IS_EMPTY)),
    _mf(_f("n", F.GTE, 1), _mf(_f("tags", F.CONTAINS, "a"), _f("s", F.TEXT_MATCH, "beta"), condition=OR)),
    _mf(_mf(_f("n", F.IN, [1, 2]), condition=NOT), _f("author.name", F.EQ, "Bob"), condition=OR),
    _mf(_f("n", F.GT, 0), _f("s", F.EQ, "alpha"), condition=NOT),
    _mf(_f("tags", F.IS_EMPTY), condition=NOT),
    _mf(
        _mf(
            _mf(_f("n", F.LT, 2), _f("tags", F.ANY, ["b"]), condition=NOT), _f("s", F.IS_EMPTY), condition=OR
        ),
        _mf(_f("author.name", F.NE, "Ada")),
        condition=AND,
    ),
    _mf(_f("n", F.EQ, 1), _mf(), condition=OR),  # an empty group matches everything
]


@pytest.fixture(scope="module")
def filter_store(address: str, password: str) -> Iterator[ScintireteVectorStore]:
    vector_store = _new_store(address, password)
    rng = np.random.default_rng(3)
    nodes = [
        _node(node_id, rng.standard_normal(8).tolist(), **metadata) for node_id, metadata in DATA.items()
    ]
    vector_store.add(nodes)
    yield vector_store
    vector_store.collection.drop()
    vector_store.client.close()


def _expected(mf: MetadataFilters) -> set[str]:
    return {node_id for node_id, metadata in DATA.items() if reference(mf, metadata)}


def test_filter_cases_cover_every_operator_and_condition() -> None:
    seen_ops: set[FilterOperator] = set()
    seen_conditions: set[FilterCondition] = set()

    def walk(item: MetadataFilter | MetadataFilters) -> None:
        if isinstance(item, MetadataFilters):
            seen_conditions.add(item.condition or AND)
            for child in item.filters:
                walk(child)
        else:
            seen_ops.add(item.operator)

    for case in FILTER_CASES:
        walk(case)
    assert seen_ops == set(FilterOperator) and seen_conditions == set(FilterCondition)
    matched = [len(_expected(case)) for case in FILTER_CASES]
    assert all(0 < m < len(DATA) for m in matched[:-1]), matched  # every case separates the data


@pytest.mark.parametrize("case", FILTER_CASES, ids=range(len(FILTER_CASES)))
def test_every_filter_against_brute_force(filter_store: ScintireteVectorStore, case: MetadataFilters) -> None:
    expected = _expected(case)
    result = filter_store.query(
        VectorStoreQuery(query_embedding=[1.0] * 8, similarity_top_k=len(DATA), filters=case)
    )
    assert set(result.ids or []) == expected
    assert result.similarities == sorted(result.similarities or [], reverse=True)
    top2 = filter_store.query(
        VectorStoreQuery(query_embedding=[1.0] * 8, similarity_top_k=2, filters=case)
    ).ids
    assert top2 == (result.ids or [])[:2]
    assert {n.node_id for n in filter_store.get_nodes(filters=case)} == expected


@st.composite
def _leaf(draw: st.DrawFn) -> MetadataFilter:
    op = draw(st.sampled_from(list(FilterOperator)))
    key = draw(st.sampled_from(["n", "s", "tags", "flag", "author.name", "author.born"]))
    strings = st.sampled_from(["a", "b", "alpha", "Alpha", "beta", "Ada", ""])
    numbers = st.sampled_from([0, 1, 2, 1900, 2.5, -1.0])
    if op in (F.IN, F.NIN, F.ANY):
        value: Any = draw(st.one_of(st.lists(strings, max_size=3), st.lists(numbers, max_size=3)))
    elif op == F.ALL:
        value = draw(
            st.one_of(st.lists(strings, min_size=1, max_size=2), st.lists(numbers, min_size=1, max_size=2))
        )
    elif op in (F.TEXT_MATCH, F.TEXT_MATCH_INSENSITIVE):
        value = draw(strings)
    elif op == F.IS_EMPTY:
        value = None
    elif op in (F.EQ, F.NE):
        value = draw(st.one_of(strings, numbers, st.none(), st.lists(strings, max_size=2)))
    else:
        value = draw(st.one_of(strings, numbers))
    return MetadataFilter(key=key, value=value, operator=op)


_filters = st.recursive(
    st.builds(lambda leaf: _mf(leaf), _leaf()),
    lambda children: st.builds(
        lambda items, condition: MetadataFilters(filters=items, condition=condition),
        st.lists(st.one_of(_leaf(), children), max_size=3),
        st.sampled_from(list(FilterCondition)),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(case=_filters)
def test_random_filters_against_brute_force(
    filter_store: ScintireteVectorStore, case: MetadataFilters
) -> None:
    assert {n.node_id for n in filter_store.get_nodes(filters=case)} == _expected(case)


# -- async ------------------------------------------------------------------------------------------


async def test_async_store_methods(astore: ScintireteVectorStore) -> None:
    nodes = [_node(f"n{i}", [1.0, i / 10], ref_doc=f"d{i % 2}", i=i) for i in range(6)]
    assert await astore.async_add(nodes) == [f"n{i}" for i in range(6)]
    small = MetadataFilters(filters=[MetadataFilter(key="i", value=3, operator=F.LT)])
    result = await astore.aquery(
        VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=2, filters=small)
    )
    assert result.ids == ["n0", "n1"]
    result = await astore.aquery(
        VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=3, doc_ids=["d1"])
    )
    assert result.ids == ["n1", "n3", "n5"]
    mmr = VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=2, mode="mmr", node_ids=["n4", "n5"])  # type: ignore[arg-type]
    assert sorted((await astore.aquery(mmr)).ids or []) == ["n4", "n5"]
    assert [n.node_id for n in await astore.aget_nodes(["n5", "n0"])] == ["n5", "n0"]
    assert [n.node_id for n in await astore.aget_nodes(filters=small)] == ["n0", "n1", "n2"]
    assert [n.node_id for n in await astore.aget_nodes(["n2", "n4"], filters=small)] == ["n2"]
    assert len(await astore.aget_nodes()) == 6

    await astore.adelete_nodes(["n2", "n4"], filters=small)
    await astore.adelete_nodes(["n0"])
    assert [n.node_id for n in await astore.aget_nodes()] == ["n1", "n3", "n4", "n5"]
    await astore.adelete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="i", value=5)]))
    await astore.adelete("d1")
    assert [n.node_id for n in await astore.aget_nodes()] == ["n4"]
    with pytest.raises(InvalidArgumentError, match="needs node_ids, filters or both"):
        await astore.adelete_nodes()
    with pytest.raises(InvalidArgumentError, match="mode 'svm' is not supported"):
        await astore.aquery(VectorStoreQuery(query_embedding=[1.0, 0.0], mode="svm"))  # type: ignore[arg-type]
    await astore.aclear()
    assert await astore.async_collection.count() == 0
    assert astore.get_nodes() == []  # the sync side shares the view and sees the same


async def test_async_index_retriever_and_query_engine(astore: ScintireteVectorStore) -> None:
    index = VectorStoreIndex.from_vector_store(astore, embed_model=EMBED)
    for document in _documents():
        await index.ainsert(document)
    assert await astore.async_collection.count() == 3
    hits = await index.as_retriever(similarity_top_k=1).aretrieve(QUESTIONS["quantum"])
    assert [h.node.ref_doc_id for h in hits] == ["quantum"]
    response = await index.as_query_engine(llm=MockLLM(), similarity_top_k=1).aquery(QUESTIONS["cats"])
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["cats"]
    await index.adelete_ref_doc("cats")
    assert sorted(n.ref_doc_id or "" for n in await astore.aget_nodes()) == ["bread", "quantum"]


async def test_async_ingestion_pipeline_updates_instead_of_duplicating(astore: ScintireteVectorStore) -> None:
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), EMBED],
        vector_store=astore,
        docstore=SimpleDocumentStore(),
    )
    assert len(await pipeline.arun(documents=_documents())) == 3
    assert await pipeline.arun(documents=_documents()) == []
    changed = _documents()
    changed[1] = Document(text="Photons carry light.", doc_id="quantum", metadata={"topic": "physics"})
    assert len(await pipeline.arun(documents=changed)) == 1
    assert await astore.async_collection.count() == 3
    texts = {n.ref_doc_id: n.get_content() for n in await astore.aget_nodes()}
    assert texts["quantum"] == "Photons carry light."


# -- ScintireteEmbedding ---------------------------------------------------------------------------

EMBED_MODEL = "hash-test"
_SERVER_HASH = HashEmbeddings(32, model=EMBED_MODEL)


@pytest.fixture(scope="module")
def embedding_server() -> Iterator[LiteServer]:
    with LiteServer(embedding=HashEmbeddings(32, model=EMBED_MODEL)) as server:
        yield server


@pytest.fixture
async def embedding(embedding_server: LiteServer) -> AsyncIterator[ScintireteEmbedding]:
    embed = ScintireteEmbedding(address=embedding_server.address, password=embedding_server.password)
    yield embed
    embed.client.close()
    await embed.aclient.close()


def _expected_vector(text: str) -> list[float]:
    return [float(x) for x in _SERVER_HASH.embed_one(text)]


def test_embedding_sync(embedding: ScintireteEmbedding) -> None:
    assert ScintireteEmbedding.class_name() == "ScintireteEmbedding"
    assert embedding.model_name == "" and embedding.client.address == embedding.aclient.address
    assert embedding.get_text_embedding("hello world") == pytest.approx(_expected_vector("hello world"))
    assert embedding.get_query_embedding("hello there") == pytest.approx(_expected_vector("hello there"))
    texts = [f"text number {i}" for i in range(5)]
    batch = embedding.get_text_embedding_batch(texts)
    assert [pytest.approx(v) for v in map(_expected_vector, texts)] == batch


async def test_embedding_async(embedding: ScintireteEmbedding) -> None:
    assert await embedding.aget_text_embedding("hello world") == pytest.approx(
        _expected_vector("hello world")
    )
    assert await embedding.aget_query_embedding("hello") == pytest.approx(_expected_vector("hello"))
    texts = [f"text number {i}" for i in range(5)]
    batch = await embedding.aget_text_embedding_batch(texts)
    assert [pytest.approx(v) for v in map(_expected_vector, texts)] == batch


def test_embedding_batches_and_model_name(
    embedding_server: LiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ScintireteClient(embedding_server.address, password=embedding_server.password)
    calls: list[tuple[int, str | None]] = []
    real = client.embed_text

    def spy(texts: list[str], *, model: str | None = None, **kwargs: Any) -> list[list[float]]:
        calls.append((len(texts), model))
        return real(texts, model=model, **kwargs)

    monkeypatch.setattr(client, "embed_text", spy)
    embedding = ScintireteEmbedding(EMBED_MODEL, embed_batch_size=2, client=client)
    assert len(embedding.get_text_embedding_batch([f"t{i}" for i in range(5)])) == 5
    assert calls == [(2, EMBED_MODEL), (2, EMBED_MODEL), (1, EMBED_MODEL)]
    unknown = ScintireteEmbedding("no-such-model", client=client)
    with pytest.raises(ScintireteError, match="unknown embedding model 'no-such-model'"):
        unknown.get_query_embedding("x")
    client.close()


def test_embedding_with_the_vector_store_end_to_end(embedding_server: LiteServer) -> None:
    client = ScintireteClient(embedding_server.address, password=embedding_server.password)
    embed = ScintireteEmbedding(client=client)
    vector_store = ScintireteVectorStore(f"li-{uuid.uuid4().hex[:10]}", DB, client=client)
    try:
        index = VectorStoreIndex.from_documents(
            _documents(),
            storage_context=StorageContext.from_defaults(vector_store=vector_store),
            embed_model=embed,
        )
        for doc_id, question in QUESTIONS.items():
            assert index.as_retriever(similarity_top_k=1).retrieve(question)[0].node.ref_doc_id == doc_id
    finally:
        vector_store.collection.drop()
        client.close()


# -- batches, limits, progress, closing -----------------------------------------------------------


async def test_add_in_batches_with_progress_and_logging(
    astore: ScintireteVectorStore, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = [_node(f"n{i}", [1.0, float(i)], ref_doc="d", i=i) for i in range(5)]
    calls: list[tuple[int, int]] = []
    with caplog.at_level(logging.INFO, logger="scintirete_integrations.llama_index"):
        ids = astore.add(nodes, batch_size=2, progress=lambda *a: calls.append(a))
    assert ids == [f"n{i}" for i in range(5)]
    assert calls == [(2, 5), (4, 5), (5, 5)]
    lines = [r.getMessage() for r in caplog.records if r.name == "scintirete_integrations.llama_index"]
    assert len(lines) == 3 and lines[-1].startswith("add: 5/5 stored")
    assert capsys.readouterr() == ("", "")
    more = [_node(f"m{i}", [0.0, float(i)]) for i in range(3)]
    assert await astore.async_add(more, batch_size=1, progress=True) == ["m0", "m1", "m2"]
    assert "async_add: 3/3 stored" in capsys.readouterr().err
    assert astore.collection.count() == 8
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        astore.add(nodes, batch_size=0)
    bad = [*nodes, TextNode(id_="no-vector", text="x")]
    with pytest.raises(InvalidArgumentError, match="has no embedding"):
        astore.add(bad, batch_size=1)  # refused before the first write
    assert astore.collection.count() == 8


async def test_get_nodes_limit(astore: ScintireteVectorStore) -> None:
    astore.add([_node(f"n{i}", [1.0, float(i)], i=i) for i in range(5)])
    assert [n.node_id for n in astore.get_nodes(limit=2)] == ["n0", "n1"]  # oldest write first
    assert [n.node_id for n in await astore.aget_nodes(limit=3)] == ["n0", "n1", "n2"]
    odd = MetadataFilters(filters=[MetadataFilter(key="i", value=[1, 3], operator=F.IN)])
    assert [n.node_id for n in astore.get_nodes(filters=odd, limit=1)] == ["n1"]
    assert [n.node_id for n in astore.get_nodes(["n4", "n0", "n2"], limit=2)] == ["n4", "n0"]
    assert [n.node_id for n in await astore.aget_nodes(["n3", "n1"], filters=odd, limit=1)] == ["n3"]
    assert astore.get_nodes(limit=0) == []
    with pytest.raises(InvalidArgumentError, match="limit"):
        astore.get_nodes(limit=-1)


async def test_close_and_context_managers_close_only_what_the_store_made(address: str, password: str) -> None:
    name = f"li-{uuid.uuid4().hex[:10]}"
    with ScintireteVectorStore(name, DB, address=address, password=password) as store:
        store.add([_node("a", [1.0, 0.0])])
        made = store.client
        assert made._channel is not None
    assert made._channel is None

    shared = ScintireteClient(address, password=password)
    async with ScintireteVectorStore(name, DB, client=shared) as first:
        assert [n.node_id for n in await first.aget_nodes()] == ["a"]
    second = ScintireteVectorStore(name, DB, client=shared)
    second.close()
    third = ScintireteVectorStore(name, DB, client=shared)
    assert [n.node_id for n in third.get_nodes()] == ["a"]  # the shared client stays open
    assert shared._channel is not None
    third.collection.drop()
    shared.close()


def test_connection_arguments_match_the_langchain_store(address: str, password: str) -> None:
    import inspect

    from scintirete_integrations.langchain import ScintireteVectorStore as LangChainStore

    connection = ["address", "password", "data_dir", "client", "async_client", "timeout", "client_options"]
    llama = inspect.signature(ScintireteVectorStore.__init__).parameters
    langchain = inspect.signature(LangChainStore.__init__).parameters
    assert [(llama[n].kind, llama[n].default) for n in connection] == [
        (langchain[n].kind, langchain[n].default) for n in connection
    ]
    options = {"max_message_bytes": 1 << 20, "timeout": 3.0}
    store = _new_store(address, password, timeout=2.5, client_options=options)
    assert store.collection.timeout == store.async_collection.timeout == 2.5
    assert (store.client.max_message_bytes, store.aclient.timeout) == (1 << 20, 3.0)
    with pytest.raises(InvalidArgumentError, match="not both"):
        ScintireteVectorStore("x", client=store.client, address=address)
    store.close()
