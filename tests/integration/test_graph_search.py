"""Graph-index search: large collections take candidates from a graph, scored exactly.

With ``approximate_search_from`` records or more (and usearch installed, the ``[ann]`` extra),
a store asks the graph for candidates and scores them from its own float32 matrix. What must
hold whatever the graph does: every hit is a visible record (no deleted or superseded vector)
with its exact distance, filters are obeyed, ``k`` hits come back when ``k`` exist, answers
are exact while a graph is being built, and the graph saved in the view cache is the one of
the records saved with it (or it is not used).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scintirete_integrations import AsyncScintireteClient, ScintireteClient
from scintirete_integrations.documents import AsyncDocumentCollection, DocumentCollection, Record
from scintirete_integrations.documents import graph as graph_module
from scintirete_integrations.documents import view_cache as view_cache_module
from scintirete_integrations.documents.pages import books_plan, read_stored_plan
from scintirete_integrations.documents.vectors import VectorTable
from scintirete_integrations.errors import InvalidArgumentError
from scintirete_integrations.models import Metric

pytest.importorskip("usearch")

DB = "graphsearch"
FROM = 300  # collections this large use the graph in these tests (50,000 by default)
DIM = 24


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password, timeout=60) as c:
        yield c


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 20 centres, like embeddings of a few topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM))
    rows = centres[rng.integers(0, 20, n)] + 0.4 * rng.standard_normal((n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def records(vectors: np.ndarray, start: int = 0, tag: str = "v0") -> list[Record]:
    return [
        Record(f"r{start + i}", f"text {start + i} {tag}", vector, {"i": start + i, "half": (start + i) % 2})
        for i, vector in enumerate(vectors)
    ]


def open_docs(
    client: ScintireteClient, name: str, cache: Path | None = None, metric: str = "cosine", **options: object
) -> DocumentCollection:
    options.setdefault("approximate_search_from", FROM)
    return DocumentCollection(name, client, db=DB, metric=metric, view_cache=cache, **options)  # type: ignore[arg-type]


def exact(
    docs: DocumentCollection, query: np.ndarray, k: int, where: dict[str, object] | None = None
) -> list[tuple[str, float]]:
    """The same search with the graph switched off."""
    saved = docs._core.approximate_from
    docs._core.approximate_from = None
    try:
        return [(hit.record.id, hit.distance) for hit in docs.search(query, k=k, filter=where)]
    finally:
        docs._core.approximate_from = saved


def saved_with_graph(
    client: ScintireteClient, cache: Path, vectors: np.ndarray
) -> tuple[str, DocumentCollection]:
    """A new collection of ``vectors`` whose writer searched it (the graph is built) and was
    closed, so view and graph are in ``cache``."""
    name = f"g_{uuid.uuid4().hex[:8]}"
    writer = open_docs(client, name, cache)
    writer.upsert(records(vectors))
    writer.search(vectors[0], k=1)
    writer._close_for("test")
    return name, writer


def graph_of(docs: DocumentCollection) -> graph_module.GraphIndex:
    graph = docs._core.view.vectors.graph
    assert graph is not None
    graph.wait()
    return graph


@pytest.mark.parametrize("metric", ["cosine", "l2", "inner_product"])
def test_graph_hits_are_the_exact_nearest_with_exact_distances(client: ScintireteClient, metric: str) -> None:
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}", metric=metric)
    vectors = clustered(1500)
    docs.upsert(records(vectors))
    queries = clustered(30, seed=1)
    found = [[(h.record.id, h.distance) for h in docs.search(q, k=10)] for q in queries]
    assert len(graph_of(docs)) == 1500  # the graph answered (caught up inline: below BACKGROUND_FROM)
    truth = [exact(docs, q, 10) for q in queries]
    hits = sum(len({sid for sid, _ in f} & {sid for sid, _ in t}) for f, t in zip(found, truth, strict=True))
    assert hits / (10 * len(queries)) >= 0.97
    for q, result in zip(queries, found, strict=True):
        assert [d for _, d in result] == sorted(d for _, d in result)
        distances = dict(exact(docs, q, 1500))  # every record's exact distance
        assert all(distance == distances[sid] for sid, distance in result)


def test_updated_and_deleted_records_never_come_back(client: ScintireteClient) -> None:
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}")
    vectors = clustered(800)
    docs.upsert(records(vectors))
    docs.search(vectors[0], k=5)  # the graph now holds every first version
    moved = clustered(50, seed=9)
    docs.upsert(records(moved, start=0, tag="v1"))  # r0..r49 get new vectors
    docs.delete([f"r{i}" for i in range(100, 200)])
    for i in range(50):
        top = docs.search(moved[i], k=3)
        assert top[0].record.id == f"r{i}" and top[0].record.text == f"text {i} v1"
        assert top[0].distance == pytest.approx(0.0, abs=1e-5)
    for i in range(100, 200, 7):
        hits = docs.search(vectors[i], k=20)
        assert len(hits) == 20 and not {h.record.id for h in hits} & {f"r{j}" for j in range(100, 200)}
    for i in range(0, 50, 5):  # the old vector of an updated record finds nothing at distance 0
        assert all(h.distance > 1e-4 or h.record.text.endswith("v1") for h in docs.search(vectors[i], k=5))
    assert len(graph_of(docs)) == 700


def test_filters_hold_and_k_hits_come_back_when_k_exist(client: ScintireteClient) -> None:
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}")
    vectors = clustered(6000)
    docs.upsert(records(vectors))
    query = clustered(1, seed=3)[0]
    broad = docs.search(query, k=10, filter={"half": 1})  # 3,000 match: through the graph
    assert len(broad) == 10 and all(h.record.metadata["half"] == 1 for h in broad)
    assert {h.record.id for h in broad} == {sid for sid, _ in exact(docs, query, 10, {"half": 1})}
    rare = docs.search(query, k=10, filter={"i": {"$in": [5, 17, 4000]}})  # scored whole
    assert [h.record.id for h in rare] == [
        sid for sid, _ in exact(docs, query, 10, {"i": {"$in": [5, 17, 4000]}})
    ]
    assert len(docs.search(query, k=6000)) == 6000  # every record, although the graph proposes fewer first


def test_searches_stay_exact_while_a_large_graph_builds_on_a_thread(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_module, "BACKGROUND_FROM", 500)
    monkeypatch.setattr(graph_module, "_CHUNK", 64)
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}")
    vectors = clustered(3000)
    docs.upsert(records(vectors))
    while_building = [(h.record.id, h.distance) for h in docs.search(vectors[7], k=10)]
    graph = docs._core.view.vectors.graph
    assert graph is not None
    assert while_building == exact(docs, vectors[7], 10)  # answered by a scan meanwhile
    docs.upsert(records(clustered(40, seed=5), start=3000))  # writes go on during the build
    docs.delete(["r1", "r2"])
    graph.wait()
    hits = docs.search(vectors[1], k=10)  # catches up with what came during the build
    assert "r1" not in {h.record.id for h in hits}
    assert len(graph) == 3038


def test_a_bulk_ingest_feeds_the_graph_as_it_writes(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_module, "FEED_FROM", 200)
    monkeypatch.setattr("scintirete_integrations.documents.vectors.GRAPH_FEED_FROM", 200)
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}")
    vectors = clustered(2000)
    for start in range(0, 2000, 250):
        docs.upsert(records(vectors[start : start + 250], start=start))
    graph = docs._core.view.vectors.graph
    assert graph is not None and graph.added_below >= 1500  # fed before any search asked
    graph.wait()
    assert [docs.search(vectors[i], k=1)[0].record.id for i in range(0, 2000, 97)] == [
        f"r{i}" for i in range(0, 2000, 97)
    ]
    assert len(graph) == 2000


def test_a_failed_build_is_logged_and_searches_stay_right(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(graph_module, "BACKGROUND_FROM", 100)

    def fail(self: graph_module.GraphIndex, keys: np.ndarray, vectors: np.ndarray, rows: np.ndarray) -> None:
        raise MemoryError("no room for the graph")

    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}")
    vectors = clustered(1000)
    docs.upsert(records(vectors))
    with monkeypatch.context() as patched:
        patched.setattr(graph_module.GraphIndex, "_add", fail)
        docs.search(vectors[0], k=5)
        docs._core.view.vectors.graph.wait()  # type: ignore[union-attr]
    with caplog.at_level(logging.WARNING):
        hits = [(h.record.id, h.distance) for h in docs.search(vectors[0], k=5)]
    assert "no room for the graph" in caplog.text
    assert hits == exact(docs, vectors[0], 5)
    docs.search(vectors[0], k=5)  # a new graph is built
    assert len(graph_of(docs)) == 1000


def test_the_graph_is_saved_with_the_view_and_opened_without_a_rebuild(
    client: ScintireteClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"g_{uuid.uuid4().hex[:8]}"
    vectors = clustered(2000)
    writer = open_docs(client, name, tmp_path)
    writer.upsert(records(vectors))
    writer.delete([f"r{i}" for i in range(0, 2000, 3)])  # keys with gaps
    writer.upsert(records(clustered(30, seed=4), start=5, tag="v1"))
    writer._close_for("test")  # builds the graph (nobody searched) and saves it
    added: list[int] = []
    original = graph_module.GraphIndex._add

    def counting(self: graph_module.GraphIndex, keys: np.ndarray, vecs: np.ndarray, rows: np.ndarray) -> None:
        added.append(len(keys))
        original(self, keys, vecs, rows)

    monkeypatch.setattr(graph_module.GraphIndex, "_add", counting)
    reader = open_docs(client, name, tmp_path)
    queries = clustered(10, seed=8)
    got = [[(h.record.id, h.distance) for h in reader.search(q, k=10)] for q in queries]
    assert reader._core.opened_from_cache and added == []  # nothing rebuilt
    assert len(graph_of(reader)) == reader.count()
    assert graph_of(reader)._viewed is not None  # searched where it lies in the file
    for q, hits in zip(queries, got, strict=True):
        truth = exact(reader, q, 10)
        assert len({sid for sid, _ in hits} & {sid for sid, _ in truth}) >= 9
    other = open_docs(client, name)  # another writer, after the save
    other.upsert(records(clustered(5, seed=6), start=9000, tag="late"))
    other.delete(["r5"])
    late = clustered(5, seed=6)
    assert reader.search(late[2], k=1)[0].record.id == "r9002"
    assert "r5" not in {h.record.id for h in reader.search(clustered(30, seed=4)[0], k=10)}
    assert added == [5]  # only the new records were added to the loaded graph
    assert graph_of(reader)._viewed is None  # copied into memory to take them
    reader._close_for("test")
    again = open_docs(client, name, tmp_path)
    assert again.search(late[2], k=1)[0].record.id == "r9002" and again._core.opened_from_cache
    assert added == [5]


def test_a_cache_from_a_store_without_usearch_and_one_read_without_it_both_open(
    client: ScintireteClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = clustered(1000)
    name, _ = saved_with_graph(client, tmp_path, vectors)
    with monkeypatch.context() as missing:
        missing.setattr(view_cache_module, "GRAPH_AVAILABLE", False)
        missing.setattr("scintirete_integrations.documents.vectors.GRAPH_AVAILABLE", False)
        missing.setattr("scintirete_integrations.documents.core.GRAPH_AVAILABLE", False)
        reader = open_docs(client, name, tmp_path)
        hits = reader.search(vectors[3], k=5)
        assert reader._core.opened_from_cache and reader._core.view.vectors.graph is None
        assert hits[0].record.id == "r3"
        reader.upsert(records(clustered(3, seed=2), start=1000))
        reader._close_for("test")  # saved without a graph
    again = open_docs(client, name, tmp_path)
    assert again.search(vectors[3], k=1)[0].record.id == "r3"
    assert again._core.opened_from_cache and len(graph_of(again)) == 1003


def test_version_1_caches_still_open(client: ScintireteClient, tmp_path: Path) -> None:
    """Files written before row keys and graphs existed: keys are numbered afresh."""
    name = f"g_{uuid.uuid4().hex[:8]}"
    writer = open_docs(client, name, tmp_path, approximate_search_from=None)
    writer.upsert(records(clustered(400)))
    close_with_a_version_1_cache(writer)
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 400 and reader._core.opened_from_cache
    assert reader.search(clustered(400)[9], k=1)[0].record.id == "r9"
    assert len(graph_of(reader)) == 400


def close_with_a_version_1_cache(writer: DocumentCollection) -> Path:
    """Close ``writer`` and leave its view cache as version 1 would have written it."""
    with writer._core.lock:
        view = writer._core.view
        parts = view_cache_module.encode_view(view, writer._core.names, writer._core.metric)
    writer._close_for("test")
    assert view.anchor is not None
    client, names, seq = writer._client, writer._core.names, view.anchor[0]
    newest = client._run(books_plan(client, names, 30.0))[0]
    stored, _ = client._run(read_stored_plan(client, names, newest, [seq], 30.0))
    path: Path = writer._core.view_cache.path  # type: ignore[union-attr]
    path.write_bytes(_as_version_1(parts, hashlib.blake2b(stored[seq] or b"", digest_size=16)))
    return path


def _as_version_1(parts: list[bytes], anchor: hashlib.blake2b) -> bytes:
    """A file of this version written as version 1 would have it: no row keys, no text CRCs,
    the anchor named by the digest of all its page's bytes."""
    import json
    import zlib

    header = json.loads(parts[2])
    header["anchor"][1] = anchor.hexdigest()
    for name in ("next_key", "graph_added_below"):
        header.pop(name)
    body = b"".join(parts[3:-1])
    kept, at = {}, 0
    for name, (offset, length) in header["sections"].items():
        if name not in ("keys", "text_crcs"):
            kept[name] = body[offset : offset + length]
    header["sections"] = {}
    for name, blob in kept.items():
        header["sections"][name] = [at, len(blob)]
        at += len(blob)
    raw = json.dumps(header).encode()
    blob = b"SCIVIEW\x01" + len(raw).to_bytes(8, "little") + raw + b"".join(kept.values())
    return blob + zlib.crc32(blob).to_bytes(4, "little")


def test_approximate_search_from_none_keeps_every_search_exact(client: ScintireteClient) -> None:
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}", approximate_search_from=None)
    docs.upsert(records(clustered(600)))
    docs.search(clustered(1, seed=1)[0], k=3)
    assert docs._core.view.vectors.graph is None


def test_both_stores_search_through_the_graph_and_take_the_setting(address: str, password: str) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from scintirete_integrations.langchain import ScintireteVectorStore as LangChainStore
    from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaIndexStore

    name = f"g_{uuid.uuid4().hex[:8]}"
    embeddings = DeterministicFakeEmbedding(size=DIM)
    texts = [f"passage number {i}" for i in range(700)]
    with LangChainStore(
        embeddings, collection_name=name, address=address, password=password, approximate_search_from=FROM
    ) as chain:
        chain.add_texts(texts, ids=[f"t{i}" for i in range(700)])
        assert chain.similarity_search("passage number 123", k=1)[0].page_content == "passage number 123"
        assert chain._collection._core.view.vectors.graph is not None
    with LlamaIndexStore(
        name, address=address, password=password, approximate_search_from=None
    ) as index_store:
        assert index_store.collection._core.approximate_from is None
    with LlamaIndexStore(name, address=address, password=password) as default_store:
        assert default_store.collection._core.approximate_from == 50_000


@pytest.mark.parametrize("bad", [0, -5, 2.5, "50000", True])
def test_a_bad_threshold_is_refused_with_the_fix(client: ScintireteClient, bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="approximate_search_from must be a positive number"):
        open_docs(client, "never_made", approximate_search_from=bad)


def test_async_stores_on_several_event_loops_share_the_graph(address: str, password: str) -> None:
    name = f"g_{uuid.uuid4().hex[:8]}"
    vectors = clustered(900)

    async def write() -> None:
        async with AsyncScintireteClient(address, password=password) as aio:
            docs = AsyncDocumentCollection(name, aio, db=DB, approximate_search_from=FROM)
            await docs.upsert(records(vectors))

    async def read(i: int) -> str:
        async with AsyncScintireteClient(address, password=password) as aio:
            docs = AsyncDocumentCollection(name, aio, db=DB, approximate_search_from=FROM)
            hits = await asyncio.gather(*(docs.search(vectors[i + j], k=1) for j in range(5)))
            assert docs._core.view.vectors.graph is not None
            return ",".join(h[0].record.id for h in hits)

    asyncio.run(write())
    assert asyncio.run(read(10)) == "r10,r11,r12,r13,r14"
    assert asyncio.run(read(500)) == "r500,r501,r502,r503,r504"


def test_a_script_that_exits_leaves_its_graph_for_the_next_process(tmp_path: Path) -> None:
    """Exit without close(): the exit-time save builds the graph, the next process loads it."""
    data = tmp_path / "kb"
    write = textwrap.dedent(
        f"""
        import numpy as np
        from scintirete_integrations.documents import DocumentCollection, Record
        docs = DocumentCollection.connect("notes", data_dir={str(data)!r}, approximate_search_from=500)
        rng = np.random.default_rng(0)
        docs.upsert([Record(f"r{{i}}", "t", rng.random(16), {{}}) for i in range(2500)])
        """
    )
    read = textwrap.dedent(
        f"""
        import numpy as np
        from scintirete_integrations.documents import DocumentCollection
        docs = DocumentCollection.connect("notes", data_dir={str(data)!r}, approximate_search_from=500)
        rng = np.random.default_rng(0)
        first = rng.random((2500, 16))[42]
        graph = None
        hit = docs.search(first, k=1)[0].record.id
        graph = docs._core.view.vectors.graph
        print(hit, docs._core.opened_from_cache, graph is not None and not graph.building and len(graph))
        """
    )
    env = {**os.environ, "SCINTIRETE_ADDRESS": ""}
    subprocess.run([sys.executable, "-c", write], check=True, env=env, timeout=120)
    out = subprocess.run(
        [sys.executable, "-c", read], check=True, env=env, timeout=120, capture_output=True, text=True
    )
    assert out.stdout.split() == ["r42", "True", "2500"]


def test_a_writer_killed_after_saving_its_graph_leaves_a_cache_the_next_process_completes(
    tmp_path: Path,
) -> None:
    """kill -9 (no exit handlers) after a save with the graph and more writes: the next process
    opens the older cache, reads the writes since, and its graph holds exactly the records."""
    data = tmp_path / "kb"
    write = textwrap.dedent(
        f"""
        import os
        import numpy as np
        from scintirete_integrations.documents import DocumentCollection, Record
        docs = DocumentCollection.connect("notes", data_dir={str(data)!r}, approximate_search_from=500)
        vectors = np.random.default_rng(0).random((2500, 16))
        docs.upsert([Record(f"r{{i}}", "t", vectors[i], {{}}) for i in range(1500)])
        assert docs._core.save_view_cache(final=True)
        docs.upsert([Record(f"r{{i}}", "t", vectors[i], {{}}) for i in range(1500, 2500)])
        docs.upsert([Record("r7", "moved", vectors[2499] + 1.0, {{}})])
        docs.delete(["r3"])
        os._exit(0)
        """
    )
    read = textwrap.dedent(
        f"""
        import numpy as np
        from scintirete_integrations.documents import DocumentCollection
        docs = DocumentCollection.connect("notes", data_dir={str(data)!r}, approximate_search_from=500)
        vectors = np.random.default_rng(0).random((2500, 16))
        docs.search(vectors[0], k=1)
        docs._core.view.vectors.graph.wait()
        wrong = [i for i in range(2500) if i not in (3, 7) and docs.search(vectors[i], k=1)[0].record.id != f"r{{i}}"]
        moved = docs.search(vectors[2499] + 1.0, k=1)[0].record.text
        ids = {{h.record.id for h in docs.search(vectors[3], k=50)}}
        print(docs._core.opened_from_cache, docs.count(), len(docs._core.view.vectors.graph), wrong, moved, "r3" in ids)
        """
    )
    env = {**os.environ, "SCINTIRETE_ADDRESS": ""}
    subprocess.run([sys.executable, "-c", write], check=True, env=env, timeout=120)
    out = subprocess.run(
        [sys.executable, "-c", read], check=True, env=env, timeout=120, capture_output=True, text=True
    )
    assert out.stdout.split() == ["True", "2499", "2499", "[]", "moved", "False"]


# -- the vector table's keys, which the graph names vectors by


def test_row_keys_follow_their_vectors_through_updates_packing_and_adoption() -> None:
    table = VectorTable(Metric.L2)
    vectors = np.arange(3000 * 4, dtype=np.float32).reshape(3000, 4)
    table.put([f"s{i}" for i in range(3000)], vectors)
    assert table.keys.tolist() == list(range(3000))
    table.put(["s5"], vectors[:1] + 0.5)  # an update: a new row and a new key
    for i in range(0, 2000):  # more than half freed: the table packs
        table.remove(f"s{i}" if i != 5 else "s2999")
    assert len(table.rows) == 1000 and table.size < 3001  # packed on the way
    for row in table.rows.values():
        assert table._row_of_key[table.keys[row]] == row
    assert table.next_key == 3001
    assert table.rows["s5"] == table._row_of_key[3000]
    copy = VectorTable(Metric.L2)
    sids = list(table.rows)
    copy.adopt(
        sids,
        table.vectors[[table.rows[s] for s in sids]].copy(),
        table.keys[[table.rows[s] for s in sids]],
        3001,
    )
    assert copy.next_key == 3001 and copy.get("s5").tolist() == table.get("s5").tolist()
    copy.put(["new"], vectors[:1])
    assert copy.keys[copy.rows["new"]] == 3001


def test_every_record_is_found_by_its_own_vector(client: ScintireteClient) -> None:
    """Reachability: a graph built with parallel insertion once left a node no search reached."""
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}")
    vectors = np.random.default_rng(0).random((2500, 16)).astype(np.float32)  # all alike: hard for a graph
    docs.upsert(records(vectors))
    found = [docs.search(vector, k=1)[0].record.id for vector in vectors]
    assert len(graph_of(docs)) == 2500
    assert found == [f"r{i}" for i in range(2500)]


@pytest.mark.parametrize("metric", list(Metric))
def test_a_saved_graph_of_each_metric_loads_and_refuses_another_shape(metric: Metric) -> None:
    graph = graph_module.GraphIndex(metric, 8)
    vectors = np.random.default_rng(1).random((50, 8)).astype(np.float32)
    assert graph.catch_up(np.arange(50), vectors, np.ones(50, bool), 50)
    loaded = graph_module.GraphIndex.load(metric, 8, graph.save(), graph.added_below)
    assert len(loaded) == 50 and loaded.propose(vectors[7], 1).tolist() == [7]
    with pytest.raises(ValueError, match="another shape or metric"):
        graph_module.GraphIndex.load(metric, 9, graph.save(), graph.added_below)
    with pytest.raises(ValueError, match="not readable"):
        graph_module.GraphIndex.load(metric, 8, b"not a graph", 0)


def proposals_asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of proposals each later search asks the graph for, in order."""
    asked: list[int] = []
    original = graph_module.GraphIndex.propose

    def spy(self: graph_module.GraphIndex, query: np.ndarray, count: int) -> np.ndarray:
        asked.append(count)
        return original(self, query, count)

    monkeypatch.setattr(graph_module.GraphIndex, "propose", spy)
    return asked


def test_larger_collections_ask_the_graph_for_more_proposals(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}")
    vectors = clustered(1200)
    docs.upsert(records(vectors))
    asked = proposals_asked(monkeypatch)
    docs.search(vectors[0], k=10)
    monkeypatch.setattr("scintirete_integrations.documents.vectors.RECORDS_PER_PROPOSAL", 2)
    assert docs.search(vectors[0], k=10)[0].record.id == "r0"
    assert asked == [200, 600]  # at least 200; one per RECORDS_PER_PROPOSAL records


def test_a_filter_asks_the_graph_only_while_that_costs_less_than_scoring_its_rows(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proposals asked = proposals / the filter's share; at least as many as the filter's rows:
    those rows are scored instead, and the answer is exact either way."""
    docs = open_docs(client, f"g_{uuid.uuid4().hex[:8]}")
    vectors = clustered(10_000)
    docs.upsert(records(vectors))
    assert docs._core.view.vectors.ready_graph(wait=True) is not None
    asked = proposals_asked(monkeypatch)
    monkeypatch.setattr("scintirete_integrations.documents.vectors.RECORDS_PER_PROPOSAL", 2)
    half = {"half": 1}  # 5,000 rows: 200 / 0.5 = 400 proposals, not scaled by the collection's size
    query = clustered(1, seed=3)[0]
    hits = docs.search(query, k=10, filter=half)
    assert asked == [400]
    assert [h.record.id for h in hits] == [sid for sid, _ in exact(docs, query, 10, half)]
    monkeypatch.setattr("scintirete_integrations.documents.vectors.CANDIDATES", 2_500)  # 5,000 asked
    assert [h.record.id for h in docs.search(query, k=10, filter=half)] == [h.record.id for h in hits]
    assert asked == [400]  # the graph was not asked: the 5,000 rows were scored
