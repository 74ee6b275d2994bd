"""Acknowledged means durable across a restart of a server that persists like an unmodified one.

Lite with ``persistence="server"`` logs metadata as ``{}``, keeps the log's last bytes in a
4 KB buffer that a kill loses, and does not snapshot when stopped: exactly what the real
server does. Every write the layer acknowledged must be back after a crash or a stop, with
its exact text and metadata, with or without a snapshot in between, and no deleted record
may come back. Each crash point below is one parametrisation.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_load import Stepper

from scintirete_integrations import ScintireteClient
from scintirete_integrations.documents import DocumentCollection, Record, maintenance, writes
from scintirete_integrations.lite import LiteServer, ServerPersistence

PASSWORD = "pw"
DB = "restarts"
QUIET = ServerPersistence(log_flush_interval=None)  # only the writes themselves flush the buffer


def records(n: int, version: int = 0, start: int = 0) -> list[Record]:
    rng = np.random.default_rng(version * 1000 + start)
    vectors = rng.standard_normal((n, 16)).astype(np.float32)
    return [
        Record(
            f"r{start + i}",
            f"text {start + i} v{version} ✓",
            vectors[i],
            {"i": start + i, "f": (start + i) / 3, "ok": i % 2 == 0, "none": None, "nested": {"v": version}},
            group=f"g{i % 3}",
        )
        for i in range(n)
    ]


def expected_after(acknowledged: dict[str, Record | None]) -> dict[str, Record]:
    return {sid: r for sid, r in acknowledged.items() if r is not None}


def check(client: ScintireteClient, name: str, acknowledged: dict[str, Record | None]) -> None:
    """A new store reads exactly what was acknowledged, by get, scan and both search paths."""
    want = expected_after(acknowledged)
    for limit in (20_000, 0):  # exact on the client, and the server's index
        docs = DocumentCollection(name, client, db=DB, metric="l2", exact_search_limit=limit)
        got = {r.id: r for r in docs.get(list(acknowledged))}
        assert set(got) == set(want)  # nothing lost, nothing deleted back
        for sid, record in want.items():
            assert (got[sid].text, got[sid].metadata, got[sid].group) == (
                record.text,
                record.metadata,
                record.group,
            )
        assert docs.count() == len(want)
        probe = next(iter(want.values()))
        assert docs.search(probe.vector, k=1)[0].record.id == probe.id  # type: ignore[arg-type]


def restart(server: LiteServer, how: str, data_dir: Path) -> LiteServer:
    if how == "kill":
        server.crash()
    else:
        server.stop()  # SIGTERM: flushes the log, no snapshot
    return LiteServer(data_dir, password=PASSWORD, persistence=QUIET).start()


@pytest.mark.parametrize("how", ["kill", "stop"])
@pytest.mark.parametrize("snapshot", ["none", "after-first-writes"])
def test_every_acknowledged_write_survives_a_restart(tmp_path: Path, how: str, snapshot: str) -> None:
    server = LiteServer(tmp_path, password=PASSWORD, persistence=QUIET).start()
    name = f"c-{uuid.uuid4().hex[:6]}"
    acknowledged: dict[str, Record | None] = {}
    try:
        with ScintireteClient(server.address, password=PASSWORD) as client:
            docs = DocumentCollection(name, client, db=DB, metric="l2")
            first = records(60)
            docs.upsert(first)
            acknowledged |= {r.id: r for r in first}
            if snapshot != "none":
                client.save()
            changed = records(20, version=1)
            docs.upsert(changed)
            acknowledged |= {r.id: r for r in changed}
            docs.delete([f"r{i}" for i in range(40, 50)])
            acknowledged |= {f"r{i}": None for i in range(40, 50)}
            one = records(1, version=2, start=99)  # a small last write: its page still flushes itself
            docs.upsert(one)
            acknowledged |= {r.id: r for r in one}
        server = restart(server, how, tmp_path)
        with ScintireteClient(server.address, password=PASSWORD) as client:
            check(client, name, acknowledged)
            docs = DocumentCollection(name, client, db=DB, metric="l2")
            more = records(5, version=3, start=200)  # and the collection takes writes again
            docs.upsert(more)
            acknowledged |= {r.id: r for r in more}
            check(client, name, acknowledged)
    finally:
        server.stop()


def test_a_kill_between_numbering_and_storing_a_page_loses_only_that_unacknowledged_write(
    tmp_path: Path,
) -> None:
    server = LiteServer(tmp_path, password=PASSWORD, persistence=QUIET).start()
    try:
        with ScintireteClient(server.address, password=PASSWORD) as client:
            docs = DocumentCollection("mid", client, db=DB, metric="l2")
            kept = records(10)
            docs.upsert(kept)
            writing = Stepper(client, writes.upsert_plan(docs._core, client, records(3, 1, 50), None))
            writing.run_until("InsertVectors", "mid.__sci_book")  # numbered, not stored: never acknowledged
        server = restart(server, "kill", tmp_path)
        with ScintireteClient(server.address, password=PASSWORD) as client:
            acknowledged: dict[str, Record | None] = {r.id: r for r in kept}
            acknowledged |= dict.fromkeys(("r50", "r51", "r52"))
            check(client, "mid", acknowledged)
            reader = DocumentCollection("mid", client, db=DB, metric="l2")
            reader._core.refresher.grace = 0.0
            assert reader.count() == 10
            later = records(2, version=4, start=70)
            reader.upsert(later)
            check(client, "mid", acknowledged | {r.id: r for r in later})
    finally:
        server.stop()


# Where a compaction is when the server goes down. Its marker and drops are small commands: a
# kill loses them with the log's buffered tail, so "after the marker" and "finished" also
# stand for a checkpoint whose last steps the restart forgot (its new book is durable).
COMPACTION_POINTS = {
    "writing the parts": ("InsertVectors", "comp.__sci_book"),
    "before the marker": ("InsertVectors", "comp.__sci_index"),
    "after the marker": ("DropCollection", "comp"),
    "finished": ("", ""),
}


@pytest.mark.parametrize("point", list(COMPACTION_POINTS))
@pytest.mark.parametrize("how", ["kill", "stop"])
def test_a_restart_in_the_middle_of_a_compaction_loses_nothing(
    tmp_path: Path, how: str, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = LiteServer(tmp_path, password=PASSWORD, persistence=QUIET).start()
    acknowledged: dict[str, Any] = {}
    try:
        with ScintireteClient(server.address, password=PASSWORD) as client:
            docs = DocumentCollection("comp", client, db=DB, metric="l2", auto_compact=False)
            for version in range(3):
                batch = records(30, version=version)
                docs.upsert(batch)
                acknowledged |= {r.id: r for r in batch}
            compaction = Stepper(client, maintenance.compact_plan(docs._core, client, None))
            rpc, collection = COMPACTION_POINTS[point]
            if rpc:
                compaction.run_until(rpc, collection)
                assert not compaction.done
            else:
                assert compaction.finish() is True
        server = restart(server, how, tmp_path)
        with ScintireteClient(server.address, password=PASSWORD) as client:
            check(client, "comp", acknowledged)
            writer = DocumentCollection("comp", client, db=DB, metric="l2")
            late = records(3, version=9, start=100)
            writer.upsert(late)  # writable after the restart, and the next compaction finishes
            acknowledged |= {r.id: r for r in late}
            # The dead compaction's lock lost its time with the restart: it is broken after
            # LOCK_TTL of being seen so, shortened here.
            monkeypatch.setattr(maintenance, "LOCK_TTL", 0.0)
            assert writer.compact() is True
            check(client, "comp", acknowledged)
    finally:
        server.stop()
