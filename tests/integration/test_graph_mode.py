"""The document layer and both stores on Lite's HNSW graph, where a search misses most of the data.

Lite's ``index="hnsw"`` builds the graph the real server builds, with its losses: one
full-collection search of a tight clustered mixture returns a few percent of it, and
heavy deletion cuts survivors off. Everything here failed against a layer that learnt what
exists from searching the data (0.1's design); get, delete, filters and counts must be exact.
Searches go through the server's index here (``exact_search_limit=0``), not the client's scan.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from scintirete_integrations import ScintireteClient
from scintirete_integrations.documents import DocumentCollection, Record
from scintirete_integrations.lite import LiteServer

N = 2000
DIM = 48


def clustered(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """A tight mixture: 20 centres on the unit sphere, small noise; islands in an HNSW graph."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    points = centres[rng.integers(0, 20, n)] + rng.standard_normal((n, dim)) * 0.03
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def graph_server() -> Iterator[LiteServer]:
    with LiteServer(index="hnsw", index_seed=1) as server:
        yield server


@pytest.fixture
def client(graph_server: LiteServer) -> Iterator[ScintireteClient]:
    with ScintireteClient(graph_server.address, password=graph_server.password, timeout=120) as c:
        yield c


def _records(vectors: np.ndarray) -> list[Record]:
    return [
        Record(f"r{i}", f"text {i}", vectors[i], {"i": i, "tag": "rare" if i % 200 == 0 else "common"})
        for i in range(len(vectors))
    ]


def _exact_top(vectors: np.ndarray, query: np.ndarray, ids: list[int], k: int) -> list[str]:
    distance = 1.0 - vectors[ids] @ query / np.linalg.norm(vectors[ids], axis=1) / np.linalg.norm(query)
    return [f"r{ids[i]}" for i in np.argsort(distance, kind="stable")[:k]]


def test_get_delete_and_filters_are_exact_where_search_reaches_islands(client: ScintireteClient) -> None:
    name = f"islands-{uuid.uuid4().hex[:6]}"
    vectors = clustered(N)
    writer = DocumentCollection(name, client, metric="cosine", exact_search_limit=0)
    try:
        writer.upsert(_records(vectors))
        raw = client.search("default", writer._core.view.gen, vectors[0], top_k=N + 10, ef_search=N + 10)
        assert len(raw) < N // 4  # the server's own full search reaches a small part

        fresh = DocumentCollection(name, client, metric="cosine", exact_search_limit=0)
        assert len(fresh.get([f"r{i}" for i in range(N)])) == N
        assert fresh.count() == N

        deleted = {f"r{i}" for i in range(N) if i % 2}
        assert writer.delete(sorted(deleted)) == N // 2
        fresh = DocumentCollection(name, client, metric="cosine", exact_search_limit=0)
        assert {r.id for r in fresh.get([f"r{i}" for i in range(N)])} == {f"r{i}" for i in range(0, N, 2)}
        rng = np.random.default_rng(5)
        for query in vectors[rng.integers(0, N, 20)]:
            assert not {hit.record.id for hit in fresh.search(query, k=10)} & deleted
            assert not {hit.record.id for hit in fresh.mmr(query, k=5, fetch_k=20)} & deleted

        rare = [i for i in range(0, N, 2) if i % 200 == 0]  # 10 live records, 0.5% of the collection
        for query in vectors[:3]:
            hits = fresh.search(query, k=10, filter={"tag": "rare"})
            assert [h.record.id for h in hits] == _exact_top(vectors, query, rare, 10)
    finally:
        writer.drop()


def test_heavy_deletion_keeps_every_survivor_and_compacts(client: ScintireteClient) -> None:
    name = f"heavy-{uuid.uuid4().hex[:6]}"
    vectors = clustered(N, seed=2)
    docs = DocumentCollection(name, client, metric="cosine", exact_search_limit=0)
    try:
        docs.upsert(_records(vectors))
        survivors = {f"r{i}" for i in range(0, N, 20)}
        docs.delete([f"r{i}" for i in range(N) if f"r{i}" not in survivors])
        assert docs._core.view.switches == 1  # old versions outnumbered records: rebuilt
        fresh = DocumentCollection(name, client, metric="cosine", exact_search_limit=0)
        assert {r.id for r in fresh.scan()} == survivors
        found = set()
        for i in range(0, N, 20):
            hits = fresh.search(vectors[i], k=10)
            assert hits[0].record.id == f"r{i}"
            found |= {h.record.id for h in hits}
        assert found <= survivors
    finally:
        docs.drop()


def test_both_stores_on_the_graph(client: ScintireteClient, graph_server: LiteServer) -> None:
    from langchain_core.embeddings import Embeddings
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from scintirete_integrations.langchain import ScintireteVectorStore as LangChainStore
    from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaIndexStore

    vectors = clustered(1000, seed=3)

    class Lookup(Embeddings):
        """Texts "text <i>" embed to the i-th clustered vector."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [vectors[int(t.split()[1])].tolist() for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    name = f"lc-{uuid.uuid4().hex[:6]}"
    lc = LangChainStore(Lookup(), collection_name=name, client=client)
    try:
        ids = lc.add_texts([f"text {i}" for i in range(1000)], ids=[f"d{i}" for i in range(1000)])
        again = LangChainStore(Lookup(), collection_name=name, client=client)
        assert len(again.get_by_ids(ids)) == 1000
        lc.delete(ids[:500])
        again = LangChainStore(Lookup(), collection_name=name, client=client)
        assert sorted(d.id or "" for d in again.get_by_ids(ids)) == sorted(ids[500:])
    finally:
        lc.delete_collection()

    name = f"li-{uuid.uuid4().hex[:6]}"
    li = LlamaIndexStore(name, client=client)
    nodes = [
        TextNode(
            id_=f"n{i}",
            text=f"chunk {i}",
            embedding=vectors[i].tolist(),
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc{i // 10}")},
        )
        for i in range(200)
    ]
    try:
        li.add(nodes)
        for doc in range(19):
            li.delete(f"doc{doc}")
        again = LlamaIndexStore(name, client=client)
        result = again.query(VectorStoreQuery(query_embedding=vectors[0].tolist(), similarity_top_k=50))
        assert sorted(result.ids or []) == sorted(f"n{i}" for i in range(190, 200))
        assert len(again.get_nodes()) == 10
    finally:
        li.clear()


def test_pages_of_many_chunks_are_all_found_on_the_graph() -> None:
    """Every chunk of a large page sits at its own random key, so the graph reaches it.

    Chunks of a page placed close together (to read them with one search) formed far-off
    islands whose first chunks the server's graph never linked to: a fresh store then could not
    read those pages (seen on the unmodified server, and here). Pages of 250 records of 750
    characters take about 65 chunks each.
    """
    rng = np.random.default_rng(1)
    with (
        LiteServer(index="hnsw") as server,
        ScintireteClient(server.address, password=server.password) as client,
    ):
        docs = DocumentCollection("big", client, db="graph", metric="cosine")
        for b in range(4):
            vectors = rng.standard_normal((250, 384)).astype(np.float32)
            docs.upsert(
                Record(
                    f"r{b}-{i}",
                    f"text {b} {i} " + "word " * 150,
                    vectors[i],
                    {"i": i, "b": b, "f": i / 3, "ok": True},
                )
                for i in range(250)
            )
        fresh = DocumentCollection("big", client, db="graph", metric="cosine")
        assert fresh.count() == 1000 and not fresh._core.view.pending
