"""Storage tracks the live data: checkpoints move to a new book and drop the old one.

Only DropCollection frees space on a v1 server. Each checkpoint restates the visible records
in the next book generation, seals the old book (writers that find it sealed store their page
in the new one too), carries the pages written since it began, writes its marker, and drops
the old book. These tests rewrite collections many times, interleave writers and readers with
each step, and abandon a checkpoint after each step (a crash).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from test_documents import _drive_until
from test_load import Stepper

from scintirete_integrations import ScintireteClient
from scintirete_integrations.client import Call
from scintirete_integrations.documents import DocumentCollection, Record, maintenance, writes

DB = "rotation"


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password, timeout=60) as c:
        yield c


WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
]


def batch(n: int, version: int, start: int = 0) -> list[Record]:
    """Records with about 1 KB of text each, as a chunked document would have."""
    rng = np.random.default_rng(version * 7919 + start)
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    return [
        Record(
            f"r{start + i}",
            f"text {start + i} version {version} " + " ".join(rng.choice(WORDS, 160)),
            vectors[i],
            {"v": version},
        )
        for i in range(n)
    ]


def stored_floats(client: ScintireteClient, name: str) -> int:
    """Every float the server holds for a document collection: its share of a snapshot, roughly."""
    return sum(
        (info.vector_count + info.deleted_count) * info.dimension
        for info in client.list_collections(DB)
        if info.name == name or info.name.startswith(name + ".__sci_")
    )


def books(client: ScintireteClient, name: str) -> list[str]:
    return sorted(
        info.name
        for info in client.list_collections(DB)
        if ".__sci_book" in info.name and info.name.startswith(name)
    )


def test_rewriting_a_collection_many_times_keeps_its_storage_flat(client: ScintireteClient) -> None:
    name = f"flat-{uuid.uuid4().hex[:6]}"
    docs = DocumentCollection(name, client, db=DB, metric="l2", compact_min_hidden=100)
    try:
        docs.upsert(batch(600, 0))
        first = stored_floats(client, name)
        sizes = []
        for version in range(1, 11):
            docs.upsert(batch(600, version))
            docs.delete([f"r{i}" for i in range(version, 200, 50)])  # some deletes and re-adds
            docs.upsert(batch(4, version, start=version))
            sizes.append(stored_floats(client, name))
        assert max(sizes) <= 1.3 * first, (first, sizes)
        assert len(books(client, name)) == 1  # every older book was dropped
        reader = DocumentCollection(name, client, db=DB, metric="l2")
        got = {r.id: r for r in reader.scan()}
        deleted = {f"r{i}" for i in range(10, 200, 50)} - {f"r{10 + j}" for j in range(4)}
        assert set(got) == {f"r{i}" for i in range(600)} - deleted
        assert all(
            r.metadata == {"v": 10} for sid, r in got.items() if sid not in {"r10", "r11", "r12", "r13"}
        )
    finally:
        docs.drop()


def test_a_checkpoint_that_keeps_the_data_collection_counts_no_new_vectors_in_it(
    client: ScintireteClient,
) -> None:
    """Its parts restate records where they are: counted as new vectors, the next write would rebuild."""
    name = f"keep-{uuid.uuid4().hex[:6]}"
    docs = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
    try:
        docs.upsert(batch(300, 0))
        docs.delete([f"r{i}" for i in range(0, 300, 3)])
        stale_before = maintenance.stale_vectors(docs._core)
        assert client._run(maintenance.compact_plan(docs._core, client, 60, rebuild=False))
        assert maintenance.stale_vectors(docs._core) == stale_before == (100, 200)
        fresh = DocumentCollection(name, client, db=DB, metric="l2")
        assert {r.id for r in fresh.scan()} == {f"r{i}" for i in range(300) if i % 3}
        assert fresh._core.view.records == docs._core.view.records
    finally:
        docs.drop()


def test_a_writer_whose_book_is_sealed_mid_write_stores_its_page_in_the_next(
    client: ScintireteClient,
) -> None:
    name = f"sealed-{uuid.uuid4().hex[:6]}"
    docs = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
    try:
        docs.upsert(batch(20, 0))
        docs.upsert(batch(20, 1))
        compaction = Stepper(client, maintenance.compact_plan(docs._core, client, None, rebuild=False))
        compaction.run_until("CreateCollection", f"{name}.__sci_seal.0")  # parts written; the seal is next
        compaction.deliver(compaction.call())  # the old book is sealed now
        other = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
        assert other.upsert([Record("late", "after the seal", np.ones(8))]) == ["late"]
        assert compaction.finish() is True  # carries, marks, drops the sealed book
        assert books(client, name) == [f"{name}.__sci_book.1"]
        for store in (docs, other, DocumentCollection(name, client, db=DB, metric="l2")):
            assert "late" in {r.id for r in store.scan()} and store.count() == 21
    finally:
        docs.drop()


def test_a_writer_whose_book_was_dropped_before_it_stored_its_page_stores_it_in_the_newest(
    client: ScintireteClient,
) -> None:
    name = f"dropped-{uuid.uuid4().hex[:6]}"
    docs = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
    try:
        docs.upsert(batch(20, 0))
        docs.upsert(batch(20, 1))
        writer = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
        assert writer.count() == 20
        writing = Stepper(
            client, writes.upsert_plan(writer._core, client, [Record("late", "t", np.ones(8))], None)
        )
        writing.run_until("InsertVectors", f"{name}.__sci_book")  # numbered; its book is about to go
        assert docs.compact() is True  # the writer's page is in flight: not carried
        assert writing.finish() == ["late"]
        fresh = DocumentCollection(name, client, db=DB, metric="l2")
        assert "late" in {r.id for r in fresh.scan()} and fresh.count() == 21
    finally:
        docs.drop()


def test_a_reader_that_lags_behind_a_checkpoint_reads_anew_and_resurrects_nothing(
    client: ScintireteClient,
) -> None:
    name = f"lag-{uuid.uuid4().hex[:6]}"
    docs = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
    try:
        docs.upsert(batch(20, 0))
        reader = DocumentCollection(name, client, db=DB, metric="l2")
        assert reader.count() == 20
        docs.delete(["r0", "r1"])
        docs.upsert(batch(3, 5, start=100))
        assert docs.compact() is True  # the pages the reader has not seen are in a dropped book
        got = {r.id for r in reader.scan()}
        assert got == {f"r{i}" for i in range(2, 20)} | {"r100", "r101", "r102"}
    finally:
        docs.drop()


def _after(first: Callable[[Call], bool], then: Callable[[Call], bool]) -> Callable[[Call], bool]:
    """A predicate true at the first call matching ``then`` once a call matched ``first``."""
    seen = [False]

    def check(call: Call) -> bool:
        if seen[0] and then(call):
            return True
        seen[0] = seen[0] or first(call)
        return False

    return check


def _rpc(rpc: str, collection: str = "") -> Callable[[Call], bool]:
    return lambda call: call.rpc == rpc and getattr(call.request, "collection_name", "").endswith(collection)


CRASH_POINTS: dict[str, Callable[[], Callable[[Call], bool]]] = {
    "new book created": lambda: _after(_rpc("CreateCollection", ".__sci_book.1"), _rpc("InsertVectors")),
    "parts written, before the seal": lambda: _rpc("CreateCollection", ".__sci_seal.0"),
    "sealed, before the carry": lambda: _after(
        _rpc("CreateCollection", ".__sci_seal.0"), _rpc("GetCollectionInfo", ".__sci_journal")
    ),
    "before the marker": lambda: _rpc("Search", ".__sci_lock"),
    "before the drops": lambda: _rpc("ListCollections"),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_a_checkpoint_abandoned_at_any_step_loses_nothing_and_the_next_one_finishes(
    client: ScintireteClient, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"crash-{uuid.uuid4().hex[:6]}"
    docs = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
    expected: dict[str, Any] = {}
    try:
        for version in range(3):
            records = batch(30, version)
            docs.upsert(records)
            expected |= {r.id: r.text for r in records}
        plan = maintenance.compact_plan(docs._core, client, None, rebuild=True)
        _drive_until(client, plan, CRASH_POINTS[point]())
        late = batch(2, 9, start=500)
        writer = DocumentCollection(name, client, db=DB, metric="l2", auto_compact=False)
        writer.upsert(late)  # a write after the crash, into whichever book is current
        expected |= {r.id: r.text for r in late}
        for store in (docs, writer, DocumentCollection(name, client, db=DB, metric="l2")):
            assert {r.id: r.text for r in store.scan()} == expected
            assert store.search(late[0].vector, 1)[0].record.id == late[0].id  # type: ignore[arg-type]
        monkeypatch.setattr(maintenance, "LOCK_TTL", 0.0)  # the dead checkpoint's lock is broken
        assert writer.compact() is True
        assert len(books(client, name)) == 1
        assert {r.id: r.text for r in DocumentCollection(name, client, db=DB, metric="l2").scan()} == expected
    finally:
        docs.drop()
