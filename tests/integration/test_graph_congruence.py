"""Lite's graph index held to the reachability and recall the real server shows (facts page).

Each test builds a fixed corpus, measures what searches return, and checks it against the
figure measured on an unmodified server (quoted next to each bound) within a stated
tolerance. It runs on a Lite server with ``index="hnsw"``; with ``SCINTIRETE_ADDRESS`` and
``SCINTIRETE_PASSWORD`` set, on that server too, so the same bounds hold both.

Corpora:
- clustered: 2,000 unit vectors in 384-d around 10 random unit centres, gaussian noise of
  norm about 1.5 (0.077 per dimension) before normalising: tight like sentence embeddings
  of a few topics, where the graph's level 0 breaks into one island per cluster;
- the bundled demo embeddings (160 all-MiniLM-L6-v2 vectors of real text, 12 questions);
- uniform: 5,000 uniformly random 8-d vectors, L2.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import grpc
import numpy as np
import pytest

from scintirete_integrations import ScintireteClient
from scintirete_integrations.lite import LiteServer
from scintirete_integrations.models import Metric

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb, scintirete_pb2_grpc as pb_grpc  # isort: skip

TARGETS = ["lite-hnsw"] + (["server"] if os.environ.get("SCINTIRETE_ADDRESS") else [])
DATA = os.path.join(
    os.path.dirname(__file__), "..", "..", "scintirete_integrations", "data", "embeddings.npz"
)


class Target(NamedTuple):
    client: ScintireteClient
    password: str
    db: str


@pytest.fixture(scope="module")
def graph_server() -> Iterator[LiteServer]:
    with LiteServer(index="hnsw", index_seed=0) as server:
        yield server


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, graph_server: LiteServer) -> Iterator[Target]:
    if request.param == "server":
        address, password = os.environ["SCINTIRETE_ADDRESS"], os.environ.get("SCINTIRETE_PASSWORD", "")
    else:
        address, password = graph_server.address, graph_server.password
    # Fixed names: Lite seeds each graph from them, so every run measures the same graphs.
    db = f"graph-{request.node.originalname}"
    with ScintireteClient(address, password=password, timeout=300.0) as client:
        client.create_database(db)
        try:
            yield Target(client, password, db)
        finally:
            client.drop_database(db)


def _clustered(n: int = 2000, clusters: int = 10, noise: float = 1.5, seed: int = 0) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, 384))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows = centres[rng.integers(0, clusters, n)] + rng.normal(scale=noise / np.sqrt(384), size=(n, 384))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _exact_top(rows: np.ndarray[Any, Any], query: np.ndarray[Any, Any], k: int, cosine: bool) -> set[int]:
    """Row numbers (0-based) of the k nearest rows, computed here with numpy."""
    distances = (
        -(rows @ query) / np.linalg.norm(rows, axis=1) if cosine else np.linalg.norm(rows - query, axis=1)
    )
    return set(np.argsort(distances, kind="stable")[:k].tolist())


class _Measure:
    """One collection on the target, and the searches the measurements need."""

    def __init__(self, target: Target, rows: np.ndarray[Any, Any], metric: Metric, **hnsw: int) -> None:
        self.client, self.db = target.client, target.db
        self.name = f"c{len(self.client.list_collections(self.db))}"
        self.client.create_collection(self.db, self.name, metric, **hnsw)
        self.ids = self.client.insert_vectors(self.db, self.name, rows)
        self.rows, self.cosine = rows, metric is Metric.COSINE

    def ids_of(self, query: np.ndarray[Any, Any], top_k: int, ef: int | None = None) -> list[int]:
        return [hit.id for hit in self.client.search(self.db, self.name, query, top_k, ef_search=ef)]

    def full(self, query: np.ndarray[Any, Any]) -> set[int]:
        everything = len(self.ids) + 10
        return set(self.ids_of(query, everything, everything))

    def recall(self, queries: np.ndarray[Any, Any], ef: int | None) -> float:
        found = 0
        for query in queries:
            truth = {self.ids[row] for row in _exact_top(self.rows, query, 10, self.cosine)}
            found += len(truth & set(self.ids_of(query, 10, ef)))
        return found / (10 * len(queries))


# -- reachability: what one full-collection search returns -----------------------------------------


def test_one_search_returns_a_small_part_of_a_tight_clustered_corpus(target: Target) -> None:
    rows = _clustered()
    measure = _Measure(target, rows, Metric.COSINE)
    rng = np.random.default_rng(1)
    one = len(measure.full(rng.standard_normal(384)))
    union: set[int] = set()
    for _ in range(33):
        union |= measure.full(rng.standard_normal(384))
    print(f"clustered 2,000: one search {one}, union of 33 {len(union)}")
    # Facts: 228 of 2,000 in one search (11%); tolerance 5% to 25%.
    assert 100 <= one <= 500
    # Facts: the union of 33 searches from random directions, 1,771 (89%); tolerance: over a
    # third, and still short of everything.
    assert 700 <= len(union) < 2000
    # Facts: recall@10 0.953 with the default beam at 2,000; tolerance 0.85 to 1.
    queries = rows[rng.choice(len(rows), 60, replace=False)] + rng.normal(scale=0.01, size=(60, 384))
    recalls = {ef: measure.recall(queries.astype(np.float32), ef) for ef in (None, 200)}
    print(f"clustered 2,000: recall@10 ef 50 {recalls[None]:.3f}, ef 200 {recalls[200]:.3f}")
    assert recalls[None] >= 0.85 and recalls[200] >= 0.85


def test_real_sentence_embeddings_are_all_reachable_with_high_recall(target: Target) -> None:
    data = np.load(DATA)
    corpus, questions = data["corpus"].astype(np.float32), data["questions"].astype(np.float32)
    measure = _Measure(target, corpus, Metric.COSINE)
    reached = len(measure.full(questions[0]))
    recalls = {ef: measure.recall(np.concatenate([questions, corpus[::4]]), ef) for ef in (None, 200)}
    print(f"demo embeddings {len(corpus)}: one search {reached}, recall@10 {recalls}")
    # Facts: real MiniLM embeddings, 2,000 of 2,000 at 2,000; recall@10 0.979 at ef 50 and
    # 0.997 at ef 200 (at 19,800). Tolerance: everything reachable, recall >= 0.95.
    assert reached == len(corpus)
    assert recalls[None] >= 0.95 and recalls[200] >= 0.95


def test_one_search_returns_nearly_all_uniform_low_dimensional_vectors(target: Target) -> None:
    rows = np.random.default_rng(2).random((5000, 8)).astype(np.float32)
    measure = _Measure(target, rows, Metric.L2)
    reached = len(measure.full(np.full(8, 0.5, np.float32)))
    print(f"uniform 8-d 5,000: one search {reached}")
    # Facts: 4,993 of 5,000; tolerance: at least 99%.
    assert reached >= 4950


# -- heavy deletion and duplicates -----------------------------------------------------------------


def _reachable_after_deleting(target: Target, n: int, deleted: list[int], **hnsw: int) -> tuple[int, int]:
    rng = np.random.default_rng(3)
    measure = _Measure(target, rng.standard_normal((n, 8)).astype(np.float32), Metric.L2, **hnsw)
    measure.client.delete_vectors(measure.db, measure.name, [measure.ids[row] for row in deleted])
    union: set[int] = set()
    for _ in range(10):
        union |= set(measure.ids_of(rng.standard_normal(8), 1000, 1000))
    assert not union & {measure.ids[row] for row in deleted}
    return len(union), n - len(deleted)


def test_heavy_deletion_leaves_live_vectors_unreachable(target: Target) -> None:
    order = np.random.default_rng(4).permutation(200).tolist()
    # Facts: m=4, 200 inserted, 150 deleted: 2 of the 50 live came back. Lite's graph loses
    # fewer on this corpus (10 to 46 over seeds and deletion orders); tolerance: at least a
    # fifth of the survivors unreachable from 10 directions.
    reached, live = _reachable_after_deleting(target, 200, order[:150], m=4)
    print(f"m=4, 150 of 200 deleted: {reached} of {live} reachable")
    assert 1 <= reached <= 40
    # Facts: default config, 190 of 200 deleted: 1 to 7 of the 10 survivors. Tolerance: 1 to 9.
    reached, live = _reachable_after_deleting(target, 200, order[:190])
    print(f"default, 190 of 200 deleted: {reached} of {live} reachable")
    assert 1 <= reached <= 9
    # Facts: m=16, every other one of 40 deleted: all 20 came back.
    reached, live = _reachable_after_deleting(target, 40, list(range(0, 40, 2)), m=16)
    assert reached == live == 20


def test_many_copies_of_one_vector_hide_most_of_them(target: Target) -> None:
    vector = np.random.default_rng(5).standard_normal(384).astype(np.float32)
    measure = _Measure(target, np.tile(vector, (200, 1)), Metric.COSINE)
    rng = np.random.default_rng(6)
    counts = [len(measure.ids_of(rng.standard_normal(384), 500, 500)) for _ in range(5)]
    print(f"200 copies: searches returned {counts}")
    # Facts: 33 to 51 of 200 to any search; tolerance 25 to 60.
    assert all(25 <= count <= 60 for count in counts)


# -- how many results ------------------------------------------------------------------------------


def test_the_result_count_is_min_of_top_k_ef_and_reachable(target: Target) -> None:
    rng = np.random.default_rng(7)
    measure = _Measure(target, rng.standard_normal((120, 16)).astype(np.float32), Metric.L2)
    query = rng.standard_normal(16).tolist()
    address, password = target.client.address, target.password

    def count(top_k: int, ef: int | None = None) -> int:
        # Raw requests: the client adds an ef_search of its own when none is given.
        request = pb.SearchRequest(
            auth=pb.AuthInfo(password=password),
            db_name=measure.db,
            collection_name=measure.name,
            query_vector=query,
            top_k=top_k,
            ef_search=ef,
        )
        with grpc.insecure_channel(address) as channel:
            return len(pb_grpc.ScintireteServiceStub(channel).Search(request).results)

    # Facts, exactly: no ef_search: 50 for top_k 51, 100 or 200; ef 100: 100; ef >= 120: 120.
    assert [count(top_k) for top_k in (51, 100, 200)] == [50, 50, 50]
    assert count(200, 100) == 100
    assert [count(200, ef) for ef in (120, 500)] == [120, 120]
