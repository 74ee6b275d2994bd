"""The Lite engine against the upstream behaviour in shared/scintirete-v1.md (no sockets, no disk)."""

from __future__ import annotations

import doctest
import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scintirete_integrations.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from scintirete_integrations.lite.engine import (
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_M,
    Engine,
    check_name,
    cosine_distance,
    inner_product_distance,
    l2_distance,
)
from scintirete_integrations.models import HnswConfig, Metric


@pytest.fixture
def engine() -> Engine:
    engine = Engine()
    engine.create_database("db")
    engine.create_collection("db", "c", Metric.L2)
    return engine


def brute_force(vectors: np.ndarray, query: np.ndarray, metric: Metric) -> np.ndarray:
    """Reference distances in float64, straight from the definitions."""
    x = vectors.astype(np.float64)
    q = query.astype(np.float64)
    if metric is Metric.L2:
        return np.sqrt(((x - q) ** 2).sum(axis=1))
    if metric is Metric.INNER_PRODUCT:
        return -(x @ q)
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(q)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norms > 0, (x @ q) / norms, 0.0)
    return 1.0 - cos


# -- distance functions ---------------------------------------------------------------------------


def test_l2_distance_matches_the_definition_and_is_zero_on_a_match() -> None:
    rows = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    assert l2_distance(rows, np.array([0.0, 0.0])).tolist() == [0.0, 5.0, math.sqrt(2)]
    rng = np.random.default_rng(1)
    row = rng.standard_normal((1, 384))
    assert l2_distance(row, row[0]).tolist() == [0.0]


def test_cosine_distance_is_one_minus_cosine_and_one_for_zero_vectors() -> None:
    rows = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, 0.0], [2.0, 2.0]])
    distances = cosine_distance(rows, np.array([1.0, 0.0]))
    assert distances[:4].tolist() == pytest.approx([0.0, 1.0, 2.0, 1.0])
    assert distances[4] == pytest.approx(1 - math.sqrt(0.5))
    assert cosine_distance(rows, np.zeros(2)).tolist() == [1.0] * 5
    rng = np.random.default_rng(2)
    row = rng.standard_normal((1, 384))
    assert cosine_distance(row, row[0]).tolist() == [0.0]  # exact, not 1e-16


def test_inner_product_distance_is_minus_the_dot_product() -> None:
    rows = np.array([[1.0, 2.0], [-1.0, 0.5]])
    assert inner_product_distance(rows, np.array([3.0, 1.0])).tolist() == [-5.0, 2.5]


def test_check_name_rejects_empty_names_with_upstream_messages() -> None:
    check_name("x", "database")
    with pytest.raises(InvalidArgumentError, match=r"^collection name cannot be empty$"):
        check_name("", "collection")


# -- databases and collections --------------------------------------------------------------------


def test_databases_lifecycle_and_errors() -> None:
    engine = Engine()
    assert engine.list_databases() == []
    engine.create_database("b")
    engine.create_database("a b " * 75)  # spaces and 300 characters are fine upstream
    assert engine.list_databases() == sorted(["b", "a b " * 75])
    with pytest.raises(AlreadyExistsError) as exists:
        engine.create_database("b")
    assert exists.value.details == "database 'b' already exists"
    with pytest.raises(InvalidArgumentError, match="database name cannot be empty"):
        engine.create_database("")
    engine.create_collection("b", "one", Metric.COSINE)
    engine.create_collection("b", "two", Metric.L2)
    assert engine.drop_database("b") == 2
    with pytest.raises(NotFoundError) as missing:
        engine.drop_database("b")
    assert missing.value.details == "database 'b' not found"


def test_collections_lifecycle_info_and_errors(engine: Engine) -> None:
    info = engine.collection_info("db", "c")
    assert (info.name, info.dimension, info.vector_count, info.deleted_count) == ("c", 0, 0, 0)
    assert info.metric is Metric.L2
    assert info.hnsw == HnswConfig(DEFAULT_M, DEFAULT_EF_CONSTRUCTION)
    with pytest.raises(AlreadyExistsError) as exists:
        engine.create_collection("db", "c", Metric.L2)
    assert exists.value.details == "collection 'c' already exists in database 'db'"
    with pytest.raises(NotFoundError, match=r"^database 'nope' not found$"):
        engine.create_collection("nope", "c", Metric.L2)
    with pytest.raises(InvalidArgumentError, match=r"^distance metric must be specified$"):
        engine.create_collection("db", "x", None)
    with pytest.raises(InvalidArgumentError, match="collection name cannot be empty"):
        engine.create_collection("db", "", Metric.L2)
    with pytest.raises(NotFoundError) as missing:
        engine.collection_info("db", "zz")
    assert missing.value.details == "collection 'zz' not found in database 'db'"
    engine.create_collection("db", "a", Metric.INNER_PRODUCT, HnswConfig(m=0, ef_construction=-3))
    assert [i.name for i in engine.list_collections("db")] == ["a", "c"]
    assert engine.collection_info("db", "a").hnsw == HnswConfig(16, 200)  # <= 0 means default
    custom = engine.create_collection("db", "m", Metric.COSINE, HnswConfig(m=4, ef_construction=40))
    assert custom.hnsw == HnswConfig(4, 40)
    engine.insert("db", "c", np.ones((3, 2), np.float32))
    engine.delete("db", "c", [1])
    assert engine.drop_collection("db", "c") == 2  # the live count
    with pytest.raises(NotFoundError):
        engine.drop_collection("db", "c")
    with pytest.raises(NotFoundError, match="database 'x' not found"):
        engine.list_collections("x")


# -- inserts, ids and deletes ---------------------------------------------------------------------


def test_ids_count_up_from_one_in_request_order_and_are_never_reused(engine: Engine) -> None:
    assert engine.insert("db", "c", np.zeros((40, 3), np.float32)) == list(range(1, 41))
    assert engine.delete("db", "c", list(range(1, 41))) == 40
    assert engine.insert("db", "c", [[1.0, 2.0, 3.0]]) == [41]
    engine.create_collection("db", "other", Metric.L2)
    assert engine.insert("db", "other", [[1.0]]) == [1]  # per collection


def test_dimension_is_fixed_by_the_first_insert(engine: Engine) -> None:
    with pytest.raises(InvalidArgumentError) as first:
        engine.insert("db", "c", [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0]])
    assert first.value.details == "vector[1] has dimension 3, expected 4 (from first vector)"
    assert engine.collection_info("db", "c").dimension == 0  # nothing was applied
    engine.insert("db", "c", [[0.0, 0.0, 0.0, 0.0]])  # all-zero is accepted
    assert engine.collection_info("db", "c").dimension == 4
    with pytest.raises(InvalidArgumentError) as later:
        engine.insert("db", "c", [[1.0, 2.0, 3.0]])
    assert later.value.details == "vector[0] has dimension 3, expected 4"


@pytest.mark.parametrize(
    ("vectors", "metadata", "message"),
    [
        ([], None, "no vectors provided"),
        ([[1.0], []], None, "vector elements cannot be empty"),
        (np.zeros((2, 0), np.float32), None, "vector elements cannot be empty"),
        ([[1.0]], [b"", b""], "got 2 metadata values for 1 vectors"),
        ([1.0, 2.0], None, "vectors must be a sequence of rows of numbers"),
        ([["a"]], None, "vectors must hold numbers only"),
    ],
)
def test_invalid_inserts(engine: Engine, vectors: object, metadata: list[bytes] | None, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        engine.insert("db", "c", vectors, metadata)  # type: ignore[arg-type]
    assert engine.collection_info("db", "c").vector_count == 0


def test_insert_into_unknown_targets_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match=r"^database 'x' not found$"):
        engine.insert("x", "c", [[1.0]])
    with pytest.raises(NotFoundError, match=r"^collection 'x' not found in database 'db'$"):
        engine.insert("db", "x", [[1.0]])
    with pytest.raises(InvalidArgumentError, match="database name cannot be empty"):
        engine.insert("", "c", [[1.0]])


def test_soft_delete_counts_only_live_ids(engine: Engine) -> None:
    engine.insert("db", "c", np.eye(6, dtype=np.float32))
    assert engine.delete("db", "c", [2]) == 1
    info = engine.collection_info("db", "c")
    assert (info.vector_count, info.deleted_count, info.total_inserted) == (5, 1, 6)
    assert engine.delete("db", "c", [2, 2, 3, 3, 99, 0, -5, 2**70]) == 1  # repeats, unknown, deleted skipped
    assert engine.collection_info("db", "c").deleted_count == 2
    with pytest.raises(InvalidArgumentError, match=r"^no IDs provided$"):
        engine.delete("db", "c", [])
    with pytest.raises(NotFoundError):
        engine.delete("db", "nope", [1])


def test_memory_bytes_grows_with_data_and_metadata(engine: Engine) -> None:
    before = engine.collection_info("db", "c").memory_bytes
    engine.insert("db", "c", np.ones((100, 8), np.float32), [b"x" * 10] * 100)
    assert engine.collection_info("db", "c").memory_bytes >= before + 100 * 8 * 4 + 1000


# -- search ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", list(Metric))
def test_search_is_exact_and_sorted(metric: Metric) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((2000, 32)).astype(np.float32)
    engine = Engine()
    engine.create_database("db")
    engine.create_collection("db", "c", metric)
    ids = engine.insert("db", "c", vectors, [str(i).encode() for i in range(2000)])
    query = rng.standard_normal(32).astype(np.float32)
    result = engine.search("db", "c", query, top_k=25)
    expected = np.argsort(brute_force(vectors, query, metric), kind="stable")[:25]
    assert result.ids == [ids[i] for i in expected]
    assert result.distances == pytest.approx(brute_force(vectors, query, metric)[expected].tolist(), rel=1e-9)
    assert result.metadata == [str(i).encode() for i in expected]
    assert result.vectors is None
    assert result.distances == sorted(result.distances)


@pytest.mark.parametrize("metric", [Metric.L2, Metric.COSINE])
def test_an_exact_match_has_distance_zero(metric: Metric) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((500, 384)).astype(np.float32)
    engine = Engine()
    engine.create_database("db")
    engine.create_collection("db", "c", metric)
    engine.insert("db", "c", vectors)
    result = engine.search("db", "c", vectors[123], top_k=1)
    assert result.ids == [124]
    assert result.distances == [0.0]


def test_how_many_results_follow_upstreams_ef_rules(engine: Engine) -> None:
    engine.insert("db", "c", np.random.default_rng(0).standard_normal((120, 4)).astype(np.float32))

    def count(top_k: int, ef: int | None = None) -> int:
        return len(engine.search("db", "c", [0.0, 0.0, 0.0, 1.0], top_k, ef_search=ef).ids)

    assert [count(51), count(100), count(200)] == [50, 50, 50]
    assert count(200, ef=100) == 100
    assert count(200, ef=120) == count(1000, ef=500) == 120
    assert count(200, ef=0) == count(200, ef=-1) == 50
    assert count(3, ef=1) == 1
    assert count(7) == 7


def test_wrong_dimension_query_gets_infinite_distances(engine: Engine) -> None:
    engine.insert("db", "c", np.eye(4, dtype=np.float32))
    engine.delete("db", "c", [1])
    result = engine.search("db", "c", [1.0, 0.0], top_k=10)
    assert result.ids == [2, 3, 4]
    assert result.distances == [math.inf] * 3


def test_search_validation_and_empty_collections(engine: Engine) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^query vector cannot be empty$"):
        engine.search("db", "c", [], top_k=1)
    with pytest.raises(InvalidArgumentError, match=r"^top_k must be positive$"):
        engine.search("db", "c", [1.0], top_k=0)
    with pytest.raises(InvalidArgumentError, match="one-dimensional"):
        engine.search("db", "c", [[1.0]], top_k=1)
    with pytest.raises(NotFoundError):
        engine.search("db", "nope", [1.0], top_k=1)
    assert engine.search("db", "c", [1.0], top_k=5).ids == []


def test_deleted_vectors_never_appear_and_ties_go_to_the_lower_id(engine: Engine) -> None:
    engine.insert("db", "c", np.ones((200, 3), np.float32))  # 200 identical vectors
    engine.delete("db", "c", list(range(1, 200, 2)))  # odd ids
    result = engine.search("db", "c", [1.0, 1.0, 1.0], top_k=30, ef_search=30)
    assert result.ids == list(range(2, 61, 2))
    assert result.distances == [0.0] * 30


def test_include_vectors_returns_the_stored_rows(engine: Engine) -> None:
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    engine.insert("db", "c", vectors)
    result = engine.search("db", "c", [9.0, 10.0, 11.0], top_k=2, include_vectors=True)
    assert result.ids == [4, 3]
    assert result.vectors is not None
    assert result.vectors.tolist() == [[9.0, 10.0, 11.0], [6.0, 7.0, 8.0]]


def test_cosine_zero_vectors_are_at_distance_one() -> None:
    engine = Engine()
    engine.create_database("db")
    engine.create_collection("db", "c", Metric.COSINE)
    engine.insert("db", "c", [[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    result = engine.search("db", "c", [2.0, 0.0], top_k=3)
    assert (result.ids, result.distances) == ([2, 1, 3], [0.0, 1.0, 2.0])
    assert engine.search("db", "c", [0.0, 0.0], top_k=3).distances == [1.0, 1.0, 1.0]


def test_heavy_deletes_compact_but_keep_ids_and_counters(engine: Engine) -> None:
    vectors = np.random.default_rng(5).standard_normal((5000, 8)).astype(np.float32)
    engine.insert("db", "c", vectors, [str(i + 1).encode() for i in range(5000)])
    engine.delete("db", "c", list(range(1, 4001)))
    info = engine.collection_info("db", "c")
    assert (info.vector_count, info.deleted_count) == (1000, 4000)
    result = engine.search("db", "c", vectors[4500], top_k=5)
    assert result.ids[0] == 4501
    assert result.metadata[0] == b"4501"
    assert min(result.ids) > 4000
    assert engine.delete("db", "c", [4501, 17]) == 1
    assert engine.insert("db", "c", vectors[:1]) == [5001]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3), min_size=1, max_size=40),
    st.lists(st.integers(-3, 3), min_size=3, max_size=3),
    st.sampled_from(list(Metric)),
    st.integers(1, 50),
    st.sets(st.integers(1, 40)),
)
def test_search_equals_brute_force_with_ties_by_id(
    rows: list[list[int]], query: list[int], metric: Metric, top_k: int, deleted: set[int]
) -> None:
    engine = Engine()
    engine.create_database("db")
    engine.create_collection("db", "c", metric)
    vectors = np.array(rows, np.float32)
    engine.insert("db", "c", vectors)
    if deleted:
        engine.delete("db", "c", sorted(deleted))
    result = engine.search("db", "c", query, top_k=top_k, ef_search=100)
    live = [i + 1 for i in range(len(rows)) if i + 1 not in deleted]
    reference = dict(
        zip(
            range(1, len(rows) + 1),
            brute_force(vectors, np.array(query, np.float32), metric).tolist(),
            strict=True,
        )
    )
    assert len(result.ids) == min(top_k, len(live))
    # Each distance is right, nothing closer was left out, and the order is (wire distance, id).
    assert result.distances == pytest.approx([reference[i] for i in result.ids], abs=1e-9)
    if result.ids:
        left_out = [reference[i] for i in live if i not in result.ids]
        assert all(result.distances[-1] <= d + 1e-9 for d in left_out)
    keys = [(np.float32(d), i) for d, i in zip(result.distances, result.ids, strict=True)]
    assert keys == sorted(keys)


def test_concurrent_inserts_and_searches_stay_consistent(engine: Engine) -> None:
    rng = np.random.default_rng(9)
    batches = [rng.standard_normal((50, 16)).astype(np.float32) for _ in range(40)]
    errors: list[BaseException] = []
    inserted: list[int] = []

    def writer(chunk: list[np.ndarray]) -> None:
        try:
            for batch in chunk:
                inserted.extend(engine.insert("db", "c", batch))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(50):
                result = engine.search("db", "c", batches[0][0], top_k=5)
                assert result.distances == sorted(result.distances)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    engine.insert("db", "c", batches[0][:1])
    threads = [threading.Thread(target=writer, args=(batches[i::4],)) for i in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(inserted) == list(range(2, 2002))
    assert engine.collection_info("db", "c").vector_count == 2001


# -- snapshots without storage --------------------------------------------------------------------


def test_save_and_bg_save_in_memory_persist_nothing() -> None:
    engine = Engine()
    assert not engine.persistent
    info = engine.save()
    assert (info.persisted, info.size_bytes) == (False, 0)
    took = info.duration_seconds
    assert took >= 0.0  # a real, non-negative figure (no timing is judged)
    assert [engine.bg_save(), engine.bg_save()] == ["bgsave_1", "bgsave_2"]
    engine.close()


def test_the_module_docstring_example_runs() -> None:
    from scintirete_integrations.lite import engine as engine_module

    results = doctest.testmod(engine_module)
    assert results.attempted > 0 and results.failed == 0


@pytest.mark.parametrize("metric", list(Metric))
def test_a_large_scan_split_over_two_threads_is_exact(metric: Metric) -> None:
    from scintirete_integrations.lite.index.exact import _SPLIT_ROWS

    engine = Engine()
    engine.create_database("d")
    engine.create_collection("d", "c", metric)
    rng = np.random.default_rng(11)
    rows = rng.standard_normal((_SPLIT_ROWS + 1001, 8)).astype(np.float32)
    ids = engine.insert("d", "c", rows)
    engine.delete("d", "c", ids[::7])
    live = np.ones(len(rows), dtype=bool)
    live[::7] = False
    query = rng.standard_normal(8).astype(np.float32)
    result = engine.search("d", "c", query, 10)
    distance = {
        Metric.L2: l2_distance,
        Metric.COSINE: cosine_distance,
        Metric.INNER_PRODUCT: inner_product_distance,
    }[metric]
    exact = distance(rows.astype(np.float64), query.astype(np.float64))
    exact[~live] = np.inf
    expected = np.lexsort((np.arange(len(rows)), exact.astype(np.float32)))[:10]
    assert [int(i) for i in result.ids] == [int(ids[i]) for i in expected]


def test_wide_l2_collections_keep_their_leading_columns_in_step_with_their_rows() -> None:
    # The copy that spares scans of wide rows a strided read must match the rows through
    # growth, deletes and compaction, and scans must answer the same with it as without.
    from dataclasses import replace

    from scintirete_integrations.lite.collection import _Collection
    from scintirete_integrations.lite.index.exact import PREFIX_COLUMNS, nearest, uses_prefix

    assert uses_prefix(Metric.L2, 4 * PREFIX_COLUMNS + 1) and not uses_prefix(Metric.COSINE, 2064)
    assert not uses_prefix(Metric.L2, 4 * PREFIX_COLUMNS)
    rng = np.random.default_rng(3)
    wide = _Collection("w", Metric.L2, HnswConfig())
    next_id = 1
    for batch in (1, 63, 200, 900):  # past several doublings of the arrays
        rows = rng.standard_normal((batch, 100)).astype(np.float32)
        rows[:, :8] *= 1e3  # keyed rows: the leading columns tell them apart
        wide.append(list(range(next_id, next_id + batch)), rows, [b""] * batch)
        next_id += batch
    wide.delete_rows(np.arange(0, 1100))  # most rows: compacts
    view = wide.view()
    assert view.prefix is not None and np.array_equal(view.prefix, view.vectors[:, :PREFIX_COLUMNS])
    for query in rng.standard_normal((20, 100)).astype(np.float32) * 1e3:
        with_copy = nearest(view, query, 5)
        without = nearest(replace(view, prefix=None), query, 5)
        assert np.array_equal(with_copy[0], without[0]) and np.allclose(with_copy[1], without[1])
    assert _Collection("c", Metric.COSINE, HnswConfig()).prefix is None
