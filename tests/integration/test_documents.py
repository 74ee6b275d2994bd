"""The document layer over a Lite server: ids, upserts, deletes, exact metadata, complete search."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scintirete_integrations import InvalidArgumentError, ScintireteError
from scintirete_integrations.client import ScintireteClient
from scintirete_integrations.documents import (
    AsyncDocumentCollection,
    DocumentCollection,
    Record,
    maintenance,
    maximal_marginal_relevance,
    relevance_score,
    resolve_clients,
)
from scintirete_integrations.filters import compile as compile_filter
from scintirete_integrations.lite import LiteServer

DB = "documents"


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password) as c:
        yield c


@pytest.fixture(params=[20_000, 0], ids=["client-exact", "index-search"])
def docs(client: ScintireteClient, request: pytest.FixtureRequest) -> Iterator[DocumentCollection]:
    """A fresh collection, searched exactly on the client (small) or through the server's index."""
    collection = DocumentCollection(
        f"c-{uuid.uuid4().hex[:8]}", client, db=DB, metric="l2", exact_search_limit=request.param
    )
    yield collection
    collection.drop()


def _records(n: int, dim: int = 8, seed: int = 0, prefix: str = "r") -> list[Record]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return [
        Record(
            f"{prefix}{i}",
            f"text {i}",
            vectors[i],
            {"i": i, "group": f"g{i % 10}", "score": i / 7},
            group=f"doc{i % 3}",
        )
        for i in range(n)
    ]


def _drive_until(client: ScintireteClient, plan: Any, stop: Any) -> None:
    """Run a plan like the client does, but abandon it (a crash) at the first call matching ``stop``."""
    call = next(plan)
    while isinstance(call, list) or not stop(call):
        if isinstance(call, list):
            call = plan.send(client._call_concurrently(call))
            continue
        try:
            response = client._call(call)
        except ScintireteError as exc:
            call = plan.throw(exc)
        else:
            call = plan.send(response)
    plan.close()


def _server_counts(client: ScintireteClient, docs: DocumentCollection) -> tuple[int, int]:
    info = client.get_collection_info(docs.db, docs.name)
    return info.vector_count, info.deleted_count


def test_upsert_get_scan_count(docs: DocumentCollection) -> None:
    records = _records(20)
    assert docs.upsert(records) == [r.id for r in records]
    assert docs.count() == 20
    got = docs.get(["r3", "missing", "r1"])
    assert [r.id for r in got] == ["r3", "r1"]
    assert got[0].text == "text 3" and got[0].group == "doc0"
    assert got[0].metadata == {"i": 3, "group": "g3", "score": 3 / 7}
    assert type(got[0].metadata["i"]) is int
    assert [r.id for r in docs.scan({"group": "g3"})] == ["r3", "r13"]
    assert len(docs.scan(group="doc1")) == 7
    assert len(docs.scan(limit=5)) == 5


def test_upsert_replaces_and_unchanged_writes_nothing(
    client: ScintireteClient, docs: DocumentCollection
) -> None:
    records = _records(5)
    docs.upsert(records)
    before = _server_counts(client, docs)
    docs.upsert(records)  # identical: nothing written
    assert _server_counts(client, docs) == before
    changed = Record("r2", "new text", records[2].vector, {"i": 99})
    docs.upsert([changed])
    assert _server_counts(client, docs) == (before[0] + 1, 0)  # one new version, no server delete
    (got,) = docs.get(["r2"])
    assert (got.text, got.metadata) == ("new text", {"i": 99})
    assert docs.count() == 5
    hits = docs.search(records[2].vector, k=5)
    assert [h.record.id for h in hits].count("r2") == 1
    assert next(h for h in hits if h.record.id == "r2").record.text == "new text"


def test_delete_hides_without_server_deletes(client: ScintireteClient, docs: DocumentCollection) -> None:
    docs.upsert(_records(10))
    assert docs.delete(["r1", "r2", "nope", "r1"]) == 2
    assert docs.delete(["r1"]) == 0
    assert docs.count() == 8
    assert docs.get(["r1", "r2"]) == []
    assert _server_counts(client, docs)[1] == 0  # the layer never soft-deletes on the server
    assert docs.delete_where({"i": {"$gte": 8}}) == 2
    assert docs.delete_group("doc0") == 3  # r0, r3, r6 (r9 is gone already)
    assert {r.id for r in docs.scan()} == {"r4", "r5", "r7"}
    assert _server_counts(client, docs)[1] == 0


def test_bookkeeping_vectors_are_distinct(client: ScintireteClient, docs: DocumentCollection) -> None:
    records = _records(30)
    docs.upsert(records[:10])
    docs.upsert(records[10:])
    docs.delete([r.id for r in records[:20]])
    for collection in (docs.name + ".__sci_journal", docs.name + ".__sci_book"):
        info = client.get_collection_info(docs.db, collection)
        everything = client.search(
            docs.db, collection, np.ones(info.dimension), top_k=info.vector_count + 5, include_vector=True
        )
        pages = 3  # three small pages: one journal vector, and one chunk plus its parity, each
        assert (
            len(everything) == info.vector_count == (pages if collection.endswith("journal") else 2 * pages)
        )
        vectors = {tuple(np.round(np.asarray(h.vector), 6)) for h in everything}
        assert len(vectors) == len(everything)  # identical vectors would hide each other in a graph


def test_search_is_never_short_because_of_hidden_versions(docs: DocumentCollection) -> None:
    records = _records(40, seed=1)
    docs.upsert(records)
    for round_ in range(3):  # many superseded versions near every query
        docs.upsert([Record(r.id, f"v{round_}", r.vector, {"round": round_}) for r in records])
    results = docs.search(records[0].vector, k=40)
    assert len(results) == 40
    assert {h.record.id for h in results} == {r.id for r in records}
    assert all(h.record.metadata == {"round": 2} for h in results)


def test_heavy_deletion_compacts_and_keeps_every_survivor(client: ScintireteClient) -> None:
    docs = DocumentCollection(
        f"c-{uuid.uuid4().hex[:8]}", client, db=DB, metric="cosine", compact_min_hidden=50
    )
    try:
        records = _records(200, seed=2)
        docs.upsert(records)
        survivors = {r.id for r in records[::20]}
        docs.delete([r.id for r in records if r.id not in survivors])
        generations = [
            c
            for c in client.list_collections(DB)
            if c.name == docs.name or c.name.startswith(docs.name + ".__sci_g")
        ]
        assert len(generations) == 1 and generations[0].name != docs.name  # rebuilt, the old one dropped
        assert (generations[0].vector_count, generations[0].deleted_count) == (len(survivors), 0)
        assert {r.id for r in docs.scan()} == survivors
        for record in records[::20]:
            assert docs.search(record.vector, k=1)[0].record.id == record.id
        assert len(docs.search(records[0].vector, k=50)) == len(survivors)
        fresh = DocumentCollection(docs.name, client, db=DB, metric="cosine")
        assert {r.id for r in fresh.scan()} == survivors
        assert {h.record.id for h in fresh.search(records[0].vector, k=50)} == survivors
    finally:
        docs.drop()


def test_compaction_interrupted_after_the_switch_loses_nothing(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"c-{uuid.uuid4().hex[:8]}"
    docs = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
    try:
        records = _records(30, seed=3)
        docs.upsert(records)
        docs.delete([r.id for r in records[:25]])
        plan = maintenance.compact_plan(docs._core, client, None)
        # The process "crashes" right after the switch page, before dropping the old generation.
        _drive_until(client, plan, lambda call: call.rpc == "ListCollections")
        reader = DocumentCollection(name, client, db=DB, metric="l2")
        assert {r.id for r in reader.scan()} == {r.id for r in records[25:]}
        assert {h.record.id for h in reader.search(records[27].vector, k=10)} == {r.id for r in records[25:]}
        assert reader._core.view.gen != name  # searches go to the rebuilt generation
        assert reader.compact() is False  # the dead compaction's lock is still young
        monkeypatch.setattr(maintenance, "LOCK_TTL", 0.0)
        assert reader.compact() is True  # an expired lock is broken; the leftover generation is dropped
        names = {c.name for c in client.list_collections(DB) if c.name.startswith(name)}
        assert names == {
            reader._core.view.gen,
            name + ".__sci_journal",
            name + ".__sci_book.2",  # each checkpoint moved to a new book and dropped the older
            name + ".__sci_index",
        }
    finally:
        docs.drop()


def test_compaction_interrupted_before_the_switch_leaves_the_collection(client: ScintireteClient) -> None:
    name = f"c-{uuid.uuid4().hex[:8]}"
    docs = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
    try:
        records = _records(12, seed=4)
        docs.upsert(records)
        docs.delete(["r0", "r1"])
        plan = maintenance.compact_plan(docs._core, client, None)
        _drive_until(
            client,
            plan,
            lambda call: call.rpc == "InsertVectors" and "__sci_g" in call.request.collection_name,
        )
        fresh = DocumentCollection(name, client, db=DB, metric="l2")
        assert fresh.count() == 10
        assert fresh._core.view.gen == name
        assert len(fresh.search(records[5].vector, k=20)) == 10
    finally:
        docs.drop()


def test_crash_between_write_and_cleanup_shows_only_the_newest(
    client: ScintireteClient, docs: DocumentCollection
) -> None:
    records = _records(3)
    docs.upsert(records)
    # Another process wrote a newer version of r1 (with the layer's format) and died before anything else.
    other = DocumentCollection(docs.name, client, db=DB, metric="l2")
    other.upsert([Record("r1", "newest", records[1].vector, {"v": 2})])
    assert [r.text for r in docs.get(["r1"])] == ["newest"]
    assert [h.record.text for h in docs.search(records[1].vector, k=3) if h.record.id == "r1"] == ["newest"]


def test_two_independent_clients_share_ids_upserts_and_deletes(address: str, password: str) -> None:
    name = f"c-{uuid.uuid4().hex[:8]}"
    with (
        ScintireteClient(address, password=password) as a_client,
        ScintireteClient(address, password=password) as b_client,
    ):
        a = DocumentCollection(name, a_client, db=DB, metric="l2")
        b = DocumentCollection(name, b_client, db=DB, metric="l2")
        try:
            records = _records(6)
            a.upsert(records)
            assert {r.id for r in b.scan()} == {r.id for r in records}
            b.upsert([Record("r0", "from b", records[0].vector, {"who": "b"})])
            b.delete(["r5"])
            assert a.get(["r0"])[0].text == "from b"
            assert a.get(["r5"]) == []
            assert a.count() == 5
            hits = a.search(records[0].vector, k=1)
            assert hits[0].record.metadata == {"who": "b"}
        finally:
            a.drop()


def test_filtered_search_is_complete_at_low_selectivity(client: ScintireteClient) -> None:
    docs = DocumentCollection(f"c-{uuid.uuid4().hex[:8]}", client, db=DB, metric="l2")
    try:
        n, dim = 20_000, 16
        rng = np.random.default_rng(5)
        vectors = rng.standard_normal((n, dim)).astype(np.float32)
        rare = set(rng.choice(n, size=100, replace=False).tolist())  # 0.5%
        docs.upsert(Record(f"d{i}", "", vectors[i], {"rare": i in rare, "bucket": i % 4}) for i in range(n))
        for q in range(5):
            query = rng.standard_normal(dim).astype(np.float32)
            hits = docs.search(query, k=10, filter={"rare": True})
            assert len(hits) == 10
            assert all(h.record.metadata["rare"] is True for h in hits)
            rare_idx = np.array(sorted(rare))
            exact = rare_idx[np.argsort(np.linalg.norm(vectors[rare_idx] - query, axis=1))[:10]]
            assert [h.record.id for h in hits] == [f"d{i}" for i in exact], q
        both = docs.search(vectors[0], k=25, filter={"$and": [{"bucket": {"$in": [1, 2]}}, {"rare": False}]})
        assert len(both) == 25 and all(h.record.metadata["bucket"] in (1, 2) for h in both)
    finally:
        docs.drop()


def test_filter_semantics_match_brute_force(docs: DocumentCollection) -> None:
    records = _records(60, seed=6)
    docs.upsert(records)
    filters: list[dict[str, Any]] = [
        {"group": "g1"},
        {"i": {"$gt": 10, "$lte": 30}},
        {"$or": [{"group": {"$in": ["g2", "g3"]}}, {"score": {"$lt": 1}}]},
        {"$not": {"group": {"$nin": ["g4"]}}},
        {"missing": {"$exists": False}, "i": {"$ne": 5}},
    ]
    for where in filters:
        predicate = compile_filter(where)
        expected = {r.id for r in records if predicate(r.metadata)}
        assert {r.id for r in docs.scan(where)} == expected, where
        hits = docs.search(records[0].vector, k=60, filter=where)
        assert {h.record.id for h in hits} == expected, where


def test_ids_restriction_and_scores(docs: DocumentCollection) -> None:
    records = _records(20, seed=7)
    docs.upsert(records)
    hits = docs.search(records[0].vector, k=5, ids=["r3", "r0", "r9"])
    assert {h.record.id for h in hits} == {"r0", "r3", "r9"}
    assert hits[0].record.id == "r0" and hits[0].distance == 0 and hits[0].score == 1.0
    assert all(0 <= h.score <= 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_mmr_prefers_diverse_results(docs: DocumentCollection) -> None:
    base = np.array([1, 0, 0, 0, 0, 0, 0, 0], dtype=np.float32)
    near = [base + np.float32(0.001) * i for i in range(4)]
    other = np.array([0.8, 0.6, 0, 0, 0, 0, 0, 0], dtype=np.float32)
    docs.upsert([Record(f"dup{i}", "", v, {}) for i, v in enumerate(near)] + [Record("other", "", other, {})])
    plain = [h.record.id for h in docs.search(base, k=2)]
    diverse = [h.record.id for h in docs.mmr(base, k=2, fetch_k=5, lambda_mult=0.3)]
    assert plain[1].startswith("dup")
    assert diverse[0] == "dup0" and diverse[1] == "other"


def test_bad_input_is_refused_before_writing(client: ScintireteClient, docs: DocumentCollection) -> None:
    docs.upsert(_records(2))
    before = _server_counts(client, docs)
    cases = [
        ([Record("a", "", [1.0] * 8, {"_sci_id": "x"})], "_sci_"),
        ([Record("a", "", [1.0] * 8), Record("a", "", [2.0] * 8)], "appears twice"),
        ([Record("", "", [1.0] * 8)], "non-empty string"),
        ([Record("a", "", None)], "has no vector"),
        ([Record("a", "", [1.0] * 3)], "dimension 3"),
        ([Record("a", "", [float("nan")] * 8)], "NaN"),
        ([Record("a", "", [1.0] * 8, {"when": object()})], "object"),
    ]
    for batch, message in cases:
        with pytest.raises(InvalidArgumentError, match=message):
            docs.upsert(batch)
    with pytest.raises(InvalidArgumentError, match="unknown operator"):
        docs.search([1.0] * 8, filter={"i": {"$regex": "x"}})
    with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
        docs.search([1.0] * 8, k=0)
    with pytest.raises(InvalidArgumentError, match="query vector has dimension 2"):
        docs.search([1.0, 2.0])
    assert _server_counts(client, docs) == before


def test_existing_collection_metric_is_checked(client: ScintireteClient, docs: DocumentCollection) -> None:
    docs.upsert(_records(1))
    wrong = DocumentCollection(docs.name, client, db=DB, metric="cosine")
    with pytest.raises(
        InvalidArgumentError, match="uses metric 'l2', but this store was opened with 'cosine'"
    ):
        wrong.count()


def test_existing_collection_dimension_is_checked(client: ScintireteClient, docs: DocumentCollection) -> None:
    docs.upsert(_records(1))
    with pytest.raises(InvalidArgumentError, match="holds 8-dimensional vectors, but these have dimension 4"):
        docs.ensure(4)
    docs.ensure(8)


def test_a_number_whose_writer_died_before_storing_its_page_is_voided_once_for_every_reader(
    client: ScintireteClient, docs: DocumentCollection, caplog: pytest.LogCaptureFixture
) -> None:
    docs.upsert(_records(3))
    # A writer that numbered a page in the journal and died before storing it in the book.
    client.insert_vectors(docs.db, docs.name + ".__sci_journal", [[0.5] * 8])
    docs.upsert([Record("late", "after the dead writer", _records(1, seed=9)[0].vector)])
    fresh = DocumentCollection(docs.name, client, db=DB, metric="l2")
    assert fresh.count() == 4  # the number is pending: nothing acknowledged is missing, so reads answer
    assert fresh._core.view.pending
    fresh._core.refresher.grace = 0.0
    with caplog.at_level(logging.WARNING):
        assert fresh.count() == 4
    assert "voiding 1 page number" in caplog.text
    later = DocumentCollection(docs.name, client, db=DB, metric="l2")  # default grace: the mark answers
    assert later.count() == 4 and later._core.view.voided == 1 and not later._core.view.pending
    assert sorted(r.id for r in later.get(["r0", "r1", "r2", "late"])) == ["late", "r0", "r1", "r2"]


def test_clear_drop_and_reads_on_a_missing_collection(client: ScintireteClient) -> None:
    docs = DocumentCollection(f"c-{uuid.uuid4().hex[:8]}", client, db=DB)
    assert (
        docs.count() == 0
        and docs.get(["x"]) == []
        and docs.search([1.0], k=1) == []
        and docs.delete(["x"]) == 0
    )
    docs.upsert(_records(4))
    docs.clear()
    assert docs.count() == 0
    assert docs.drop() is True
    assert docs.drop() is False


def test_server_side_embeddings(lite_server: LiteServer) -> None:
    """Lite's embedding provider stands in for a server's configured embedding endpoint."""
    texts = ["bake bread at home", "repair a bicycle tyre", "plant tomatoes in spring"]
    client = ScintireteClient(lite_server.address, password=lite_server.password)
    docs_text = DocumentCollection(f"c-{uuid.uuid4().hex[:8]}-text", client, db=DB, metric="cosine")
    try:
        docs_text.upsert_texts(Record(f"t{i}", text, None, {"n": i}) for i, text in enumerate(texts))
        hits = docs_text.search_text("bake bread at home", k=1)
        assert hits[0].record.id == "t0" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    finally:
        docs_text.drop()
        client.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    metadata=st.dictionaries(
        st.text(min_size=1, max_size=8).filter(
            lambda k: not k.startswith(("_sci_", "$"))
        ),  # both refused on write
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**70), 2**70)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=5,
    )
)
def test_metadata_round_trips_exactly_through_the_server(
    docs: DocumentCollection, metadata: dict[str, Any]
) -> None:
    docs.upsert([Record("m", "", [1.0] * 8, metadata)])
    (got,) = docs.get(["m"])
    assert _typed(got.metadata) == _typed(metadata)


def _typed(value: Any) -> Any:
    """A structure that compares types as well as values (1, 1.0 and True differ)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def test_relevance_score_formulas() -> None:
    assert relevance_score("cosine", 0.0) == 1.0 and relevance_score("cosine", 2.0) == 0.0
    assert relevance_score("cosine", 1.0) == 0.5
    assert relevance_score("l2", 0.0) == 1.0 and relevance_score("l2", 3.0) == 0.25
    assert relevance_score("inner_product", -1.0) == 1.0 and relevance_score("inner_product", 1.0) == 0.0
    assert relevance_score("l2", float("inf")) == 0.0


def test_maximal_marginal_relevance_pure_functions() -> None:
    candidates = np.array([[1, 0], [0.99, 0.01], [0, 1]], dtype=np.float32)
    assert maximal_marginal_relevance([1, 0], candidates, 2, lambda_mult=1.0) == [0, 1]
    assert maximal_marginal_relevance([1, 0], candidates, 2, lambda_mult=0.1) == [0, 2]
    assert maximal_marginal_relevance([1, 0], candidates, 0) == []
    with pytest.raises(InvalidArgumentError):
        maximal_marginal_relevance([1, 0], candidates, 1, lambda_mult=2)


def test_resolve_clients_precedence(address: str, password: str) -> None:
    sync, async_ = resolve_clients(address=address, password=password)
    assert sync.address == async_.address == address
    twin_sync, twin_async = resolve_clients(client=sync)
    assert twin_sync is sync and twin_async.address == address
    with pytest.raises(InvalidArgumentError, match="not both"):
        resolve_clients(client=sync, address=address)
    embedded, _ = resolve_clients()
    again, _ = resolve_clients()
    assert embedded.address == again.address  # one embedded server per process
    sync.close()


async def test_async_collection_mirrors_the_sync_one(address: str, password: str) -> None:
    docs = AsyncDocumentCollection.connect(
        f"c-{uuid.uuid4().hex[:8]}", address=address, password=password, db=DB, metric="l2"
    )
    try:
        records = _records(10)
        assert await docs.upsert(records) == [r.id for r in records]
        assert await docs.count() == 10
        assert [r.id for r in await docs.get(["r2"])] == ["r2"]
        assert await docs.delete(["r2"]) == 1
        assert len(await docs.scan({"group": "g3"})) == 1
        hits = await docs.search(records[3].vector, k=3, filter={"i": {"$ne": 4}})
        assert hits[0].record.id == "r3" and all(h.record.id != "r4" for h in hits)
        assert len(await docs.mmr(records[3].vector, k=2)) == 2
        assert await docs.delete_group("doc1") == 3
        assert await docs.delete_where({"i": 0}) == 1
        await docs.clear()
        assert await docs.count() == 0
    finally:
        await docs.drop()
        await docs.client.close()


class _RecordingClient(ScintireteClient):
    """Remembers the RPC names of each step a plan takes (a list for concurrent steps)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps: list[Any] = []

    def _call(self, call: Any) -> Any:
        self.steps.append(call.rpc)
        return super()._call(call)

    def _call_concurrently(self, calls: list[Any]) -> list[Any]:
        self.steps.append(sorted(call.rpc for call in calls))
        return super()._call_concurrently(calls)


def test_a_warm_search_costs_one_counter_check_and_a_foreign_write_one_look_up(
    address: str, password: str
) -> None:
    with (
        _RecordingClient(address, password=password) as recording,
        ScintireteClient(address, password=password) as other,
    ):
        docs = DocumentCollection(
            f"c-{uuid.uuid4().hex[:8]}", recording, db=DB, metric="l2", exact_search_limit=0
        )
        try:
            records = _records(10)
            docs.upsert(records)
            recording.steps = []
            assert docs.search(records[0].vector, k=1)[0].record.id == "r0"
            assert recording.steps == ["GetCollectionInfo", "Search"]
            small = DocumentCollection(docs.name, recording, db=DB, metric="l2")
            small.count()
            recording.steps = []
            assert small.search(records[0].vector, k=1)[0].record.id == "r0"
            assert recording.steps == ["GetCollectionInfo"]  # scored on the client: no Search
            DocumentCollection(docs.name, other, db=DB, metric="l2").upsert(
                [Record("r0", "changed", records[0].vector)]
            )
            recording.steps = []
            hit = docs.search(records[0].vector, k=1)[0]
            assert (hit.record.id, hit.record.text) == ("r0", "changed")  # the other writer is seen at once
            assert recording.steps == ["GetCollectionInfo", ["Search"], "Search"]  # its page: one look-up
        finally:
            docs.drop()


def test_one_collection_object_is_safe_across_threads(client: ScintireteClient) -> None:
    """Readers iterating the view while a writer applies pages, with thread switches forced often."""
    import sys
    import threading
    import time

    docs = DocumentCollection(f"c-{uuid.uuid4().hex[:8]}", client, db=DB, metric="l2")
    records = _records(3000)
    docs.upsert(records)
    errors: list[BaseException] = []
    stop = time.monotonic() + 2.0

    def read() -> None:
        try:
            while time.monotonic() < stop:
                docs.scan({"group": "g3"})
                docs.search(records[0].vector, k=5, filter={"i": {"$lt": 50}})
                docs.search(records[1].vector, k=5)
                docs.count()
        except BaseException as exc:
            errors.append(exc)

    def write() -> None:
        try:
            version = 0
            while time.monotonic() < stop:
                version += 1
                docs.upsert(
                    [Record(r.id, f"v{version}", r.vector, {"i": r.metadata["i"]}) for r in records[:50]]
                )
                docs.delete([f"r{3000 - version}"])
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [
            threading.Thread(target=read),
            threading.Thread(target=read),
            threading.Thread(target=write),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        docs.drop()
    assert errors == []


def test_a_collection_dropped_and_made_anew_elsewhere_is_read_afresh(client: ScintireteClient) -> None:
    name = f"c-{uuid.uuid4().hex[:8]}"
    mine = DocumentCollection(name, client, db=DB, metric="l2")
    mine.upsert(_records(5))
    mine.upsert(_records(5, seed=1, prefix="s"))
    assert mine.count() == 10
    other = DocumentCollection(name, client, db=DB, metric="l2")
    other.drop()
    other.upsert([Record("new", "t", np.ones(8, np.float32))])
    assert [r.id for r in mine.scan()] == ["new"]
    mine.drop()


def test_a_page_written_during_a_refresh_is_not_taken_for_a_new_collection(
    address: str, password: str
) -> None:
    """A reader's journal count can be older than a page another thread applied meanwhile.

    That count is lower than the view's newest page, yet nothing was dropped: the view must keep
    what it holds (once, it started afresh and a concurrent reader saw a deleted record again).
    """
    with (
        ScintireteClient(address, password=password) as reader,
        ScintireteClient(address, password=password) as writer,
    ):
        name = f"c-{uuid.uuid4().hex[:8]}"
        docs = DocumentCollection(name, reader, db=DB, metric="l2")
        docs.upsert(_records(5))
        other_thread = DocumentCollection(name, writer, core=docs._core)  # one view, as threads of one store
        original = reader._get_collection_info_plan
        armed = [True]

        def info_then_a_concurrent_delete(db: str, collection: str, timeout: Any) -> Any:
            info = yield from original(db, collection, timeout)
            if armed[0] and collection.endswith("__sci_journal"):
                armed[0] = False
                other_thread.delete(["r0"])  # lands after this count was taken
            return info

        reader._get_collection_info_plan = info_then_a_concurrent_delete  # type: ignore[method-assign]
        assert [r.id for r in docs.scan()] == ["r1", "r2", "r3", "r4"]
        assert docs.get(["r0"]) == []
        docs.drop()
