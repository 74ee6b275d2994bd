"""Keyword and hybrid search in the document layer, over Lite (and a real server when one is set).

The expected answers come from what the layer is said to compute: a :class:`KeywordIndex` built
afresh from the records a new store would hold, the filter evaluated by ``filters.compile``,
and the fusion functions applied to the dense and keyword lists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scintirete_integrations import InvalidArgumentError, ScintireteClient
from scintirete_integrations.documents import AsyncDocumentCollection, DocumentCollection, Record
from scintirete_integrations.documents.fusion import reciprocal_rank_fusion, relative_score_fusion
from scintirete_integrations.documents.hybrid import Fusion
from scintirete_integrations.documents.keyword import KeywordIndex
from scintirete_integrations.filters import compile as compile_filter
from scintirete_integrations.lite import LiteServer, ServerPersistence

DB = "keywords"
DIM = 8

TEXTS = {
    "k1": "disk full: ERR_4031 raised by the storage driver",
    "k2": "the disk is fine, nothing to report",
    "k3": "network down after ERR_5002 in parseHTTPResponse",
    "k4": "err 4031 again: the disk quota was reached",
    "k5": "a quiet day on the cluster",
    "k6": "storage driver restarted; disk checks pass",
    "k7": "東京都 datacenter: disk replaced",
    "k8": "Err-4031 seen on node 7",
}


def metadata(i: int) -> dict[str, Any]:
    return {"i": i, "lang": "en" if i % 2 else "de", "tags": ["ops"] if i % 3 else ["ops", "disk"]}


def corpus(seed: int = 0) -> list[Record]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(TEXTS), DIM)).astype(np.float32)
    return [
        Record(sid, text, vectors[i], metadata(i), group=f"g{i % 2}")
        for i, (sid, text) in enumerate(TEXTS.items())
    ]


def expected_keywords(
    records: list[Record], query: str, k: int, where: dict[str, Any] | None = None
) -> list[tuple[str, float]]:
    """(id, relevance) as the layer defines them, from an index built afresh."""
    index = KeywordIndex()
    index.put([r.id for r in records], [r.text for r in records])
    passes = compile_filter(where)
    allowed = {r.id for r in records if passes(r.metadata)} if where is not None else None
    top = index.max_score(query)
    return [(sid, score / top) for sid, score in index.search(query, k, allowed)]


def pairs(hits: list[Any]) -> list[tuple[str, float]]:
    return [(hit.record.id, hit.score) for hit in hits]


def assert_pairs(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [sid for sid, _ in got] == [sid for sid, _ in want]
    assert [score for _, score in got] == pytest.approx([score for _, score in want], abs=1e-6)


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password) as c:
        yield c


@pytest.fixture(params=[20_000, 0], ids=["client-exact", "index-search"])
def docs(client: ScintireteClient, request: pytest.FixtureRequest) -> Iterator[DocumentCollection]:
    collection = DocumentCollection(
        f"kw-{uuid.uuid4().hex[:8]}", client, db=DB, exact_search_limit=request.param
    )
    collection.upsert(corpus())
    yield collection
    collection.drop()


# -- keyword mode


def test_keyword_search_scores_are_bm25_over_its_maximum(docs: DocumentCollection) -> None:
    hits = docs.search_keywords("ERR_4031", k=10)
    assert_pairs(pairs(hits), expected_keywords(corpus(), "ERR_4031", 10))
    # the whole identifier first, then its other spellings; k3's ERR_5002 shares the part "err"
    assert hits[0].record.id == "k1" and {h.record.id for h in hits} == {"k1", "k3", "k4", "k8"}
    assert hits[-1].record.id == "k3"
    assert all(0.0 < h.score < 1.0 and h.distance == pytest.approx(1.0 - h.score) for h in hits)
    assert hits[0].record.text == TEXTS["k1"] and hits[0].record.metadata == metadata(0)
    assert docs.search_keywords("parsehttpresponse", k=3)[0].record.id == "k3"
    assert docs.search_keywords("東京", k=3)[0].record.id == "k7"
    assert docs.search_keywords("no such words", k=3) == []
    assert docs.search_keywords("", k=3) == []


@pytest.mark.parametrize(
    "where",
    [{"lang": "en"}, {"i": {"$gte": 3}}, {"tags": {"$contains": "disk"}}, {"lang": "fr"}],
    ids=["eq", "range", "contains", "none-pass"],
)
def test_keyword_filters_restrict_the_result_not_the_scores(
    docs: DocumentCollection, where: dict[str, Any]
) -> None:
    got = pairs(docs.search_keywords("disk storage ERR_4031", k=10, filter=where))
    assert_pairs(got, expected_keywords(corpus(), "disk storage ERR_4031", 10, where))
    everyone = dict(pairs(docs.search_keywords("disk storage ERR_4031", k=10)))
    assert all(score == everyone[sid] for sid, score in got)  # same statistics with or without


def test_keyword_ids_and_a_filter_combine(docs: DocumentCollection) -> None:
    hits = docs.search_keywords("disk", k=10, ids=["k1", "k2", "k5", "missing"], filter={"lang": "de"})
    assert [h.record.id for h in hits] == ["k1"]  # k2 is "en", k5 has no "disk"
    assert docs.search_keywords("disk", k=10, ids=[]) == []


def test_upserts_and_deletes_reach_a_built_index(docs: DocumentCollection) -> None:
    docs.search_keywords("disk", k=1)  # builds the index
    records = {r.id: r for r in corpus()}
    docs.delete(["k1", "k5"])
    replaced = Record("k2", "ERR_4031 ERR_4031 on the disk array", records["k2"].vector, {"i": 1})
    added = Record("k9", "ERR_4031 in the new disk shelf", np.ones(DIM, np.float32), {"i": 9})
    docs.upsert([replaced, added])
    now = [r for sid, r in records.items() if sid not in ("k1", "k5", "k2")] + [replaced, added]
    for query in ("ERR_4031", "disk", "storage driver", "quiet"):
        assert_pairs(pairs(docs.search_keywords(query, k=10)), expected_keywords(now, query, 10))


def test_another_writers_changes_reach_a_built_index(
    docs: DocumentCollection, address: str, password: str
) -> None:
    docs.search_keywords("disk", k=1)
    with ScintireteClient(address, password=password) as other_client:
        other = DocumentCollection(docs.name, other_client, db=DB)
        other.delete(["k1"])
        other.upsert([Record("x1", "ERR_4031 from the other writer", np.ones(DIM, np.float32))])
    now = [r for r in corpus() if r.id != "k1"] + [Record("x1", "ERR_4031 from the other writer")]
    assert_pairs(pairs(docs.search_keywords("ERR_4031", k=10)), expected_keywords(now, "ERR_4031", 10))


def test_a_compaction_and_a_clear_leave_the_keyword_answers_right(docs: DocumentCollection) -> None:
    docs.search_keywords("disk", k=1)
    records = corpus()
    for i in range(3):  # hidden versions for the compaction to drop
        records[4] = Record("k5", f"a quiet day {i}", np.full(DIM, i + 1.0, np.float32), metadata(4))
        docs.upsert([records[4]])
    assert docs.compact()
    for query in ("disk ERR_4031", "quiet day"):
        assert_pairs(pairs(docs.search_keywords(query, k=10)), expected_keywords(records, query, 10))
    docs.clear()
    assert docs.search_keywords("disk", k=10) == []
    docs.upsert([Record("n", "disk", np.ones(DIM, np.float32))])
    assert [h.record.id for h in docs.search_keywords("disk", k=10)] == ["n"]


def test_keyword_search_on_a_missing_collection_is_empty(client: ScintireteClient) -> None:
    missing = DocumentCollection(f"kw-{uuid.uuid4().hex[:8]}", client, db=DB)
    assert missing.search_keywords("disk", k=3) == []
    assert missing.search_hybrid("disk", np.ones(DIM), k=3) == []


# -- hybrid mode


def dense_pairs(
    docs: DocumentCollection, vector: np.ndarray, k: int, **kwargs: Any
) -> list[tuple[str, float]]:
    return pairs(docs.search(vector, k=k, **kwargs))


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_relative_fusion_is_alpha_weighted_normalised_scores(docs: DocumentCollection, alpha: float) -> None:
    vector = corpus()[4].vector
    assert vector is not None
    hits = docs.search_hybrid("disk ERR_4031", vector, k=5, alpha=alpha, dense_k=6, keyword_k=6)
    dense = dense_pairs(docs, np.asarray(vector), 6)
    keyword = expected_keywords(corpus(), "disk ERR_4031", 6)
    assert_pairs(pairs(hits), relative_score_fusion(dense, keyword, alpha=alpha, limit=5))
    assert all(h.distance == pytest.approx(1.0 - h.score) for h in hits)
    if alpha == 1.0:
        assert [h.record.id for h in hits] == [sid for sid, _ in dense[:5]]
    if alpha == 0.0:
        assert [h.record.id for h in hits] == [sid for sid, _ in keyword[:5]]


def test_rrf_scores_are_scaled_so_first_everywhere_is_one(docs: DocumentCollection) -> None:
    records = {r.id: r for r in corpus()}
    vector = np.asarray(records["k1"].vector)
    hits = docs.search_hybrid("ERR_4031", vector, k=4, fusion="rrf")
    assert hits[0].record.id == "k1" and hits[0].score == pytest.approx(1.0)  # first in both lists
    dense = dense_pairs(docs, vector, 50)
    keyword = expected_keywords(corpus(), "ERR_4031", 50)
    fused = reciprocal_rank_fusion([dense, keyword], weights=[0.5, 0.5], limit=4)
    assert_pairs(pairs(hits), [(sid, score * 61) for sid, score in fused])
    only_dense = docs.search_hybrid("ERR_4031", vector, k=2, fusion="rrf", alpha=1.0)
    assert [h.record.id for h in only_dense] == [sid for sid, _ in dense[:2]]


@pytest.mark.parametrize("fusion", ["relative", "rrf"])
def test_hybrid_filters_apply_to_both_lists(docs: DocumentCollection, fusion: Fusion) -> None:
    vector = np.asarray(corpus()[1].vector)
    where = {"lang": "en"}
    hits = docs.search_hybrid("disk ERR_4031", vector, k=8, filter=where, fusion=fusion)
    passing = {r.id for r in corpus() if r.metadata["lang"] == "en"}
    assert hits and {h.record.id for h in hits} <= passing
    keyword = expected_keywords(corpus(), "disk ERR_4031", 50, where)
    dense = dense_pairs(docs, vector, 50, filter=where)
    want = (
        relative_score_fusion(dense, keyword, limit=8)
        if fusion == "relative"
        else [(s, v * 61) for s, v in reciprocal_rank_fusion([dense, keyword], weights=[0.5, 0.5], limit=8)]
    )
    assert_pairs(pairs(hits), want)
    by_ids = docs.search_hybrid("disk", vector, k=8, ids=["k2", "k5"], fusion=fusion)
    assert {h.record.id for h in by_ids} == {"k2", "k5"}  # k5 only through the dense list


def test_hybrid_thresholds_apply_to_each_list_before_fusing(docs: DocumentCollection) -> None:
    vector = np.asarray(corpus()[4].vector)  # k5, which holds no query term
    dense = docs.search(vector, k=50)
    keyword = docs.search_keywords("ERR_4031", k=50)
    threshold = 0.3
    kept_dense = [h for h in dense if h.score >= threshold]
    kept_keyword = [h for h in keyword if h.score >= threshold]
    hits = docs.search_hybrid("ERR_4031", vector, k=8, score_threshold=threshold)
    assert {h.record.id for h in hits} == {h.record.id for h in kept_dense + kept_keyword}
    want = relative_score_fusion(pairs(kept_dense), pairs(kept_keyword), limit=8)
    assert_pairs(pairs(hits), want)
    # a caller's own relevance for dense hits (here: none passes)
    only_keyword = docs.search_hybrid(
        "ERR_4031", vector, k=8, score_threshold=threshold, dense_relevance=lambda distance: 0.0
    )
    assert {h.record.id for h in only_keyword} == {h.record.id for h in kept_keyword}


def test_hybrid_include_vector_returns_each_records_vector(docs: DocumentCollection) -> None:
    records = {r.id: r for r in corpus()}
    hits = docs.search_hybrid("disk", np.asarray(records["k5"].vector), k=8, include_vector=True)
    for hit in hits:
        assert np.array_equal(np.asarray(hit.record.vector), np.asarray(records[hit.record.id].vector))


def test_bad_keyword_and_hybrid_arguments_are_refused(docs: DocumentCollection) -> None:
    vector = np.ones(DIM)
    with pytest.raises(InvalidArgumentError, match="fusion must be one of 'relative', 'rrf'"):
        docs.search_hybrid("disk", vector, fusion="max")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="alpha must be a number between 0"):
        docs.search_hybrid("disk", vector, alpha=1.5)
    with pytest.raises(InvalidArgumentError, match="dense_k must be a positive integer"):
        docs.search_hybrid("disk", vector, dense_k=0)
    with pytest.raises(InvalidArgumentError, match="keyword_k must be a positive integer"):
        docs.search_hybrid("disk", vector, keyword_k=2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="dimension 3"):
        docs.search_hybrid("disk", [1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgumentError, match="must be a string"):
        docs.search_keywords(["disk"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
        docs.search_keywords("disk", k=0)
    with pytest.raises(InvalidArgumentError, match="filter"):
        docs.search_keywords("disk", filter={"i": {"$near": 1}})


async def test_the_async_twin_answers_alike(docs: DocumentCollection, address: str, password: str) -> None:
    twin = AsyncDocumentCollection.connect(docs.name, address=address, password=password, db=DB)
    try:
        vector = np.asarray(corpus()[2].vector)
        assert pairs(await twin.search_keywords("disk ERR_4031", k=5, filter={"lang": "de"})) == pairs(
            docs.search_keywords("disk ERR_4031", k=5, filter={"lang": "de"})
        )
        fusions: tuple[Fusion, ...] = ("relative", "rrf")
        for fusion in fusions:
            got = await twin.search_hybrid("disk", vector, k=5, fusion=fusion, alpha=0.3)
            assert_pairs(pairs(got), pairs(docs.search_hybrid("disk", vector, k=5, fusion=fusion, alpha=0.3)))
    finally:
        await twin.client.close()


# -- a store opened by another process


READER = """
import json, os, sys
import numpy as np
from scintirete_integrations import DocumentCollection, ScintireteClient

address, db, name, vector = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
with ScintireteClient(address, password=os.environ["READER_PASSWORD"]) as client:
    docs = DocumentCollection(name, client, db=db)
    found = {
        "keyword": [[h.record.id, h.score] for h in docs.search_keywords("disk ERR_4031", k=10)],
        "filtered": [[h.record.id, h.score] for h in docs.search_keywords("disk", k=10, filter={"lang": "en"})],
        "hybrid": [[h.record.id, h.score] for h in docs.search_hybrid("disk ERR_4031", vector, k=5)],
        "rrf": [[h.record.id, h.score] for h in docs.search_hybrid("disk", vector, k=5, fusion="rrf")],
    }
print(json.dumps(found))
"""


def test_a_store_opened_in_another_process_answers_identically(
    docs: DocumentCollection, address: str, password: str
) -> None:
    docs.search_keywords("disk", k=1)  # this store's index, built before the changes below
    docs.delete(["k2"])
    docs.upsert([Record("k9", "ERR_4031 on the replacement disk", np.ones(DIM, np.float32), {"lang": "en"})])
    vector = [float(x) for x in np.asarray(corpus()[3].vector)]
    result = subprocess.run(
        [sys.executable, "-c", READER, address, DB, docs.name, json.dumps(vector)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "READER_PASSWORD": password},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    theirs = json.loads(result.stdout)
    ours = {
        "keyword": pairs(docs.search_keywords("disk ERR_4031", k=10)),
        "filtered": pairs(docs.search_keywords("disk", k=10, filter={"lang": "en"})),
        "hybrid": pairs(docs.search_hybrid("disk ERR_4031", vector, k=5)),
        "rrf": pairs(docs.search_hybrid("disk", vector, k=5, fusion="rrf")),
    }
    assert ours["keyword"] and ours["hybrid"]
    for key, hits in ours.items():
        # the same ids in the same order; scores equal but for the dense side's float rounding,
        # which differs between the server's distances and exact scoring on the client
        assert_pairs([(sid, score) for sid, score in theirs[key]], hits)


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_keyword_and_hybrid_answers_survive_a_server_restart(tmp_path: Path, how: str) -> None:
    """A server persisting like an unmodified one (metadata lost without a snapshot): the texts
    come back from the journal, so a new store ranks exactly as before the restart."""
    quiet = ServerPersistence(log_flush_interval=None)
    server = LiteServer(tmp_path, password="pw", persistence=quiet).start()
    name = f"kw-{uuid.uuid4().hex[:8]}"
    vector = np.asarray(corpus()[0].vector)
    try:
        with ScintireteClient(server.address, password="pw") as client:
            docs = DocumentCollection(name, client, db=DB)
            docs.upsert(corpus())
            docs.delete(["k3"])
            before = {
                "keyword": pairs(docs.search_keywords("disk ERR_4031", k=10)),
                "hybrid": pairs(docs.search_hybrid("disk ERR_4031", vector, k=5, fusion="rrf")),
            }
        if how == "kill":
            server.crash()
        else:
            server.stop()
        server = LiteServer(tmp_path, password="pw", persistence=quiet).start()
        with ScintireteClient(server.address, password="pw") as client:
            docs = DocumentCollection(name, client, db=DB)
            assert pairs(docs.search_keywords("disk ERR_4031", k=10)) == before["keyword"]
            assert_pairs(
                pairs(docs.search_hybrid("disk ERR_4031", vector, k=5, fusion="rrf")), before["hybrid"]
            )
    finally:
        server.stop()
