"""A few seconds of benchmarks/load.py: concurrent threads and asyncio tasks through the document layer.

Checks correctness only, never timing: afterwards the collection holds exactly what the
acknowledged operations imply, and every filtered search showed each worker its own latest
acknowledged writes.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from scintirete_integrations import (
    DocumentCollection,
    Record,
    ScintireteClient,
    ScintireteError,
    UnavailableError,
)
from scintirete_integrations.client import Call
from scintirete_integrations.documents import (
    OlderFormatError,
    maintenance,
    pages,
    writes,
)
from scintirete_integrations.lite import LiteServer

LOAD_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load.py"


def load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scintirete_load_benchmark", LOAD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize(
    ("independent_views", "compact_min_hidden"),
    [(True, 40), (False, 40)],
    ids=["independent-views", "shared-view-compacting"],
)
def test_mixed_concurrent_load_keeps_every_acknowledged_operation(
    independent_views: bool, compact_min_hidden: int
) -> None:
    load = load_module()
    with load.lite_process() as (address, password):
        report = load.run_load(
            address,
            password,
            seconds=2.5,
            threads=3,
            tasks=6,
            ids_per_worker=12,  # few ids per worker: the same id is rewritten and deleted often
            compact_min_hidden=compact_min_hidden,
            independent_views=independent_views,
            seed=7,
        )
    print("\n".join(report.lines()))
    total = sum(len(v) for v in report.stats.latencies.values())
    assert total > 0 and report.stats.latencies["upsert"] and report.stats.latencies["delete"]
    assert report.stats.violations == []
    assert report.mismatches == []


# -- the interleavings behind two bugs the load found, made deterministic ---------------------------

DB = "interleavings"
DIM = 4


class Stepper:
    """Drives a document-layer plan one call at a time, so a test can interleave plans exactly."""

    def __init__(self, client: ScintireteClient, plan: Any) -> None:
        self.client = client
        self.plan = plan
        self.step: Any = next(plan)
        self.result: Any = None
        self.done = False

    def call(self) -> Any:
        """Make the pending call (or calls); the plan does not see the response until deliver()."""
        if isinstance(self.step, list):
            return self.client._call_concurrently(self.step)
        try:
            return self.client._call(self.step)
        except ScintireteError as exc:
            return exc

    def deliver(self, response: Any) -> None:
        try:
            if isinstance(response, ScintireteError) and not isinstance(self.step, list):
                self.step = self.plan.throw(response)
            else:
                self.step = self.plan.send(response)
        except StopIteration as stop:
            self.done, self.result = True, stop.value

    def run_until(self, rpc: str, collection: str = "") -> None:
        """Make calls until the next one is ``rpc`` on a collection whose name contains ``collection``;
        it is not made yet."""
        while not self.done and not (
            isinstance(self.step, Call)
            and self.step.rpc == rpc
            and collection in getattr(self.step.request, "collection_name", "")
        ):
            self.deliver(self.call())

    def finish(self) -> Any:
        while not self.done:
            self.deliver(self.call())
        return self.result


@pytest.fixture
def client() -> Iterator[ScintireteClient]:
    with LiteServer(password="pw") as server, ScintireteClient(server.address, password="pw") as c:
        yield c


def unit(*values: float) -> list[float]:
    return list(np.asarray(values, np.float32) / np.linalg.norm(values))


def fresh(client: ScintireteClient, name: str) -> DocumentCollection:
    """Another store object on the collection, as another process would open it."""
    return DocumentCollection(name, client, db=DB, metric="l2")


def test_a_write_in_flight_is_invisible_until_its_page_lands(client: ScintireteClient) -> None:
    docs = fresh(client, "inflight")
    docs.upsert([Record("seed", "t", unit(1, 1, 1, 1))])
    writing = Stepper(
        client, writes.upsert_plan(docs._core, client, [Record("new", "t", unit(1, 2, 3, 4))], None)
    )
    writing.run_until("InsertVectors", "inflight.__sci_journal")  # its data vector is stored, its page not
    reader = fresh(client, "inflight")
    assert reader.get(["new"]) == []
    assert [h.record.id for h in reader.search(unit(1, 2, 3, 4), 5)] == ["seed"]  # the hit is not visible yet
    assert writing.finish() == ["new"]
    assert [h.record.id for h in reader.search(unit(1, 2, 3, 4), 5)] == ["new", "seed"]


def test_a_writer_that_died_between_numbering_and_storing_its_page_is_voided(
    client: ScintireteClient,
) -> None:
    docs = fresh(client, "halfway")
    docs.upsert([Record("seed", "t", unit(1, 1, 1, 1))])
    writing = Stepper(
        client, writes.upsert_plan(docs._core, client, [Record("late", "t", unit(1, 2, 3, 4))], None)
    )
    writing.run_until("InsertVectors", "halfway.__sci_book")  # page 2 numbered, then the writer dies
    patient = fresh(client, "halfway")
    assert patient.count() == 1  # page 2 is pending: perhaps still being written, and not acknowledged
    patient._core.refresher.grace = 0.0  # ... and now it has been pending too long
    assert [r.id for r in patient.scan()] == ["seed"]
    after = fresh(client, "halfway")  # the void mark answers at once, without a grace period
    assert [r.id for r in after.scan()] == ["seed"] and after._core.view.voided == 1


def test_a_writer_slower_than_its_deadline_writes_its_page_again(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = fresh(client, "slow")
    docs.upsert([Record("seed", "t", unit(1, 1, 1, 1))])
    clock = iter([0.0, 100.0])  # the first attempt is stored 100 s after it was numbered

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return next(clock, 200.0)

    monkeypatch.setattr(pages, "time", Clock)
    assert docs.upsert([Record("late", "t", unit(1, 2, 3, 4))]) == ["late"]
    monkeypatch.undo()
    assert client.get_collection_info(DB, "slow.__sci_journal").vector_count == 3  # seed, late twice
    reader = fresh(client, "slow")
    assert sorted(r.id for r in reader.scan()) == ["late", "seed"]
    assert reader._core.view.applied_upto == 3


def test_a_writer_that_is_always_late_acknowledges_nothing(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = fresh(client, "tooslow")
    docs.upsert([Record("seed", "t", unit(1, 1, 1, 1))])
    monkeypatch.setattr(pages, "WRITE_DEADLINE", -1.0)
    with pytest.raises(UnavailableError, match="nothing was acknowledged"):
        docs.upsert([Record("late", "t", unit(1, 2, 3, 4))])


def test_a_journal_without_its_book_is_refused_as_an_older_format(client: ScintireteClient) -> None:
    docs = fresh(client, "older")
    docs.upsert([Record("seed", "t", unit(1, 1, 1, 1))])
    client.drop_collection(DB, "older.__sci_book")  # what a collection written by 0.2 looks like
    with pytest.raises(OlderFormatError, match=r"0\.2 or older.*clear\(\)"):
        fresh(client, "older").scan()
    repairing = fresh(client, "older")  # from any process: the named call makes it usable again
    repairing.clear()
    assert repairing.count() == 0
    repairing.upsert([Record("new", "t", unit(1, 2, 3, 4))])
    assert [r.id for r in fresh(client, "older").scan()] == ["new"]


def test_a_write_into_the_old_generation_during_a_compaction_is_kept_and_found(
    client: ScintireteClient,
) -> None:
    docs = DocumentCollection("compacting", client, db=DB, metric="l2", auto_compact=False)
    docs.upsert([Record(f"r{i}", "v1", unit(1, i + 1, 2, 3)) for i in range(4)])
    docs.upsert([Record(f"r{i}", "v2", unit(3, 2, i + 1, 1)) for i in range(4)])  # 4 old versions
    compaction = Stepper(client, maintenance.compact_plan(docs._core, client, None))
    compaction.run_until("InsertVectors", "compacting.__sci_journal")  # copied; the switch page is next
    other = DocumentCollection("compacting", client, db=DB, metric="l2", auto_compact=False)
    assert other.upsert([Record("late", "written while compacting", unit(1, 1, 1, 1))]) == ["late"]
    assert compaction.finish() is True  # switched, and the old generation dropped
    reader = fresh(client, "compacting")
    assert sorted(r.id for r in reader.scan()) == ["late", "r0", "r1", "r2", "r3"]
    assert reader.search(unit(1, 1, 1, 1), 1)[0].record.id == "late"  # its vector now only in the journal
    assert reader._core.view.strays == {"late"}
    reader._core.compact_min_hidden = 0
    assert reader.compact() is True
    assert fresh(client, "compacting")._core.view.strays == set()  # the next rebuild copied it
    assert reader.search(unit(1, 1, 1, 1), 1)[0].record.id == "late"


def test_a_held_lock_or_a_failing_compaction_never_fails_a_write(
    client: ScintireteClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = DocumentCollection("busy", client, db=DB, metric="l2", compact_min_hidden=1)
    docs.upsert([Record("a", "v1", unit(1, 2, 3, 4))])
    client.create_collection(DB, "busy.__sci_lock", "l2")  # another process is compacting
    client.insert_vectors(DB, "busy.__sci_lock", [[0.0] * 8], [{"taken": time.time()}])
    assert docs.compact() is False
    client.drop_collection(DB, "busy.__sci_lock")

    def broken(*args: Any) -> Any:
        yield from ()
        raise UnavailableError("the new generation went away")

    monkeypatch.setattr(maintenance, "_checkpoint_plan", broken)
    for version in range(2, 5):  # old versions soon outnumber records: compaction is attempted
        assert docs.upsert([Record("a", f"v{version}", unit(version, 2, 3, 4))]) == ["a"]
    assert "automatic compaction of collection 'busy' was abandoned" in caplog.text
    assert [r.text for r in docs.get(["a"])] == ["v4"]
    assert "busy.__sci_lock" not in {c.name for c in client.list_collections(DB)}  # released after failing


def test_a_lock_whose_time_is_not_written_yet_is_not_broken(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = DocumentCollection("taking", client, db=DB, metric="l2", auto_compact=False)
    docs.upsert([Record("a", "v1", unit(1, 2, 3, 4))])
    client.create_collection(DB, "taking.__sci_lock", "l2")  # another store is taking it: no time yet
    assert docs.compact() is False
    assert docs.compact() is False
    assert "taking.__sci_lock" in {c.name for c in client.list_collections(DB)}
    monkeypatch.setattr(maintenance, "LOCK_TTL", 0.0)  # ... and it has shown no time for too long
    assert docs.compact() is True
    assert "taking.__sci_lock" not in {c.name for c in client.list_collections(DB)}


def test_compaction_does_not_wait_for_a_moment_without_writes_in_flight(client: ScintireteClient) -> None:
    docs = DocumentCollection("steady", client, db=DB, metric="l2", auto_compact=False)
    for version in range(3):
        docs.upsert([Record(f"r{i}", f"v{version}", unit(1, i + 1, 2, version + 1)) for i in range(4)])
    writing = Stepper(
        client, writes.upsert_plan(docs._core, client, [Record("late", "t", unit(4, 3, 2, 1))], None)
    )
    writing.run_until("InsertVectors", "steady.__sci_book")  # its page is numbered, not yet readable
    compacting = fresh(client, "steady")
    assert compacting.count() == 4 and compacting._core.view.pending  # the page is in flight
    docs.upsert([Record("r0", "newer", unit(9, 1, 1, 1))])  # and a later page is readable already
    assert compacting.compact() is True
    assert compacting._core.view.switches == 1
    assert writing.finish() == ["late"]
    expected = [("late", "t"), ("r0", "newer"), ("r1", "v2"), ("r2", "v2"), ("r3", "v2")]
    for store in (compacting, docs, fresh(client, "steady")):  # old views and one from the checkpoint
        assert sorted((r.id, r.text) for r in store.scan()) == expected
        assert store.search(unit(4, 3, 2, 1), 1)[0].record.id == "late"  # a stray: its generation is gone
        assert store.search(unit(9, 1, 1, 1), 1)[0].record.text == "newer"


def test_a_compaction_longer_than_the_lock_ttl_renews_its_lock(
    client: ScintireteClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "LOCK_TTL", 2.0)
    docs = DocumentCollection("long", client, db=DB, metric="l2", auto_compact=False)
    for version in range(2):
        docs.upsert([Record(f"r{i}", f"v{version}", unit(1, i + 1, 2, version + 1)) for i in range(300)])
    compaction = Stepper(client, maintenance.compact_plan(docs._core, client, None))
    compaction.run_until("InsertVectors", ".__sci_g")  # copying the first batch of vectors ...
    time.sleep(2.2)  # ... which takes longer than the lock may live unrenewed
    compaction.deliver(compaction.call())
    compaction.run_until("InsertVectors", ".__sci_lock")  # so the holder writes its time again
    compaction.deliver(compaction.call())
    assert fresh(client, "long").compact() is False  # another store sees the lock alive
    assert compaction.finish() is True
    reader = fresh(client, "long")
    assert reader.count() == 300 and reader._core.view.switches == 1


def test_a_compaction_whose_lock_was_taken_over_writes_no_marker(client: ScintireteClient) -> None:
    docs = DocumentCollection("taken", client, db=DB, metric="l2", auto_compact=False)
    for version in range(2):
        docs.upsert([Record(f"r{i}", f"v{version}", unit(1, i + 1, 2, version + 1)) for i in range(5)])
    compaction = Stepper(client, maintenance.compact_plan(docs._core, client, None))
    compaction.run_until("Search", ".__sci_lock")  # parts written; the lock is checked before the marker
    client.drop_collection(DB, "taken.__sci_lock")  # meanwhile another store broke the lock and took it
    client.create_collection(DB, "taken.__sci_lock", "l2")
    client.insert_vectors(DB, "taken.__sci_lock", [[0.0] * 8], [{"taken": time.time(), "holder": "other"}])
    assert compaction.finish() is False
    assert "taken.__sci_lock" in {c.name for c in client.list_collections(DB)}  # the other's lock is kept
    reader = fresh(client, "taken")
    assert sorted((r.id, r.text) for r in reader.scan()) == [(f"r{i}", "v1") for i in range(5)]
    assert reader._core.view.switches == 0  # no marker: searches stay on the old generation
    assert reader.search(unit(1, 3, 2, 2), 1)[0].record.id == "r2"


class CountingClient(ScintireteClient):
    """Counts the searches a store makes (look-ups of pages included)."""

    searches = 0

    def _call(self, call: Any) -> Any:
        self.searches += call.rpc == "Search"
        return super()._call(call)

    def _call_concurrently(self, calls: list[Any]) -> list[Any]:
        self.searches += sum(call.rpc == "Search" for call in calls)
        return super()._call_concurrently(calls)


def test_a_new_store_reads_from_the_newest_checkpoint(client: ScintireteClient) -> None:
    docs = DocumentCollection("history", client, db=DB, metric="l2", auto_compact=False)
    for version in range(60):  # 60 pages, each restating the same 5 records
        docs.upsert([Record(f"r{i}", f"v{version}", unit(1, i + 1, 2, version + 1)) for i in range(5)])
    assert docs.compact() is True
    address, password = client.address, client._settings()["password"]
    with CountingClient(address, password=password) as counting:
        reader = DocumentCollection("history", counting, db=DB, metric="l2")
        assert sorted((r.id, r.text) for r in reader.scan()) == [(f"r{i}", "v59") for i in range(5)]
        assert counting.searches <= 20  # the checkpoint and what follows, not all 62 pages
        docs.upsert([Record("r0", "after", unit(9, 9, 9, 9))])
        counting.searches = 0
        assert [r.text for r in reader.get(["r0"])] == ["after"]
        assert counting.searches == 1  # one look-up for the one new page


def test_a_view_another_thread_began_from_page_one_does_not_skip_to_a_checkpoint(
    client: ScintireteClient,
) -> None:
    docs = DocumentCollection("began", client, db=DB, metric="l2", auto_compact=False)
    docs.upsert([Record("gone", "t", unit(1, 1, 1, 1))])  # page 1
    page_one = client._run(pages.read_pages_plan(client, docs._core.names, [0], [1], None))[0][1]
    docs.delete(["gone"])  # page 2
    docs.upsert([Record("kept", "t", unit(1, 2, 3, 4))])
    assert docs.compact() is True  # a checkpoint restating pages 1 to 3, in a new book
    reader = fresh(client, "began")
    core = reader._core
    refresh = Stepper(client, core.refresher.refresh_plan(client, core.view, None))
    refresh.run_until("Search", "began.__sci_index")  # this thread looks the checkpoint up ...
    with core.lock:
        core.view.apply(1, page_one)  # ... while another, reading from page 1, has applied page 1
    refresh.finish()
    assert [r.id for r in reader.scan()] == ["kept"]  # page 2's delete was not skipped


def test_checkpoint_parts_never_undo_a_newer_write(client: ScintireteClient) -> None:
    docs = DocumentCollection("parts", client, db=DB, metric="l2", auto_compact=False)
    docs.upsert([Record(f"r{i}", "v1", unit(1, i + 1, 2, 3)) for i in range(4)])
    reader = fresh(client, "parts")
    assert reader.count() == 4
    compaction = Stepper(client, maintenance.compact_plan(docs._core, client, None))
    compaction.run_until("InsertVectors", "parts.__sci_journal")  # vectors copied; the parts are next
    other = fresh(client, "parts")
    other.upsert([Record("r0", "newer", unit(4, 3, 2, 1))])
    other.delete(["r1"])
    assert compaction.finish() is True
    for store in (reader, fresh(client, "parts"), docs):  # an old view, a new one, the compacting store
        assert sorted((r.id, r.text) for r in store.scan()) == [("r0", "newer"), ("r2", "v1"), ("r3", "v1")]
        assert store.search(unit(4, 3, 2, 1), 1)[0].record.text == "newer"


def test_a_checkpoint_without_its_marker_is_read_as_ordinary_pages(client: ScintireteClient) -> None:
    docs = DocumentCollection("nomarker", client, db=DB, metric="l2", auto_compact=False)
    for version in range(20):
        docs.upsert([Record(f"r{i}", f"v{version}", unit(1, i + 1, 2, version + 1)) for i in range(3)])
    compaction = Stepper(client, maintenance.compact_plan(docs._core, client, None))
    compaction.run_until("InsertVectors", "nomarker.__sci_journal")
    parts_written = 0
    while parts_written < 2:  # the one part, with its mirror copy: then the process dies
        if isinstance(compaction.step, Call) and compaction.step.rpc == "InsertVectors":
            parts_written += 1
        compaction.deliver(compaction.call())
    reader = fresh(client, "nomarker")
    assert sorted((r.id, r.text) for r in reader.scan()) == [(f"r{i}", "v19") for i in range(3)]
    assert reader.search(unit(1, 1, 2, 20), 1)[0].record.text == "v19"  # a stray now: scored on the client
    maintenance.LOCK_TTL, ttl = 0.0, maintenance.LOCK_TTL
    try:
        assert reader.compact() is True
    finally:
        maintenance.LOCK_TTL = ttl
    assert sorted((r.id, r.text) for r in fresh(client, "nomarker").scan()) == [
        (f"r{i}", "v19") for i in range(3)
    ]


def test_a_wrong_or_missing_checkpoint_index_only_costs_reading_more(client: ScintireteClient) -> None:
    docs = DocumentCollection("index", client, db=DB, metric="l2", auto_compact=False)
    for version in range(20):
        docs.upsert([Record(f"r{i}", f"v{version}", unit(1, i + 1, 2, version + 1)) for i in range(3)])
    docs.delete(["r2"])
    expected = [("r0", "v19"), ("r1", "v19")]
    # An entry naming pages that are no checkpoint: the reader notices and reads every page.
    client.create_collection(DB, "index.__sci_index", "l2")
    client.insert_vectors(DB, "index.__sci_index", [[0.0] * 8 + [1, 0, 1, 0, 15, 0, 2, 0]])
    assert sorted((r.id, r.text) for r in fresh(client, "index").scan()) == expected
    assert docs.compact() is True
    assert sorted((r.id, r.text) for r in fresh(client, "index").scan()) == expected
    client.drop_collection(DB, "index.__sci_index")  # no index at all: from page 1
    assert sorted((r.id, r.text) for r in fresh(client, "index").scan()) == expected


def test_readers_never_see_a_half_built_view_while_a_dropped_collection_is_read_anew(
    client: ScintireteClient,
) -> None:
    docs = fresh(client, "anew")
    docs.upsert([Record(f"old{i}", "t", unit(1, 1, 1, i + 1)) for i in range(3)])
    docs.upsert([Record("old3", "t", unit(1, 2, 3, 4))])
    other = fresh(client, "anew")
    other.drop()
    other.upsert([Record("new", "t", unit(4, 3, 2, 1))])
    core = docs._core
    refresh = Stepper(client, core.refresher.refresh_plan(client, core.view, None))
    while not isinstance(refresh.step, list):  # until the new journal's pages are being looked up
        refresh.deliver(refresh.call())
    assert sorted(core.view.records) == ["old0", "old1", "old2", "old3"]  # other threads: the old, whole
    refresh.finish()
    assert sorted(core.view.records) == ["new"]


def test_a_collection_written_without_the_layer_is_refused_and_clear_makes_it_usable(
    client: ScintireteClient,
) -> None:
    client.ensure_collection(DB, "legacy", "l2")
    client.insert_vectors(DB, "legacy", [unit(1, 2, 3, 4)], [{"_sci_id": "a", "text": "as 0.1 stored it"}])
    with pytest.raises(ScintireteError, match=r"no journal.*clear\(\)"):
        fresh(client, "legacy").count()
    fresh(client, "legacy").clear()
    assert fresh(client, "legacy").count() == 0
    fresh(client, "legacy").upsert([Record("b", "t", unit(4, 3, 2, 1))])
    assert [r.id for r in fresh(client, "legacy").scan()] == ["b"]
