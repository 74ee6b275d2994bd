"""The graph index: the algorithm as the facts page describes it, and its repeatability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scintirete_integrations.lite.engine import Engine
from scintirete_integrations.lite.index.hnsw import HnswGraph
from scintirete_integrations.models import HnswConfig, Metric


class _LevelZero:
    """A generator stand-in whose every draw puts the node on level 0 only (U = 1)."""

    def random(self) -> float:
        return 0.0


def _engine(metric: Metric = Metric.L2, hnsw: HnswConfig | None = None, seed: int = 0) -> Engine:
    engine = Engine(index="hnsw", index_seed=seed)
    engine.create_database("d")
    engine.create_collection("d", "c", metric, hnsw)
    return engine


def _graph(engine: Engine, collection: str = "c") -> HnswGraph:
    graph = engine._collection("d", collection).graph
    assert graph is not None
    return graph


def _shape(graph: HnswGraph) -> tuple[Any, ...]:
    links = [[layer.tolist() for layer in node] for node in graph.links]
    return graph.levels, links, graph.entry, graph.top


def _counts(engine: Engine) -> tuple[int, int, int]:
    info = engine.collection_info("d", "c")
    return info.vector_count, info.deleted_count, info.dimension


def _line_graph(
    points: list[float], m: int = 1
) -> tuple[HnswGraph, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    vectors = np.array([[p] for p in points], np.float32)
    aux = np.einsum("ij,ij->i", vectors, vectors)  # L2 keys need |x|^2
    graph = HnswGraph(Metric.L2, m, 10, _LevelZero())  # type: ignore[arg-type]
    for _ in points:
        graph.add(vectors, aux)
    return graph, vectors, aux


def test_levels_follow_ml_one_over_ln_2() -> None:
    graph = HnswGraph(Metric.L2, 16, 200, np.random.default_rng(1))
    levels = np.array([graph.draw_level() for _ in range(40_000)])
    # P(level >= l) = 2^-l: half reach level 1, a quarter level 2, an eighth level 3.
    for level, expected in ((1, 0.5), (2, 0.25), (3, 0.125)):
        assert abs(np.mean(levels >= level) - expected) < 0.01
    assert levels.min() == 0


@pytest.mark.parametrize("metric", list(Metric))
def test_links_stay_within_m_and_2m_and_point_at_nodes_of_that_level(metric: Metric) -> None:
    engine = _engine(metric, HnswConfig(m=4, ef_construction=40))
    rows = np.random.default_rng(2).standard_normal((600, 12)).astype(np.float32)
    engine.insert("d", "c", rows)
    graph = _graph(engine)
    assert len(graph) == 600 and graph.top == max(graph.levels)
    assert graph.levels[graph.entry] == graph.top
    for row, node in enumerate(graph.links):
        assert len(node) == graph.levels[row] + 1
        for level, links in enumerate(node):
            assert len(links) <= (8 if level == 0 else 4)
            assert row not in links.tolist() and len(set(links.tolist())) == len(links)
            assert all(graph.levels[other] >= level for other in links.tolist())
    # Nodes fill up: the level-0 lists of a 600-node graph are mostly at their 2M limit.
    assert np.mean([len(node[0]) == 8 for node in graph.links]) > 0.5


def test_neighbours_link_back_and_keep_only_their_closest_links() -> None:
    # On a line, every node on level 0, m = 1 (2 links on level 0), inserted at 0, 10, 1, 2.
    graph, _, _ = _line_graph([0.0, 10.0, 1.0, 2.0])
    links = [node[0].tolist() for node in graph.links]
    # Node 3 (at 2) links to its two nearest, 2 (at 1) and 0 (at 0). Both link back and go over
    # their limit: node 2 keeps 0 and 3 (both at distance 1, list order breaks the tie), node 0
    # keeps 2 and 3; each drops node 1 (at 10), the farthest.
    assert links == [[2, 3], [0, 2], [0, 3], [2, 0]]
    # No link points at node 1 any more: it is in the graph but no search can reach it.
    assert all(1 not in node for node in links)
    query = np.array([10.0], np.float32)
    vectors = np.array([[0.0], [10.0], [1.0], [2.0]], np.float32)
    aux = np.einsum("ij,ij->i", vectors, vectors)
    assert sorted(graph.search(vectors, aux, None, query, 10).tolist()) == [0, 2, 3]


def test_a_search_neither_returns_nor_steps_on_deleted_nodes() -> None:
    graph, vectors, aux = _line_graph([0.0, 10.0, 1.0, 2.0, 3.0])
    query = np.array([3.0], np.float32)
    everything = graph.search(vectors, aux, None, query, 10).tolist()
    assert sorted(everything) == [0, 2, 3, 4]
    links = [node[0].tolist() for node in graph.links]
    live = np.ones(5, np.bool_)
    # Delete every node the entry point (0) links to: the search starts on 0 and stops there.
    live[links[0]] = False
    assert graph.search(vectors, aux, live, query, 10).tolist() == [0]
    # The entry point itself deleted: the search still starts from it, never returns it.
    live = np.ones(5, np.bool_)
    live[0] = False
    found = graph.search(vectors, aux, live, query, 10).tolist()
    assert 0 not in found and found and set(found) <= {2, 3, 4}


def test_results_are_at_most_top_k_ef_and_live_and_never_deleted() -> None:
    engine = _engine(Metric.COSINE, HnswConfig(m=6))
    rng = np.random.default_rng(3)
    ids = engine.insert("d", "c", rng.standard_normal((300, 16)).astype(np.float32))
    deleted = set(ids[::3])
    engine.delete("d", "c", sorted(deleted))
    live = 300 - len(deleted)
    for top_k, ef in ((5, None), (80, None), (80, 30), (500, 500), (10, 1)):
        for _ in range(5):
            hits = engine.search("d", "c", rng.standard_normal(16), top_k, ef_search=ef)
            assert len(hits.ids) <= min(top_k, ef or 50, live)
            assert not deleted & set(hits.ids)
            assert hits.distances == sorted(hits.distances)
    assert len(engine.search("d", "c", rng.standard_normal(16), 10).ids) == 10


def test_a_graph_finds_close_to_the_exact_neighbours_of_spread_data() -> None:
    rng = np.random.default_rng(4)
    rows = rng.standard_normal((1000, 16)).astype(np.float32)
    graph_engine, exact_engine = _engine(Metric.L2), Engine()
    exact_engine.create_database("d")
    exact_engine.create_collection("d", "c", Metric.L2)
    for engine in (graph_engine, exact_engine):
        engine.insert("d", "c", rows)
    queries = rng.standard_normal((40, 16))
    found = sum(
        len(set(graph_engine.search("d", "c", q, 10).ids) & set(exact_engine.search("d", "c", q, 10).ids))
        for q in queries
    )
    assert found / 400 > 0.9


def test_the_same_seed_builds_the_same_graph_and_another_seed_does_not() -> None:
    rows = np.random.default_rng(5).standard_normal((400, 8)).astype(np.float32)
    shapes = []
    for seed, batch in ((7, 400), (7, 150), (8, 400)):  # batch boundaries do not matter
        engine = _engine(seed=seed)
        for start in range(0, 400, batch):
            engine.insert("d", "c", rows[start : start + batch])
        shapes.append(_shape(_graph(engine)))
    assert shapes[0] == shapes[1]
    assert shapes[0][0] != shapes[2][0]


def test_each_collection_draws_its_own_levels() -> None:
    engine = _engine()
    engine.create_collection("d", "other", Metric.L2)
    rows = np.random.default_rng(6).standard_normal((200, 8)).astype(np.float32)
    engine.insert("d", "c", rows)
    engine.insert("d", "other", rows)
    assert _graph(engine).levels != _graph(engine, "other").levels


def test_hnsw_values_at_or_below_zero_mean_the_defaults() -> None:
    engine = _engine(hnsw=HnswConfig(m=0, ef_construction=-3))
    graph = _graph(engine)
    assert (graph.m, graph.ef_construction) == (16, 200)


@pytest.mark.parametrize("snapshot", [True, False], ids=["snapshot+log", "log only"])
def test_a_restart_rebuilds_the_same_graph(tmp_path: Path, snapshot: bool) -> None:
    rng = np.random.default_rng(9)
    engine = Engine.open(tmp_path, fsync="never", index="hnsw", index_seed=3)
    engine.create_database("d")
    engine.create_collection("d", "c", Metric.COSINE, HnswConfig(m=5, ef_construction=30))
    ids = engine.insert("d", "c", rng.standard_normal((250, 16)).astype(np.float32))
    engine.delete("d", "c", ids[::2])
    if snapshot:
        engine.save()  # keeps the deleted rows, so the replay walks the same inserts
    engine.insert("d", "c", rng.standard_normal((50, 16)).astype(np.float32))
    engine.delete("d", "c", ids[1:40:2])
    queries = rng.standard_normal((10, 16))
    before = _shape(_graph(engine))
    results = [engine.search("d", "c", q, 100, ef_search=100).ids for q in queries]
    info = engine.collection_info("d", "c")
    engine.close()
    counts = (info.vector_count, info.deleted_count, info.dimension)

    restarted = Engine.open(tmp_path, fsync="never", index="hnsw", index_seed=3)
    assert _shape(_graph(restarted)) == before
    assert [restarted.search("d", "c", q, 100, ef_search=100).ids for q in queries] == results
    assert _counts(restarted) == counts
    restarted.save()  # a snapshot of a snapshot-replayed graph holds the same history
    restarted.close()
    again = Engine.open(tmp_path, fsync="never", index="hnsw", index_seed=3)
    assert _shape(_graph(again)) == before
    assert _counts(again) == counts
    again.close()


def test_a_graph_data_dir_opens_in_exact_mode_with_the_same_live_data(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path, fsync="never", index="hnsw")
    engine.create_database("d")
    engine.create_collection("d", "c", Metric.L2)
    ids = engine.insert("d", "c", np.random.default_rng(10).standard_normal((60, 4)).astype(np.float32))
    engine.delete("d", "c", ids[:30])
    engine.save()
    info = engine.collection_info("d", "c")
    engine.close()
    exact = Engine.open(tmp_path, fsync="never")
    assert exact.collection_info("d", "c").vector_count == info.vector_count
    assert sorted(exact.search("d", "c", [0.0] * 4, 100, ef_search=100).ids) == ids[30:]
    exact.close()


def test_unknown_index_kinds_and_negative_seeds_are_refused() -> None:
    with pytest.raises(ValueError, match="exact, hnsw"):
        Engine(index="flat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        Engine(index="hnsw", index_seed=-1)
