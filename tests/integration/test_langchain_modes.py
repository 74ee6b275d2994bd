"""Keyword and hybrid retrieval through the LangChain store: modes per store and per call,
retrievers, scores and thresholds, MMR, refusals, and server-side embeddings.

The rankings themselves are the document layer's (tests/integration/test_keyword_search.py);
here each LangChain method must return what the layer returns for the same settings.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from scintirete_integrations import InvalidArgumentError
from scintirete_integrations.langchain import RELEVANCE_FUNCTIONS, RetrievalMode, ScintireteVectorStore
from scintirete_integrations.lite import HashEmbeddings, LiteServer

TOPICS = ("disk", "network", "cat", "power")


class TopicEmbeddings(Embeddings):
    """One axis per topic word plus a constant: blind to identifiers such as ERR_4031, as real
    embeddings largely are. Counts the queries it embeds."""

    def __init__(self) -> None:
        self.queries = 0

    def _vector(self, text: str) -> list[float]:
        words = text.lower().replace(",", " ").split()
        vector = [float(sum(word.startswith(topic) for word in words)) for topic in TOPICS] + [0.2]
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector]

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return self._vector(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)


LOGS = [
    ("l1", "disk full after a power cut: ERR_4031 from the storage driver", {"host": "a", "sev": 3}),
    ("l2", "disk latency high on the array", {"host": "b", "sev": 2}),
    ("l3", "disk disk disk health report", {"host": "a", "sev": 1}),
    ("l4", "network down after ERR_5002", {"host": "b", "sev": 3}),
    ("l5", "the cat walked over the keyboard", {"host": "c", "sev": 1}),
    ("l6", "power supply replaced, err 4031 cleared", {"host": "c", "sev": 2}),
    ("l7", "disk replaced in the array", {"host": "a", "sev": 2}),
]


def ids_of(documents: list[Document]) -> list[str]:
    return [doc.id or "" for doc in documents]


def id_pairs(pairs: list[tuple[Document, float]]) -> list[tuple[str, float]]:
    return [(doc.id or "", score) for doc, score in pairs]


def hit_pairs(hits: list[Any], attribute: str = "score") -> list[tuple[str, float]]:
    return [(hit.record.id, getattr(hit, attribute)) for hit in hits]


@pytest.fixture
def make_store(address: str, password: str) -> Iterator[Callable[..., ScintireteVectorStore]]:
    stores: list[ScintireteVectorStore] = []

    def make(**kwargs: Any) -> ScintireteVectorStore:
        kwargs.setdefault("collection_name", f"lcm-{uuid.uuid4().hex[:12]}")
        store = ScintireteVectorStore(
            kwargs.pop("embedding", TopicEmbeddings()), address=address, password=password, **kwargs
        )
        store.add_texts([t for _, t, _ in LOGS], [m for _, _, m in LOGS], ids=[i for i, _, _ in LOGS])
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.delete_collection()


@pytest.fixture
def store(make_store: Callable[..., ScintireteVectorStore]) -> ScintireteVectorStore:
    return make_store()


QUERY = "ERR_4031 disk"


# -- modes


def test_retrieval_mode_is_exported_and_parsed(make_store: Callable[..., ScintireteVectorStore]) -> None:
    assert RetrievalMode("hybrid") is RetrievalMode.HYBRID and RetrievalMode.KEYWORD == "keyword"
    assert make_store().retrieval_mode is RetrievalMode.DENSE
    assert make_store(retrieval_mode="Keyword").retrieval_mode is RetrievalMode.KEYWORD
    assert make_store(retrieval_mode=RetrievalMode.HYBRID).retrieval_mode is RetrievalMode.HYBRID
    with pytest.raises(
        InvalidArgumentError, match="retrieval_mode must be one of 'dense', 'keyword', 'hybrid'"
    ):
        ScintireteVectorStore(TopicEmbeddings(), retrieval_mode="sparse")
    with pytest.raises(InvalidArgumentError, match="fusion must be one of"):
        ScintireteVectorStore(TopicEmbeddings(), fusion="max")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="alpha must be a number between 0"):
        ScintireteVectorStore(TopicEmbeddings(), alpha=2)


async def test_keyword_mode_ranks_by_bm25_and_embeds_nothing(
    make_store: Callable[..., ScintireteVectorStore],
) -> None:
    embeddings = TopicEmbeddings()
    store = make_store(embedding=embeddings, retrieval_mode="keyword")
    layer = store.collection.search_keywords(QUERY, 4)
    assert ids_of(store.similarity_search(QUERY, k=4)) == [h.record.id for h in layer]
    assert ids_of(store.similarity_search(QUERY, k=4))[0] == "l1"  # the whole identifier
    assert ids_of(await store.asimilarity_search(QUERY, k=4)) == [h.record.id for h in layer]
    with_scores = store.similarity_search_with_score(QUERY, k=4)
    assert id_pairs(with_scores) == hit_pairs(layer, "distance")  # 1 - relevance, lower is better
    assert id_pairs(await store.asimilarity_search_with_score(QUERY, k=4)) == hit_pairs(layer, "distance")
    relevance = store.similarity_search_with_relevance_scores(QUERY, k=4)
    assert id_pairs(relevance) == hit_pairs(layer) and all(0 < s < 1 for _, s in relevance)
    assert embeddings.queries == 0


async def test_hybrid_mode_is_the_layers_fusion(make_store: Callable[..., ScintireteVectorStore]) -> None:
    store = make_store(retrieval_mode="hybrid")
    vector = store.embeddings.embed_query(QUERY)
    layer = store.collection.search_hybrid(QUERY, vector, 4)
    assert ids_of(store.similarity_search(QUERY, k=4)) == [h.record.id for h in layer]
    # dense alone cannot tell l1 from the other disk logs; hybrid puts it first
    dense = store.similarity_search(QUERY, k=4, retrieval_mode="dense")
    assert ids_of(dense)[0] != "l1" and ids_of(store.similarity_search(QUERY, k=4))[0] == "l1"
    assert id_pairs(store.similarity_search_with_score(QUERY, k=4)) == hit_pairs(layer, "distance")
    assert id_pairs(await store.asimilarity_search_with_relevance_scores(QUERY, k=4)) == hit_pairs(layer)
    rrf = store.collection.search_hybrid(QUERY, vector, 3, fusion="rrf", alpha=0.7, dense_k=5, keyword_k=5)
    per_call = store.similarity_search_with_relevance_scores(QUERY, k=3, fusion="rrf", alpha=0.7, fetch_k=5)
    assert id_pairs(per_call) == hit_pairs(rrf)


async def test_the_call_overrides_the_store(make_store: Callable[..., ScintireteVectorStore]) -> None:
    dense_store, hybrid_store = make_store(), make_store(retrieval_mode="hybrid", fusion="rrf", alpha=0.2)
    assert ids_of(hybrid_store.similarity_search(QUERY, k=5, retrieval_mode="dense")) == ids_of(
        dense_store.similarity_search(QUERY, k=5)
    )
    assert ids_of(
        await dense_store.asimilarity_search(QUERY, k=5, retrieval_mode="hybrid", fusion="rrf", alpha=0.2)
    ) == ids_of(hybrid_store.similarity_search(QUERY, k=5))
    vector = hybrid_store.embeddings.embed_query(QUERY)
    assert ids_of(hybrid_store.similarity_search(QUERY, k=5)) == [
        h.record.id for h in hybrid_store.collection.search_hybrid(QUERY, vector, 5, fusion="rrf", alpha=0.2)
    ]
    with pytest.raises(InvalidArgumentError, match="retrieval_mode must be one of"):
        dense_store.similarity_search(QUERY, retrieval_mode="bm25")
    with pytest.raises(InvalidArgumentError, match="fetch_k must be a positive integer"):
        dense_store.similarity_search(QUERY, retrieval_mode="hybrid", fetch_k=0)
    with pytest.raises(TypeError, match="supported: k, filter, retrieval_mode, fusion, alpha, fetch_k"):
        dense_store.similarity_search(QUERY, mode="hybrid")


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
async def test_filters_in_each_mode(store: ScintireteVectorStore, mode: str) -> None:
    where = {"host": "a"}
    found = store.similarity_search(QUERY, k=7, filter=where, retrieval_mode=mode)
    assert found and {doc.metadata["host"] for doc in found} == {"a"}
    by_callable = await store.asimilarity_search(
        QUERY, k=7, filter=lambda doc: doc.metadata["host"] == "a", retrieval_mode=mode
    )
    assert ids_of(by_callable) == ids_of(found)
    assert store.similarity_search(QUERY, k=7, filter={"host": "zzz"}, retrieval_mode=mode) == []


# -- thresholds


async def test_thresholds_in_keyword_mode_apply_to_keyword_relevance(store: ScintireteVectorStore) -> None:
    everything = store.collection.search_keywords(QUERY, 7)
    threshold = everything[1].score  # keeps the best two
    kept = store.similarity_search_with_relevance_scores(
        QUERY, k=7, score_threshold=threshold, retrieval_mode="keyword"
    )
    assert id_pairs(kept) == hit_pairs(everything[:2])
    retriever = store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"score_threshold": threshold, "retrieval_mode": "keyword", "k": 7},
    )
    assert ids_of(await retriever.ainvoke(QUERY)) == ids_of([doc for doc, _ in kept])


async def test_thresholds_in_hybrid_mode_apply_to_each_list_before_fusing(
    store: ScintireteVectorStore,
) -> None:
    vector = store.embeddings.embed_query(QUERY)
    relevance = RELEVANCE_FUNCTIONS[store.collection.metric]
    threshold = 0.5
    dense = [h for h in store.collection.search(vector, 50) if relevance(h.distance) >= threshold]
    keyword = [h for h in store.collection.search_keywords(QUERY, 50) if h.score >= threshold]
    kept = store.similarity_search_with_relevance_scores(
        QUERY, k=7, score_threshold=threshold, retrieval_mode="hybrid"
    )
    assert {doc.id for doc, _ in kept} == {h.record.id for h in dense + keyword}
    assert id_pairs(kept) == hit_pairs(
        store.collection.search_hybrid(QUERY, vector, 7, score_threshold=threshold, dense_relevance=relevance)
    )
    retriever = store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"score_threshold": threshold, "retrieval_mode": "hybrid", "k": 7},
    )
    assert ids_of(retriever.invoke(QUERY)) == [doc.id for doc, _ in kept]
    assert (
        store.similarity_search_with_relevance_scores(QUERY, score_threshold=1.01, retrieval_mode="hybrid")
        == []
    )


# -- retrievers


async def test_a_retriever_can_be_hybrid_while_its_store_is_dense(store: ScintireteVectorStore) -> None:
    assert store.retrieval_mode is RetrievalMode.DENSE
    retriever = store.as_retriever(search_kwargs={"retrieval_mode": "hybrid", "k": 3})
    assert ids_of(retriever.invoke(QUERY)) == ids_of(
        store.similarity_search(QUERY, k=3, retrieval_mode="hybrid")
    )
    assert ids_of(await retriever.ainvoke(QUERY)) == ids_of(retriever.invoke(QUERY))
    assert ids_of(retriever.invoke(QUERY))[0] == "l1"
    keyword = store.as_retriever(search_kwargs={"retrieval_mode": RetrievalMode.KEYWORD, "k": 1})
    assert ids_of(keyword.invoke("err_5002")) == ["l4"]
    mmr = store.as_retriever(
        search_type="mmr", search_kwargs={"retrieval_mode": "hybrid", "k": 3, "fetch_k": 7}
    )
    assert ids_of(await mmr.ainvoke(QUERY)) == ids_of(mmr.invoke(QUERY))


# -- MMR


async def test_hybrid_mmr_re_ranks_the_fused_candidates(store: ScintireteVectorStore) -> None:
    store.add_texts([LOGS[0][1]] * 2, ids=["copy1", "copy2"])
    fused = ids_of(store.similarity_search(QUERY, k=3, retrieval_mode="hybrid"))
    assert set(fused) == {"l1", "copy1", "copy2"}  # three copies of the same text
    diverse = store.max_marginal_relevance_search(
        QUERY, k=3, fetch_k=9, lambda_mult=0.3, retrieval_mode="hybrid"
    )
    assert len({doc.page_content for doc in diverse}) == 3
    assert {doc.id for doc in diverse} <= set(
        ids_of(store.similarity_search(QUERY, k=9, retrieval_mode="hybrid"))
    )
    again = await store.amax_marginal_relevance_search(
        QUERY, k=3, fetch_k=9, lambda_mult=0.3, retrieval_mode="hybrid"
    )
    assert ids_of(again) == ids_of(diverse)
    relevance_only = store.max_marginal_relevance_search(
        QUERY, k=3, fetch_k=9, lambda_mult=1.0, retrieval_mode="hybrid"
    )
    # the fused list chooses the candidates; MMR then weighs their vectors' similarity to the
    # query's, so with lambda_mult=1 it returns the candidates nearest to the query vector
    vector = store.embeddings.embed_query(QUERY)
    candidates = {
        h.record.id for h in store.collection.search_hybrid(QUERY, vector, 9, dense_k=9, keyword_k=9)
    }
    nearest = [h.record.id for h in store.collection.search(vector, 10) if h.record.id in candidates]
    assert set(ids_of(relevance_only)) == set(nearest[:3]) == {"l2", "l3", "l7"}


async def test_keyword_mmr_and_keyword_or_hybrid_searches_by_vector_are_refused(
    make_store: Callable[..., ScintireteVectorStore],
) -> None:
    store = make_store(retrieval_mode="keyword")
    with pytest.raises(InvalidArgumentError, match="needs dense or hybrid retrieval, not keyword"):
        store.max_marginal_relevance_search(QUERY)
    with pytest.raises(InvalidArgumentError, match="retrieval_mode='hybrid'"):
        await store.amax_marginal_relevance_search(QUERY)
    vector = store.embeddings.embed_query(QUERY)
    calls: list[Callable[..., Any]] = [
        store.similarity_search_by_vector,
        store.asimilarity_search_by_vector,
        store.similarity_search_with_score_by_vector,
        store.asimilarity_search_with_score_by_vector,
        store.similarity_search_with_relevance_scores_by_vector,
        store.asimilarity_search_with_relevance_scores_by_vector,
        store.max_marginal_relevance_search_by_vector,
        store.amax_marginal_relevance_search_by_vector,
    ]
    for mode in ("keyword", "hybrid"):
        for call in calls:
            name = call.__name__
            with pytest.raises(
                InvalidArgumentError, match=rf"{name}\(\) searches by a vector, which is dense"
            ):
                result = call(vector, retrieval_mode=mode)
                if hasattr(result, "__await__"):
                    await result
    # the store's own mode does not apply to searches by vector: they are dense
    assert ids_of(store.similarity_search_by_vector(vector, k=2)) == ids_of(
        store.similarity_search(QUERY, k=2, retrieval_mode="dense")
    )
    assert len(await store.asimilarity_search_by_vector(vector, k=2, retrieval_mode="dense")) == 2


# -- embeddings computed by the server


@pytest.fixture(scope="module")
def embedding_server() -> Iterator[LiteServer]:
    with LiteServer(embedding=HashEmbeddings(32)) as server:
        yield server


async def test_keyword_and_hybrid_with_server_side_embeddings(embedding_server: LiteServer) -> None:
    store = ScintireteVectorStore(
        collection_name=f"lcm-{uuid.uuid4().hex[:12]}",
        address=embedding_server.address,
        password=embedding_server.password,
        retrieval_mode="hybrid",
    )
    try:
        store.add_texts([t for _, t, _ in LOGS], [m for _, _, m in LOGS], ids=[i for i, _, _ in LOGS])
        vector = HashEmbeddings(32).embed_one(QUERY)
        layer = store.collection.search_hybrid(QUERY, vector, 3)
        assert ids_of(store.similarity_search(QUERY, k=3)) == [h.record.id for h in layer]
        assert ids_of(await store.asimilarity_search(QUERY, k=3)) == [h.record.id for h in layer]
        assert ids_of(store.max_marginal_relevance_search(QUERY, k=2, fetch_k=5)) != []

        def refuse(*args: Any) -> list[float]:
            raise AssertionError("keyword mode embedded the query")

        store.embeddings.embed_query = refuse  # type: ignore[method-assign]
        store.embeddings.aembed_query = refuse  # type: ignore[method-assign]
        keyword = store.similarity_search(QUERY, k=3, retrieval_mode="keyword")
        assert ids_of(keyword) == [h.record.id for h in store.collection.search_keywords(QUERY, 3)]
        assert ids_of(await store.asimilarity_search(QUERY, k=3, retrieval_mode="keyword")) == ids_of(keyword)
    finally:
        store.delete_collection()


def test_constructors_take_the_mode(address: str, password: str) -> None:
    name = f"lcm-{uuid.uuid4().hex[:12]}"
    made = ScintireteVectorStore.from_texts(
        [t for _, t, _ in LOGS],
        TopicEmbeddings(),
        ids=[i for i, _, _ in LOGS],
        collection_name=name,
        address=address,
        password=password,
        retrieval_mode="keyword",
    )
    try:
        reopened = ScintireteVectorStore.from_existing_collection(
            name, TopicEmbeddings(), address=address, password=password, retrieval_mode="keyword"
        )
        assert reopened.retrieval_mode is RetrievalMode.KEYWORD
        assert ids_of(reopened.similarity_search(QUERY, k=3)) == ids_of(made.similarity_search(QUERY, k=3))
        reopened.close()
    finally:
        made.delete_collection()
