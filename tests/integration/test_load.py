"""A few seconds of benchmarks/load.py: concurrent threads and asyncio tasks through the document layer.

Checks correctness only, never timing: afterwards the collection holds exactly what the
acknowledged operations imply, and every filtered search showed each worker its own latest
acknowledged writes.
"""

from __future__ import annotations

import importlib.util
import sys
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
    [(True, 0), (False, 40)],
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

    def run_until(self, rpc: str, collection: str | None = None) -> None:
        """Make calls until the next one is ``rpc`` (on ``collection``, if given); it is not made yet."""
        while not self.done and not (
            isinstance(self.step, Call)
            and self.step.rpc == rpc
            and collection in (None, getattr(self.step.request, "collection_name", None))
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


def test_a_full_scan_overtaken_by_a_write_does_not_lose_records(client: ScintireteClient) -> None:
    """A rescan asked for exactly the live count; a write landing before it pushed a record out."""
    docs = DocumentCollection("scan", client, db=DB, metric="l2")
    far = Record("far", "farthest from the scan's probe", [-9.0] * DIM)
    docs.upsert([Record(f"r{i}", "near", unit(1, i + 1, 1, 1)) for i in range(5)] + [far])
    core = docs._core
    core._view = None  # as in a fresh process
    deleting = Stepper(client, core.delete_plan(client, ["far"], None))
    deleting.run_until("Search")  # it has the counters; the scan is next
    other_writer = DocumentCollection("scan", client, db=DB, metric="l2")
    other_writer.upsert([Record("near", "exactly at the scan's probe", [0.5] * DIM)])
    assert deleting.finish() == 1  # the delete saw "far" and wrote its tombstone
    assert [r.id for r in DocumentCollection("scan", client, db=DB, metric="l2").scan()] == [
        *(f"r{i}" for i in range(5)),
        "near",
    ]


def test_equal_counters_after_a_concurrent_write_are_not_taken_for_a_current_view(
    client: ScintireteClient,
) -> None:
    """A writer counting its own vector into a view that misses another's once made totals match."""
    docs = DocumentCollection("counts", client, db=DB, metric="l2")
    docs.upsert([Record("seed", "t", unit(1, 1, 1, 1))])
    core = docs._core
    writer_a = Stepper(client, core.upsert_plan(client, [Record("a", "t", unit(1, 2, 3, 4))], None))
    writer_a.run_until("InsertVectors")  # A holds the current view
    core._view = None
    assert docs.count() == 1  # a reader rescans: a new view, before A writes
    writer_b = Stepper(client, core.upsert_plan(client, [Record("b", "t", unit(4, 3, 2, 1))], None))
    writer_b.run_until("InsertVectors")  # B holds the new view
    assert writer_a.finish() == ["a"]  # acknowledged (A counted it into its own, older view)
    deleting = Stepper(client, core.delete_plan(client, ["a"], None))
    counters = deleting.call()  # the reader's GetCollectionInfo: "seed" and "a"
    assert writer_b.finish() == ["b"]  # B counts "b" into the new view: the same total
    deleting.deliver(counters)
    assert deleting.finish() == 1  # "a" was found and deleted
    assert [r.id for r in DocumentCollection("counts", client, db=DB, metric="l2").scan()] == ["seed", "b"]


def test_a_write_during_a_compaction_is_refused_not_lost(client: ScintireteClient) -> None:
    """A compaction rebuilds the collection; a write that landed meanwhile was once dropped with it."""
    docs = DocumentCollection("compacting", client, db=DB, metric="l2", auto_compact=False)
    docs.upsert([Record(f"r{i}", "v1", unit(1, i + 1, 2, 3)) for i in range(4)])
    docs.upsert([Record(f"r{i}", "v2", unit(3, 2, i + 1, 1)) for i in range(4)])  # 4 hidden versions
    compaction = Stepper(client, docs._core.compact_plan(client, None))
    compaction.run_until("DropCollection", "compacting")  # committed; about to replace the collection
    late = Record("late", "written while compacting", unit(1, 1, 1, 1))
    with pytest.raises(UnavailableError, match="being compacted; try again"):
        docs.upsert([late])
    with pytest.raises(UnavailableError, match="being compacted"):
        docs.search(unit(1, 1, 1, 1), 2)
    assert compaction.finish() is True
    assert docs.upsert([late]) == ["late"]
    assert sorted(r.id for r in DocumentCollection("compacting", client, db=DB, metric="l2").scan()) == [
        "late", "r0", "r1", "r2", "r3",
    ]  # fmt: skip
    assert client.get_collection_info(DB, "compacting").total_inserted == 5  # rebuilt: no hidden versions


def test_compaction_waits_for_writes_in_flight_and_never_fails_the_write_that_asked(
    client: ScintireteClient, caplog: pytest.LogCaptureFixture
) -> None:
    docs = DocumentCollection("busy", client, db=DB, metric="l2", compact_min_hidden=1)
    docs.upsert([Record("a", "v1", unit(1, 2, 3, 4))])
    writing = Stepper(client, docs._core.upsert_plan(client, [Record("b", "t", unit(4, 3, 2, 1))], None))
    writing.run_until("InsertVectors")
    stored = writing.call()  # b is stored; its plan has not seen the response yet
    assert docs.compact() is False  # not while another write of this process is in flight
    writing.deliver(stored)
    assert writing.finish() == ["b"]

    def broken(client: Any, timeout: Any) -> Any:
        yield from ()
        raise UnavailableError("the staging collection went away")

    docs._core._compact_plan = broken  # type: ignore[method-assign]
    for version in range(2, 5):  # the last one leaves more hidden versions than records: compaction
        assert docs.upsert([Record("a", f"v{version}", unit(version, 2, 3, 4))]) == ["a"]
    assert "automatic compaction of collection 'busy' was abandoned" in caplog.text
    assert [r.text for r in docs.get(["a"])] == ["v4"]
