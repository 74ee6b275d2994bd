"""ScintireteVectorStore, ScintireteEmbeddings and ScintireteTranslator over a Lite server.

What LangChain's standard suite (test_langchain_standard.py) does not cover: filters, MMR,
relevance scores per metric, server-side embeddings, retrievers in LCEL chains, reopening
collections, exact metadata, and errors.
"""

from __future__ import annotations

import copy
import datetime
import logging
import math
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.structured_query import Comparator, Comparison, Operation, Operator, StructuredQuery
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from scintirete_integrations import (
    InvalidArgumentError,
    Metric,
    NotFoundError,
    ScintireteClient,
    ScintireteError,
)
from scintirete_integrations.documents import AsyncDocumentCollection, DocumentCollection
from scintirete_integrations.langchain import (
    ScintireteEmbeddings,
    ScintireteTranslator,
    ScintireteVectorStore,
)
from scintirete_integrations.lite import HashEmbeddings, LiteServer

VOCABULARY = ("cat", "dog", "fish", "bird")


class KeywordEmbeddings(Embeddings):
    """Deterministic unit vectors: one axis per vocabulary word, plus a small constant axis.

    "cat" and "cat dog" are close, "cat" and "fish" far apart; the constant keeps every vector
    non-zero. Unit length makes inner-product relevance exact. The async methods are native.
    """

    def embed_query(self, text: str) -> list[float]:
        words = text.lower().split()
        vector = [float(words.count(word)) for word in VOCABULARY] + [0.1]
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)


KEYWORDS = KeywordEmbeddings()


@dataclass(frozen=True)
class Connection:
    address: str
    password: str

    def kwargs(self) -> dict[str, Any]:
        return {"address": self.address, "password": self.password}


@pytest.fixture
def conn(address: str, password: str) -> Connection:
    return Connection(address, password)


@pytest.fixture
def make_store(conn: Connection) -> Iterator[Callable[..., ScintireteVectorStore]]:
    """Stores on fresh collections (dropped afterwards); arguments go to the constructor."""
    stores: list[ScintireteVectorStore] = []

    def make(embedding: Embeddings | None = KEYWORDS, **kwargs: Any) -> ScintireteVectorStore:
        kwargs.setdefault("collection_name", f"lc-{uuid.uuid4().hex[:12]}")
        if "client" not in kwargs:
            kwargs = {**conn.kwargs(), **kwargs}
        store = ScintireteVectorStore(embedding, **kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.delete_collection()


@pytest.fixture
def store(make_store: Callable[..., ScintireteVectorStore]) -> ScintireteVectorStore:
    return make_store()


@pytest.fixture
def no_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if an async method falls back to LangChain's thread-pool wrapper around a sync one."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an async method ran its sync twin in an executor")

    monkeypatch.setattr("langchain_core.vectorstores.base.run_in_executor", refuse)
    monkeypatch.setattr("langchain_core.embeddings.embeddings.run_in_executor", refuse)


# The metadata used by the filter tests: ids a..d.
PETS = [
    (
        "a",
        "cat",
        {"year": 2019, "tags": ["pet", "small"], "author": {"name": "ann", "age": 30}, "lang": "en"},
    ),
    ("b", "cat dog", {"year": 2021, "tags": ["pet"], "author": {"name": "bob", "age": 40}, "lang": "de"}),
    (
        "c",
        "dog",
        {"year": 2023, "tags": [], "author": {"name": "cy", "age": 50}, "lang": "en", "draft": True},
    ),
    ("d", "fish", {"year": 2024, "tags": ["water"], "author": {"name": "ann", "age": 30}, "lang": "fr"}),
]


def add_pets(store: ScintireteVectorStore) -> list[str]:
    return store.add_texts([t for _, t, _ in PETS], [m for _, _, m in PETS], ids=[i for i, _, _ in PETS])


def ids_of(documents: list[Document]) -> list[str]:
    return [doc.id or "" for doc in documents]


def assert_same_types(left: Any, right: Any, path: str = "metadata") -> None:
    assert type(left) is type(right), f"{path}: {type(left).__name__} != {type(right).__name__}"
    if isinstance(left, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            assert_same_types(left[key], right[key], f"{path}[{key!r}]")
    elif isinstance(left, list):
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_same_types(a, b, f"{path}[{index}]")
    else:
        assert left == right, path


# -- adding ---------------------------------------------------------------------------------------


def test_add_texts_returns_the_given_or_generated_ids(store: ScintireteVectorStore) -> None:
    assert store.add_texts(["cat", "dog"], ids=["x", "y"]) == ["x", "y"]
    generated = store.add_texts(["fish", "bird"])
    assert len(generated) == 2 and len(set(generated)) == 2
    assert all(uuid.UUID(value).version == 4 for value in generated)
    mixed = store.add_texts(["cat cat", "dog dog"], ids=["z", None])
    assert mixed[0] == "z" and uuid.UUID(mixed[1])
    assert ids_of(store.get_by_ids(["x", "y", *generated, *mixed])) == ["x", "y", *generated, *mixed]
    assert store.add_texts([]) == []


def test_add_texts_takes_generators_once_and_leaves_metadata_alone(store: ScintireteVectorStore) -> None:
    metadatas: list[dict[str, Any]] = [{"n": 1, "nested": {"k": [1, 2]}}, {"n": 2}]
    before = copy.deepcopy(metadatas)
    ids = store.add_texts(
        (text for text in ["cat", "dog"]), (m for m in metadatas), ids=(i for i in ["g1", "g2"])
    )
    assert ids == ["g1", "g2"]
    assert metadatas == before  # nothing added, e.g. no reserved keys
    assert [doc.metadata for doc in store.get_by_ids(ids)] == before


def test_add_texts_in_batches(store: ScintireteVectorStore) -> None:
    texts = [f"cat {'dog ' * i}" for i in range(7)]
    ids = store.add_texts(texts, batch_size=3)
    assert store.collection.count() == 7
    assert [doc.page_content for doc in store.get_by_ids(ids)] == texts


async def test_aadd_texts_and_aadd_documents(store: ScintireteVectorStore, no_executor: None) -> None:
    assert await store.aadd_texts(["cat"], [{"n": 1}], ids=["t1"], batch_size=1) == ["t1"]
    documents = [Document("dog", metadata={"n": 2}, id="d1"), Document("fish", metadata={"n": 3})]
    ids = await store.aadd_documents(documents)
    assert ids[0] == "d1" and documents[1].id is None  # the caller's Document is not given an id
    found = await store.aget_by_ids(["t1", *ids])
    assert [(doc.id, doc.page_content, doc.metadata) for doc in found] == [
        ("t1", "cat", {"n": 1}),
        ("d1", "dog", {"n": 2}),
        (ids[1], "fish", {"n": 3}),
    ]


def test_add_documents_explicit_ids_win_over_document_ids(store: ScintireteVectorStore) -> None:
    documents = [Document("cat", id="inner1"), Document("dog", id="inner2")]
    assert store.add_documents(documents, ids=["outer1", "outer2"]) == ["outer1", "outer2"]
    assert store.get_by_ids(["inner1", "inner2"]) == []
    assert ids_of(store.get_by_ids(["outer2", "outer1"])) == ["outer2", "outer1"]


def test_adding_an_existing_id_replaces_it(store: ScintireteVectorStore) -> None:
    store.add_texts(["cat"], [{"v": 1}], ids=["same"])
    store.add_texts(["dog"], [{"v": 2}], ids=["same"])
    assert store.collection.count() == 1
    assert store.similarity_search("dog", k=5) == [Document("dog", metadata={"v": 2}, id="same")]


def test_metadata_types_round_trip_exactly(make_store: Callable[..., ScintireteVectorStore]) -> None:
    metadata = {
        "int": 3,
        "float": 1.0,
        "negative": -2.5,
        "big": 2**60,
        "bool": True,
        "none": None,
        "text": "x",
        "list": [1, 2.5, "a", None, False],
        "nested": {"a": {"b": 1, "c": [1.0, {"d": 7}]}},
    }
    store = make_store()
    store.add_texts(["cat"], [metadata], ids=["m"])
    # A second store object reads the record back from the server, not from the first one's cache.
    reopened = make_store(collection_name=store.collection.name)
    for found in (
        store.get_by_ids(["m"])[0],
        reopened.get_by_ids(["m"])[0],
        reopened.similarity_search("cat")[0],
    ):
        assert_same_types(found.metadata, metadata)
    # A returned Document is the caller's to change: the store's copy stays as it was.
    found = store.get_by_ids(["m"])[0]
    found.metadata["nested"]["a"]["b"] = 99
    found.metadata["int"] = 4
    assert_same_types(store.get_by_ids(["m"])[0].metadata, metadata)


# -- reading by id and deleting -------------------------------------------------------------------


def test_get_by_ids_keeps_the_order_asked_and_skips_unknown(store: ScintireteVectorStore) -> None:
    add_pets(store)
    assert ids_of(store.get_by_ids(["d", "nope", "a", "c"])) == ["d", "a", "c"]
    assert store.get_by_ids([]) == []
    assert store.get_by_ids(["b"]) == [Document("cat dog", metadata=PETS[1][2], id="b")]


def test_delete_by_ids_filter_and_everything(store: ScintireteVectorStore) -> None:
    add_pets(store)
    assert store.delete(["a", "unknown"]) is True
    assert sorted(ids_of(store.similarity_search("cat", k=10))) == ["b", "c", "d"]
    assert store.delete(filter={"lang": "en"}) is True  # c
    assert sorted(ids_of(store.similarity_search("cat", k=10))) == ["b", "d"]
    assert store.delete(filter=lambda doc: doc.page_content == "fish") is True  # d
    assert ids_of(store.similarity_search("cat", k=10)) == ["b"]
    assert store.delete([]) is True
    assert store.collection.count() == 1
    # ids=None: LangChain's VectorStore.delete documents it as "delete all".
    assert store.delete() is True
    assert store.collection.count() == 0
    assert store.similarity_search("cat") == []
    with pytest.raises(InvalidArgumentError, match="not both"):
        store.delete(["a"], filter={"lang": "en"})


async def test_adelete(store: ScintireteVectorStore, no_executor: None) -> None:
    add_pets(store)
    assert await store.adelete(["a"]) is True
    assert await store.adelete(filter={"year": {"$gte": 2024}}) is True  # d
    assert await store.adelete(filter=lambda doc: doc.id == "c") is True
    assert ids_of(await store.asimilarity_search("cat", k=10)) == ["b"]
    assert await store.adelete() is True
    assert await store.async_collection.count() == 0
    with pytest.raises(InvalidArgumentError, match="not both"):
        await store.adelete(["a"], filter={"lang": "en"})


async def test_delete_collection(make_store: Callable[..., ScintireteVectorStore], no_executor: None) -> None:
    store = make_store()
    store.add_texts(["cat"])
    assert store.delete_collection() is True
    assert store.delete_collection() is False
    with pytest.raises(NotFoundError):
        ScintireteVectorStore.from_existing_collection(store.collection.name, client=store.collection.client)
    other = make_store()
    await other.aadd_texts(["dog"])
    assert await other.adelete_collection() is True
    assert await other.adelete_collection() is False


# -- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"year": {"$gte": 2021}}, {"b", "c", "d"}),
        ({"lang": {"$in": ["en", "fr"]}}, {"a", "c", "d"}),
        ({"tags": {"$contains": "pet"}}, {"a", "b"}),
        ({"author.name": "ann"}, {"a", "d"}),
        ({"$or": [{"lang": "de"}, {"year": {"$lt": 2020}}]}, {"a", "b"}),
        ({"$and": [{"author.age": {"$gte": 40}}, {"$not": {"lang": "de"}}]}, {"c"}),
        ({"draft": {"$exists": False}, "lang": {"$ne": "en"}}, {"b", "d"}),
        ({"author": {"$eq": {"name": "bob", "age": 40}}}, {"b"}),
        ({"year": {"$gt": 2100}}, set()),
    ],
)
def test_mongo_filters(store: ScintireteVectorStore, where: dict[str, Any], expected: set[str]) -> None:
    add_pets(store)
    assert set(ids_of(store.similarity_search("cat", k=10, filter=where))) == expected
    assert (
        set(ids_of(store.similarity_search_by_vector(store.embeddings.embed_query("cat"), 10, where)))
        == expected
    )
    assert set(ids_of(store.max_marginal_relevance_search("cat", k=10, filter=where))) == expected


async def test_filters_keep_distance_order_and_k(store: ScintireteVectorStore, no_executor: None) -> None:
    add_pets(store)
    recent = {"year": {"$gte": 2021}}
    assert ids_of(store.similarity_search("cat", k=1, filter=recent)) == ["b"]
    assert ids_of(await store.asimilarity_search("cat", k=1, filter=recent)) == ["b"]
    pairs = await store.asimilarity_search_with_score("cat", k=3, filter=recent)
    assert pairs[0][0].id == "b"
    assert [distance for _, distance in pairs] == sorted(distance for _, distance in pairs)


async def test_callable_filters(store: ScintireteVectorStore, no_executor: None) -> None:
    add_pets(store)
    seen: list[Document] = []

    def odd_year_cats(doc: Document) -> bool:
        seen.append(doc)
        return doc.metadata["year"] % 2 == 1 and "cat" in doc.page_content

    assert ids_of(store.similarity_search("cat", k=10, filter=odd_year_cats)) == ["a", "b"]
    assert {doc.id for doc in seen} == {"a", "b", "c", "d"}  # the predicate sees whole Documents with ids
    vector = store.embeddings.embed_query("dog")
    assert ids_of(store.similarity_search_by_vector(vector, 1, filter=lambda d: d.id in {"a", "d"})) == ["a"]
    assert ids_of(await store.asimilarity_search("cat", k=10, filter=odd_year_cats)) == ["a", "b"]
    assert ids_of(await store.asimilarity_search_by_vector(vector, 10, filter=lambda d: d.id == "d")) == ["d"]
    assert [doc.id for doc, _ in store.similarity_search_with_score("dog", filter=lambda d: False)] == []
    mmr = store.max_marginal_relevance_search("cat", k=2, filter=lambda d: d.metadata["lang"] == "en")
    assert set(ids_of(mmr)) == {"a", "c"}
    ammr = await store.amax_marginal_relevance_search("cat", k=2, filter=lambda d: d.metadata["lang"] == "en")
    assert set(ids_of(ammr)) == {"a", "c"}
    assert await store.amax_marginal_relevance_search_by_vector(vector, filter=lambda d: False) == []


def test_bad_filters_fail_clearly(store: ScintireteVectorStore) -> None:
    add_pets(store)
    with pytest.raises(InvalidArgumentError, match=r"unknown operator '\$regex'.*supported"):
        store.similarity_search("cat", filter={"lang": {"$regex": "^e"}})
    with pytest.raises(InvalidArgumentError, match=r"filter must be a dict .* or a callable"):
        store.similarity_search("cat", filter=["lang"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="reserved prefix"):
        store.delete(filter={"_sci_id": "a"})


# -- MMR ------------------------------------------------------------------------------------------


@pytest.fixture
def duplicates(store: ScintireteVectorStore) -> ScintireteVectorStore:
    store.add_texts(["cat", "cat", "cat", "cat dog", "dog", "fish"], ids=["c1", "c2", "c3", "cd", "d", "f"])
    return store


async def test_mmr_skips_duplicates(duplicates: ScintireteVectorStore, no_executor: None) -> None:
    store = duplicates
    assert [doc.page_content for doc in store.similarity_search("cat", k=3)] == ["cat", "cat", "cat"]
    diverse = store.max_marginal_relevance_search("cat", k=3, fetch_k=6, lambda_mult=0.3)
    texts = [doc.page_content for doc in diverse]
    assert texts[0] == "cat" and len(set(texts)) == 3
    vector = store.embeddings.embed_query("cat")
    by_vector = store.max_marginal_relevance_search_by_vector(vector, k=3, fetch_k=6, lambda_mult=0.3)
    assert by_vector == diverse
    assert await store.amax_marginal_relevance_search("cat", k=3, fetch_k=6, lambda_mult=0.3) == diverse
    assert await store.amax_marginal_relevance_search_by_vector(vector, 3, 6, 0.3) == diverse
    relevance_only = store.max_marginal_relevance_search("cat", k=3, fetch_k=6, lambda_mult=1.0)
    assert [doc.page_content for doc in relevance_only] == ["cat", "cat", "cat"]
    with pytest.raises(InvalidArgumentError, match="lambda_mult"):
        store.max_marginal_relevance_search("cat", lambda_mult=1.5)


# -- scores ---------------------------------------------------------------------------------------


LANGCHAIN_HELPERS: dict[str, Callable[[float], float]] = {
    "cosine": VectorStore._cosine_relevance_score_fn,
    "l2": VectorStore._euclidean_relevance_score_fn,
    "inner_product": VectorStore._max_inner_product_relevance_score_fn,
}


@pytest.mark.parametrize("metric", ["cosine", "l2", "inner_product"])
async def test_relevance_scores_per_metric(
    make_store: Callable[..., ScintireteVectorStore], metric: str, no_executor: None
) -> None:
    store = make_store(metric=metric)
    store.add_texts(["cat", "cat dog", "dog", "fish bird"], ids=["cat", "catdog", "dog", "fishbird"])
    pairs = store.similarity_search_with_relevance_scores("cat", k=4)
    assert [doc.id for doc, _ in pairs][:2] == ["cat", "catdog"]
    scores = [score for _, score in pairs]
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(1.0, abs=1e-5)  # an exact match
    # Relevance is LangChain's own helper for the metric (clipped to [0, 1]) applied to the distance.
    distances = store.similarity_search_with_score("cat", k=4)
    assert [d for _, d in distances] == sorted(d for _, d in distances)
    helper = LANGCHAIN_HELPERS[metric]
    assert scores == pytest.approx([min(1.0, max(0.0, helper(d))) for _, d in distances])
    assert await store.asimilarity_search_with_relevance_scores("cat", k=4) == pairs


async def test_score_threshold(store: ScintireteVectorStore, no_executor: None) -> None:
    store.add_texts(["cat", "cat dog", "dog", "fish"], ids=["cat", "catdog", "dog", "fish"])
    kept = store.similarity_search_with_relevance_scores("cat", k=4, score_threshold=0.6)
    assert [doc.id for doc, _ in kept] == ["cat", "catdog"]
    assert all(score >= 0.6 for _, score in kept)
    akept = await store.asimilarity_search_with_relevance_scores("cat", k=4, score_threshold=0.6)
    assert [doc.id for doc, _ in akept] == ["cat", "catdog"]
    assert store.similarity_search_with_relevance_scores("cat", score_threshold=0.9999) == kept[:1]


# -- retrievers and chains ------------------------------------------------------------------------


def format_docs(documents: list[Document]) -> str:
    return "\n\n".join(doc.page_content for doc in documents)


async def test_retriever_search_types(duplicates: ScintireteVectorStore, no_executor: None) -> None:
    store = duplicates
    similar = store.as_retriever(search_kwargs={"k": 2})
    assert [doc.page_content for doc in similar.invoke("cat")] == ["cat", "cat"]
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 3, "fetch_k": 6, "lambda_mult": 0.3})
    texts = [doc.page_content for doc in mmr.invoke("cat")]
    assert texts[0] == "cat" and len(set(texts)) == 3
    assert [doc.page_content for doc in await mmr.ainvoke("cat")] == texts
    threshold = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.6, "k": 10}
    )
    assert sorted(ids_of(threshold.invoke("cat"))) == ["c1", "c2", "c3", "cd"]
    assert sorted(ids_of(await threshold.ainvoke("cat"))) == ["c1", "c2", "c3", "cd"]
    assert store.search("cat", "mmr", k=3, fetch_k=6, lambda_mult=0.3) == await mmr.ainvoke("cat")
    assert await store.asearch("cat", "similarity", k=1) == store.similarity_search("cat", k=1)
    filtered = store.as_retriever(search_kwargs={"k": 5, "filter": lambda d: d.id in {"d", "f"}})
    assert ids_of(await filtered.ainvoke("dog")) == ["d", "f"]


async def test_a_retriever_whose_search_type_changes_keeps_working(
    duplicates: ScintireteVectorStore, no_executor: None
) -> None:
    store = duplicates
    retriever = store.as_retriever(
        search_type="mmr", search_kwargs={"k": 2, "fetch_k": 6, "lambda_mult": 0.3, "score_threshold": 0.1}
    )
    assert len(retriever.invoke("cat")) == 2
    for search_type in ("similarity", "similarity_score_threshold"):
        retriever.search_type = search_type  # search_kwargs stay those of mmr
        assert [doc.page_content for doc in retriever.invoke("cat")] == ["cat", "cat"]
        assert [doc.page_content for doc in await retriever.ainvoke("cat")] == ["cat", "cat"]
    # Keys that no search type takes are still refused.
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*fetchk"):
        store.similarity_search("cat", fetchk=3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*top_k"):
        await store.amax_marginal_relevance_search("cat", top_k=3)


async def test_retriever_in_an_lcel_chain(store: ScintireteVectorStore, no_executor: None) -> None:
    add_pets(store)
    retriever = store.as_retriever(search_kwargs={"k": 2, "filter": {"lang": "en"}})
    context_chain = retriever | RunnableLambda(format_docs)
    assert context_chain.invoke("cat") == "cat\n\ndog"
    assert await context_chain.ainvoke("cat") == "cat\n\ndog"

    prompts: list[str] = []

    def remember(prompt: Any) -> Any:
        prompts.append(prompt.to_string())
        return prompt

    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    rag = (
        {"context": context_chain, "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(remember)
        | FakeListChatModel(responses=["A cat."])
        | StrOutputParser()
    )
    assert rag.invoke("Which pet?") == "A cat."
    assert "Context:\ncat\n\ndog" in prompts[0] and "Question: Which pet?" in prompts[0]


# -- a collection seen from several store objects ---------------------------------------------------


async def test_reopening_a_collection_from_a_second_store(
    make_store: Callable[..., ScintireteVectorStore], conn: Connection, no_executor: None
) -> None:
    first = make_store(metric="l2")
    ids = add_pets(first)
    second = ScintireteVectorStore.from_existing_collection(
        first.collection.name, KeywordEmbeddings(), **conn.kwargs()
    )
    assert second.collection.metric is Metric.L2  # read from the server
    assert second.get_by_ids(ids) == first.get_by_ids(ids)
    assert second.similarity_search("cat", k=4) == first.similarity_search("cat", k=4)
    second.delete(["a"])
    assert first.get_by_ids(["a"]) == []
    assert "a" not in ids_of(first.similarity_search("cat", k=4))
    first.add_texts(["bird"], ids=["e"])
    assert ids_of(second.get_by_ids(["e"])) == ["e"]
    third = await ScintireteVectorStore.afrom_existing_collection(
        first.collection.name, KeywordEmbeddings(), **conn.kwargs()
    )
    assert ids_of(await third.aget_by_ids(["a", "b", "e"])) == ["b", "e"]
    assert (await third.asimilarity_search_with_relevance_scores("bird", k=1))[0][1] == pytest.approx(1.0)


async def test_from_existing_collection_errors(
    store: ScintireteVectorStore, conn: Connection, no_executor: None
) -> None:
    with pytest.raises(NotFoundError, match=r"not found.*; check collection_name and db_name"):
        ScintireteVectorStore.from_existing_collection("never-created", KeywordEmbeddings(), **conn.kwargs())
    with pytest.raises(NotFoundError, match="check collection_name and db_name"):
        await ScintireteVectorStore.afrom_existing_collection(
            "x", KeywordEmbeddings(), db_name="no-such-db", **conn.kwargs()
        )
    store.add_texts(["cat"])
    with pytest.raises(InvalidArgumentError, match="uses the 'cosine' metric, not 'l2'"):
        ScintireteVectorStore.from_existing_collection(store.collection.name, metric="l2", **conn.kwargs())
    same = ScintireteVectorStore.from_existing_collection(
        store.collection.name, metric="cosine", **conn.kwargs()
    )
    assert same.collection.metric is Metric.COSINE


async def test_from_texts_and_from_documents(conn: Connection, no_executor: None) -> None:
    name = f"lc-{uuid.uuid4().hex[:12]}"
    store = ScintireteVectorStore.from_texts(
        ["cat", "dog"],
        KeywordEmbeddings(),
        [{"n": 1}, {"n": 2}],
        ids=["1", "2"],
        collection_name=name,
        **conn.kwargs(),
    )
    try:
        assert ids_of(store.similarity_search("dog", k=1)) == ["2"]
        again = await ScintireteVectorStore.afrom_texts(
            ["fish"], KeywordEmbeddings(), ids=["3"], collection_name=name, batch_size=1, **conn.kwargs()
        )
        documents = [Document("bird", metadata={"n": 4}, id="4"), Document("cat dog")]
        from_docs = ScintireteVectorStore.from_documents(
            documents, KeywordEmbeddings(), collection_name=name, **conn.kwargs()
        )
        afrom_docs = await ScintireteVectorStore.afrom_documents(
            [Document("cat cat", id="5")], KeywordEmbeddings(), collection_name=name, **conn.kwargs()
        )
        assert ids_of(again.get_by_ids(["1", "2", "3", "4", "5"])) == ["1", "2", "3", "4", "5"]
        assert from_docs.collection.count() == afrom_docs.collection.count() == 6
        assert documents[1].id is None
    finally:
        store.delete_collection()


def test_embedded_lite_server_when_no_address_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCINTIRETE_ADDRESS", raising=False)
    store = ScintireteVectorStore(KeywordEmbeddings(), collection_name=f"lc-{uuid.uuid4().hex[:12]}")
    try:
        store.add_texts(["cat", "dog"], ids=["a", "b"])
        assert ids_of(store.similarity_search("dog", k=1)) == ["b"]
        assert store.collection.client.address.startswith("127.0.0.1:")
    finally:
        store.delete_collection()


def test_accessors_and_repr(store: ScintireteVectorStore) -> None:
    embeddings = KeywordEmbeddings()
    other = ScintireteVectorStore(
        embeddings, client=store.collection.client, collection_name="accessors", db_name="lcdb"
    )
    assert other.embeddings is embeddings
    assert isinstance(other.collection, DocumentCollection)
    assert isinstance(other.async_collection, AsyncDocumentCollection)
    assert other.collection.db == other.async_collection.db == "lcdb"
    assert repr(other) == (
        "ScintireteVectorStore(collection_name='accessors', db_name='lcdb', metric='cosine', "
        "embedding=KeywordEmbeddings)"
    )
    assert "password" not in repr(other)


def test_connection_settings_are_those_of_the_llama_index_store(conn: Connection) -> None:
    options = {"max_message_bytes": 1 << 20, "timeout": 3.0}
    store = ScintireteVectorStore(KeywordEmbeddings(), **conn.kwargs(), timeout=2.5, client_options=options)
    assert store.collection.timeout == store.async_collection.timeout == 2.5
    assert (store.collection.client.max_message_bytes, store.async_collection.client.timeout) == (
        1 << 20,
        3.0,
    )
    embeddings = ScintireteEmbeddings(**conn.kwargs(), timeout=2.5, client_options=options)
    assert embeddings.timeout == 2.5
    store.add_texts(["cat"])
    opened = ScintireteVectorStore.from_existing_collection(
        store.collection.name, KeywordEmbeddings(), **conn.kwargs(), client_options=options
    )
    assert opened.collection.client.max_message_bytes == 1 << 20
    store.delete_collection()


# -- bad input ------------------------------------------------------------------------------------


def test_bad_input_fails_clearly(store: ScintireteVectorStore) -> None:
    with pytest.raises(InvalidArgumentError, match="not a single string"):
        store.add_texts("cat")
    with pytest.raises(InvalidArgumentError, match="texts\\[1\\] must be a string"):
        store.add_texts(["cat", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="got 1 metadatas for 2 texts"):
        store.add_texts(["cat", "dog"], [{"a": 1}])
    with pytest.raises(InvalidArgumentError, match="got 3 ids for 2 texts"):
        store.add_texts(["cat", "dog"], ids=["1", "2", "3"])
    with pytest.raises(InvalidArgumentError, match="metadatas\\[0\\] must be a dict"):
        store.add_texts(["cat"], ["not a dict"])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="'x' appears twice"):
        store.add_texts(["cat", "dog", "fish"], ids=["x", "y", "x"], batch_size=1)
    with pytest.raises(InvalidArgumentError, match="batch_size must be a positive integer"):
        store.add_texts(["cat"], batch_size=0)
    with pytest.raises(InvalidArgumentError, match="must be a Document"):
        store.add_documents(["cat"])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match=r"'when' is a date; store value.isoformat\(\)"):
        store.add_texts(["cat"], [{"when": datetime.date(2024, 1, 1)}])
    assert store.collection.count() == 0  # nothing above wrote anything
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*filters"):
        store.similarity_search("cat", filters={"a": 1})
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*top_k"):
        store.add_texts(["cat"], top_k=3)
    with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
        store.similarity_search("cat", k=0)
    store.add_texts(["cat"])
    with pytest.raises(InvalidArgumentError, match="query vector has dimension 2"):
        store.similarity_search_by_vector([1.0, 0.0])
    with pytest.raises(InvalidArgumentError, match="must be a LangChain Embeddings object"):
        ScintireteVectorStore(lambda text: [0.0], client=store.collection.client)  # type: ignore[arg-type]


# -- embeddings computed by the server -------------------------------------------------------------


@pytest.fixture(scope="module")
def embedding_server() -> Iterator[LiteServer]:
    with LiteServer(embedding=HashEmbeddings(32)) as server:
        yield server


@pytest.fixture
def server_conn(embedding_server: LiteServer) -> Connection:
    return Connection(embedding_server.address, embedding_server.password)


TALES = [
    ("t1", "the cat sat on the mat", {"kind": "pet"}),
    ("t2", "dogs bark at the postman", {"kind": "pet"}),
    ("t3", "stock markets fell sharply today", {"kind": "news"}),
]


async def test_server_side_embedding(server_conn: Connection, no_executor: None) -> None:
    store = ScintireteVectorStore(collection_name=f"lc-{uuid.uuid4().hex[:12]}", **server_conn.kwargs())
    try:
        assert isinstance(store.embeddings, ScintireteEmbeddings)
        ids = store.add_texts(
            [t for _, t, _ in TALES], [m for _, _, m in TALES], ids=[i for i, _, _ in TALES]
        )
        assert ids == ["t1", "t2", "t3"]
        # The server stored HashEmbeddings(32) vectors: searching with one locally computed finds it exactly.
        local = HashEmbeddings(32).embed_one("the cat sat on the mat")
        hit = store.collection.search(local, k=1)[0]
        assert hit.record.id == "t1" and hit.distance == pytest.approx(0.0, abs=1e-5)
        assert ids_of(store.similarity_search("a cat on a mat", k=1)) == ["t1"]
        assert ids_of(await store.asimilarity_search("markets today", k=1)) == ["t3"]
        assert ids_of(store.similarity_search("a cat on a mat", k=3, filter={"kind": "news"})) == ["t3"]
        assert ids_of(await store.asimilarity_search("cat", k=3, filter=lambda d: d.id == "t2")) == ["t2"]
        assert ids_of(store.max_marginal_relevance_search("the cat sat", k=1)) == ["t1"]
        assert ids_of(await store.amax_marginal_relevance_search("the cat sat", k=1)) == ["t1"]
        await store.aadd_documents([Document("birds sing at dawn", id="t4")], batch_size=1)
        assert ids_of(store.similarity_search("birds singing", k=1)) == ["t4"]
        with pytest.raises(InvalidArgumentError, match="non-empty string"):
            store.add_texts([""])
    finally:
        store.delete_collection()


def test_server_side_embedding_model_selection(server_conn: Connection) -> None:
    store = ScintireteVectorStore(
        collection_name=f"lc-{uuid.uuid4().hex[:12]}", embedding_model="hash-32", **server_conn.kwargs()
    )
    try:
        store.add_texts(["the cat sat"], ids=["a"])
        assert ids_of(store.similarity_search("cat", k=1)) == ["a"]
        wrong = ScintireteVectorStore(
            collection_name=store.collection.name, embedding_model="no-such-model", **server_conn.kwargs()
        )
        with pytest.raises(ScintireteError, match="no-such-model"):
            wrong.add_texts(["dog"])
    finally:
        store.delete_collection()


async def test_scintirete_embeddings(server_conn: Connection, no_executor: None) -> None:
    texts = ["alpha", "beta gamma", "delta", "epsilon zeta", "eta"]
    expected = HashEmbeddings(32).embed(texts)
    embeddings = ScintireteEmbeddings(**server_conn.kwargs())
    batched = ScintireteEmbeddings("hash-32", batch_size=2, **server_conn.kwargs())
    for vectors in (
        embeddings.embed_documents(texts),
        batched.embed_documents(texts),
        await batched.aembed_documents(texts),
    ):
        assert len(vectors) == 5 and all(isinstance(x, float) for x in vectors[0])
        np.testing.assert_allclose(np.asarray(vectors), expected, atol=1e-6)
    np.testing.assert_allclose(embeddings.embed_query("delta"), expected[2], atol=1e-6)
    np.testing.assert_allclose(await embeddings.aembed_query("eta"), expected[4], atol=1e-6)
    assert embeddings.embed_documents([]) == []
    assert await embeddings.aembed_documents([]) == []
    assert repr(batched) == f"ScintireteEmbeddings(model='hash-32', address='{server_conn.address}')"
    with pytest.raises(ScintireteError, match="unknown embedding model"):
        ScintireteEmbeddings("other", **server_conn.kwargs()).embed_query("x")
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        ScintireteEmbeddings(batch_size=0, **server_conn.kwargs())
    with pytest.raises(InvalidArgumentError, match="not a single string"):
        embeddings.embed_documents("abc")  # type: ignore[arg-type]


class TestScintireteEmbeddingsStandard(EmbeddingsIntegrationTests):
    """LangChain's standard embeddings suite, unchanged, against the Lite server's HashEmbeddings."""

    @pytest.fixture(autouse=True)
    def _connect(self, server_conn: Connection) -> None:
        self.connection = server_conn

    @property
    def embeddings_class(self) -> type[ScintireteEmbeddings]:
        return ScintireteEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "hash-32", **self.connection.kwargs()}


# -- self-query -----------------------------------------------------------------------------------


async def test_structured_query_filters_the_store(store: ScintireteVectorStore, no_executor: None) -> None:
    add_pets(store)
    translator = ScintireteTranslator()
    structured = StructuredQuery(
        "cat",
        Operation(
            operator=Operator.AND,
            arguments=[
                Comparison(comparator=Comparator.GTE, attribute="year", value=2020),
                Operation(
                    operator=Operator.NOT,
                    arguments=[Comparison(comparator=Comparator.EQ, attribute="lang", value="fr")],
                ),
                Comparison(comparator=Comparator.LIKE, attribute="author.name", value="%B%"),
            ],
        ),
        limit=3,
    )
    query, kwargs = translator.visit_structured_query(structured)
    assert ids_of(store.similarity_search(query, **kwargs)) == ["b"]
    retriever = store.as_retriever(search_kwargs=kwargs)
    assert ids_of(await retriever.ainvoke(query)) == ["b"]
    contains = StructuredQuery(
        "dog", Comparison(comparator=Comparator.CONTAIN, attribute="tags", value="pet")
    )
    query, kwargs = translator.visit_structured_query(contains)
    assert ids_of(store.similarity_search(query, k=5, **kwargs)) == ["b", "a"]


# -- precomputed vectors --------------------------------------------------------------------------


class CountingEmbeddings(KeywordEmbeddings):
    """KeywordEmbeddings that remember every text they were asked to embed as a document."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += texts
        return super().embed_documents(texts)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)


async def test_add_embeddings_stores_the_given_vectors_without_embedding(
    make_store: Callable[..., ScintireteVectorStore], no_executor: None
) -> None:
    counting = CountingEmbeddings()
    store = make_store(counting)
    vectors = KEYWORDS.embed_documents(["cat", "dog", "fish"])
    ids = store.add_embeddings(
        (text for text in ["cat", "dog"]), iter(vectors[:2]), [{"n": 1}, None], ["c", None], batch_size=1
    )
    assert ids[0] == "c" and uuid.UUID(ids[1])
    assert await store.aadd_embeddings(["fish"], [vectors[2]], ids=["f"]) == ["f"]
    assert counting.embedded == []
    assert ids_of(store.similarity_search_by_vector(vectors[1], k=1)) == [ids[1]]
    assert [(doc.page_content, doc.metadata) for doc in store.get_by_ids(["c", "f"])] == [
        ("cat", {"n": 1}),
        ("fish", {}),
    ]
    with pytest.raises(InvalidArgumentError, match="got 1 embeddings for 2 texts"):
        store.add_embeddings(["cat", "dog"], [vectors[0]])
    with pytest.raises(InvalidArgumentError, match="got 1 embeddings for 2 texts"):
        await store.aadd_embeddings(["cat", "dog"], [vectors[0]])


async def test_from_embeddings_and_afrom_embeddings(conn: Connection, no_executor: None) -> None:
    pairs = list(zip(["cat", "dog"], KEYWORDS.embed_documents(["cat", "dog"]), strict=True))
    name = f"lc-{uuid.uuid4().hex[:12]}"
    store = ScintireteVectorStore.from_embeddings(
        iter(pairs), KEYWORDS, [{"n": 1}, {"n": 2}], ["c", "d"], collection_name=name, **conn.kwargs()
    )
    assert ids_of(store.similarity_search("dog", k=1)) == ["d"]
    other = await ScintireteVectorStore.afrom_embeddings(
        pairs, KEYWORDS, ids=["c2", "d2"], collection_name=name + "a", **conn.kwargs()
    )
    assert ids_of(await other.asimilarity_search("cat", k=1)) == ["c2"]
    with pytest.raises(InvalidArgumentError, match="must be a \\(text, vector\\) pair"):
        ScintireteVectorStore.from_embeddings(["cat"], KEYWORDS, **conn.kwargs())  # type: ignore[list-item]
    store.delete_collection()
    await other.adelete_collection()


# -- search by vector with scores ------------------------------------------------------------------


async def test_similarity_search_with_score_by_vector(
    store: ScintireteVectorStore, no_executor: None
) -> None:
    add_pets(store)
    vector = KEYWORDS.embed_query("cat")
    by_query = store.similarity_search_with_score("cat", k=3, filter={"lang": {"$ne": "fr"}})
    by_vector = store.similarity_search_with_score_by_vector(vector, k=3, filter={"lang": {"$ne": "fr"}})
    assert by_vector == by_query
    assert await store.asimilarity_search_with_score_by_vector(vector, 3, {"lang": {"$ne": "fr"}}) == by_query
    assert [d for _, d in by_vector] == sorted(d for _, d in by_vector)


async def test_relevance_scores_by_vector(store: ScintireteVectorStore, no_executor: None) -> None:
    add_pets(store)
    vector = KEYWORDS.embed_query("cat")
    expected = store.similarity_search_with_relevance_scores("cat", k=4)
    assert store.similarity_search_with_relevance_scores_by_vector(vector, k=4) == expected
    assert await store.asimilarity_search_with_relevance_scores_by_vector(vector, k=4) == expected
    kept = store.similarity_search_with_relevance_scores_by_vector(vector, k=4, score_threshold=0.6)
    assert ids_of([doc for doc, _ in kept]) == ["a", "b"]
    only_en = await store.asimilarity_search_with_relevance_scores_by_vector(
        vector, k=4, filter=lambda doc: doc.metadata["lang"] == "en", score_threshold=0.0
    )
    assert ids_of([doc for doc, _ in only_en]) == ["a", "c"]


# -- relevance convention -------------------------------------------------------------------------


def test_relevance_follows_langchain_helpers_clipped_to_0_1() -> None:
    from scintirete_integrations.langchain import RELEVANCE_FUNCTIONS

    cosine = RELEVANCE_FUNCTIONS[Metric.COSINE]
    assert [cosine(d) for d in (0.0, 0.25, 1.0, 1.5, 2.0)] == [1.0, 0.75, 0.0, 0.0, 0.0]
    l2 = RELEVANCE_FUNCTIONS[Metric.L2]
    assert l2(0.0) == 1.0 and l2(1.0) == pytest.approx(VectorStore._euclidean_relevance_score_fn(1.0))
    assert l2(2.0) == 0.0
    inner = RELEVANCE_FUNCTIONS[Metric.INNER_PRODUCT]  # the distance is -dot
    assert [inner(d) for d in (-1.0, -0.5, 0.0, 0.5, 3.0)] == [1.0, 0.5, 0.0, 0.0, 0.0]
    assert inner(-0.3) == VectorStore._max_inner_product_relevance_score_fn(-0.3)
    for fn in RELEVANCE_FUNCTIONS.values():
        assert fn(float("nan")) == 0.0 and fn(float("inf")) == 0.0


def test_cosine_relevance_is_the_cosine_similarity_as_in_chroma_and_pgvector(
    store: ScintireteVectorStore,
) -> None:
    store.add_texts(["cat dog"], ids=["cd"])
    [(_, score)] = store.similarity_search_with_relevance_scores("cat", k=1)
    cat, cat_dog = np.array(KEYWORDS.embed_query("cat")), np.array(KEYWORDS.embed_query("cat dog"))
    assert score == pytest.approx(float(cat @ cat_dog), abs=1e-6)  # unit vectors: cos = dot


# -- listing without a query ------------------------------------------------------------------------


async def test_get_lists_documents_without_a_query(store: ScintireteVectorStore, no_executor: None) -> None:
    add_pets(store)
    assert ids_of(store.get()) == ["a", "b", "c", "d"]  # oldest write first
    assert ids_of(store.get(where={"lang": "en"})) == ["a", "c"]
    assert ids_of(store.get(limit=2, offset=1)) == ["b", "c"]
    assert ids_of(store.get(where={"year": {"$gte": 2020}}, limit=1, offset=1)) == ["c"]
    assert ids_of(store.get(where=lambda doc: "pet" in doc.metadata["tags"], offset=1)) == ["b"]
    assert ids_of(store.get(["d", "zzz", "a"])) == ["d", "a"]
    assert ids_of(store.get(["d", "c", "a"], where={"lang": "en"})) == ["c", "a"]
    assert store.get(limit=0) == [] and store.get(offset=10) == []
    first = store.get(["a"])[0]
    assert (first.page_content, first.metadata) == ("cat", PETS[0][2])
    assert ids_of(await store.aget(where={"lang": "en"}, limit=1, offset=1)) == ["c"]
    assert ids_of(await store.aget(["d", "c", "a"], where={"lang": "en"})) == ["c", "a"]
    for bad in ({"limit": -1}, {"offset": -1}, {"limit": 1.5}, {"offset": True}):
        with pytest.raises(InvalidArgumentError, match="non-negative integer"):
            store.get(**bad)
    with pytest.raises(InvalidArgumentError, match="not a single string"):
        store.get("a")
    with pytest.raises(InvalidArgumentError):
        await store.aget(where={"year": {"$bad": 1}})


async def test_scroll_yields_pages_in_write_order(store: ScintireteVectorStore, no_executor: None) -> None:
    assert list(store.scroll()) == []
    add_pets(store)
    assert [ids_of(page) for page in store.scroll(batch_size=3)] == [["a", "b", "c"], ["d"]]
    assert [ids_of(page) for page in store.scroll({"lang": "en"}, batch_size=1)] == [["a"], ["c"]]
    pages = [ids_of(page) async for page in store.ascroll(lambda doc: doc.metadata["year"] > 2020)]
    assert pages == [["b", "c", "d"]]
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        list(store.scroll(batch_size=0))


# -- closing --------------------------------------------------------------------------------------


async def test_close_and_context_managers_close_only_what_the_store_made(
    conn: Connection, no_executor: None
) -> None:
    name = f"lc-{uuid.uuid4().hex[:12]}"
    with ScintireteVectorStore(KEYWORDS, collection_name=name, **conn.kwargs()) as store:
        store.add_texts(["cat"], ids=["c"])
        made = store.collection.client
        assert made._channel is not None
    assert made._channel is None  # closed on leaving the block

    shared = ScintireteClient(conn.address, password=conn.password)
    async with ScintireteVectorStore(KEYWORDS, collection_name=name, client=shared) as first:
        assert ids_of(await first.aget()) == ["c"]
    second = ScintireteVectorStore(KEYWORDS, collection_name=name, client=shared)
    second.close()
    third = ScintireteVectorStore(KEYWORDS, collection_name=name, client=shared)
    assert ids_of(third.get()) == ["c"]  # the shared client was never closed
    assert shared._channel is not None

    opened = ScintireteVectorStore.from_existing_collection(name, KEYWORDS, **conn.kwargs())
    opened.get()
    made = opened.collection.client
    opened.close()
    assert made._channel is None
    reopened = ScintireteVectorStore.from_existing_collection(name, KEYWORDS, client=shared)
    await reopened.aclose()
    assert shared._channel is not None
    third.delete_collection()
    shared.close()


# -- progress ---------------------------------------------------------------------------------------


def test_progress_callback_and_info_logging(
    store: ScintireteVectorStore, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[int, int]] = []
    with caplog.at_level(logging.INFO, logger="scintirete_integrations.langchain"):
        store.add_texts(
            ["cat", "dog", "fish", "bird", "cat dog"], batch_size=2, progress=lambda *a: calls.append(a)
        )
    assert calls == [(2, 5), (4, 5), (5, 5)]
    lines = [r.getMessage() for r in caplog.records if r.name == "scintirete_integrations.langchain"]
    assert len(lines) == 3 and lines[-1].startswith("add_texts: 5/5 stored") and "/s" in lines[-1]
    assert capsys.readouterr() == ("", "")  # nothing printed unless asked
    store.add_embeddings(["x"], [KEYWORDS.embed_query("x")], progress=True)
    assert "add_embeddings: 1/1 stored" in capsys.readouterr().err
    with pytest.raises(InvalidArgumentError, match="progress must be"):
        store.add_texts(["cat"], progress="yes")  # type: ignore[arg-type]


# -- resuming an ingest -----------------------------------------------------------------------------


async def test_rerunning_an_ingest_does_not_embed_unchanged_texts_again(
    make_store: Callable[..., ScintireteVectorStore], no_executor: None
) -> None:
    counting = CountingEmbeddings()
    store = make_store(counting)
    texts = ["cat", "dog", "fish", "bird"]
    metadatas: list[dict[str, Any]] = [{"n": i} for i in range(4)]
    ids = ["a", "b", "c", "d"]
    store.add_texts(texts[:2], metadatas[:2], ids=ids[:2])  # interrupted after two
    counting.embedded.clear()
    store.add_texts(texts, metadatas, ids=ids, batch_size=3)
    assert counting.embedded == ["fish", "bird"]
    counting.embedded.clear()
    await store.aadd_texts(texts, metadatas, ids=ids)
    assert counting.embedded == []
    changed = [{**m} for m in metadatas]
    changed[1] = {"n": 1.0}  # 1 and 1.0 are different metadata
    await store.aadd_documents(
        [
            Document(t, metadata=m, id=i)
            for t, m, i in zip(["cat", "dog", "FISH", "bird"], changed, ids, strict=True)
        ]
    )
    assert counting.embedded == ["dog", "FISH"]
    assert store.get(["b", "c"])[0].metadata == {"n": 1.0}
    # A replaced document counts as the newest write.
    assert [doc.page_content for doc in store.get()] == ["cat", "bird", "dog", "FISH"]


def test_closing_the_last_store_on_a_data_dir_releases_it_for_another_process(tmp_path: Path) -> None:
    """A notebook writes, closes, and a script in another process opens the same directory."""
    data_dir = tmp_path / "store"
    with ScintireteVectorStore(KEYWORDS, collection_name="kept", data_dir=data_dir) as store:
        store.add_texts(["cat", "dog"], ids=["a", "b"])
    script = (
        "import sys\n"
        "from scintirete_integrations.langchain import ScintireteVectorStore\n"
        "from scintirete_integrations.documents import DocumentCollection\n"
        "docs = DocumentCollection.connect('kept', data_dir=sys.argv[1])\n"
        "print(sorted(r.id for r in docs.scan()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data_dir)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['a', 'b']"
