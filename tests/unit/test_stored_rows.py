"""Snapshot format 3: a collection's rows mapped from the snapshot, written into their room, grown past it."""

from __future__ import annotations

import json
import mmap
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_storage import state

from scintirete_integrations.lite import stored_rows
from scintirete_integrations.lite.engine import Engine
from scintirete_integrations.lite.log_records import StoredRows, encode_record, frame, record_from
from scintirete_integrations.models import Metric

WIDE = 80  # an L2 collection this wide keeps its leading columns apart (index/exact.py)


def _mapped(array: np.ndarray[Any, Any]) -> bool:
    base: object = array
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return True
        base = base.base
    return isinstance(base, mmap.mmap)


def _saved(data_dir: Path, rows: int = 300) -> dict[str, object]:
    """A directory of three collections whose state a snapshot holds; returns that state."""
    engine = Engine.open(str(data_dir))
    engine.create_database("db")
    engine.create_collection("db", "wide", Metric.L2)
    engine.create_collection("db", "narrow", Metric.COSINE)
    rng = np.random.default_rng(7)
    engine.insert(
        "db", "wide", rng.normal(size=(rows, WIDE)).astype(np.float32), [b"w%d" % i for i in range(rows)]
    )
    engine.insert("db", "narrow", rng.normal(size=(rows, 4)).astype(np.float32))
    engine.delete("db", "wide", [1, 5, 9])
    engine.create_collection("db", "empty", Metric.INNER_PRODUCT)
    before = state(engine)
    engine.save()
    engine.close()
    return before


def _state_after_reopening(data_dir: Path) -> dict[str, object]:
    reopened = Engine.open(str(data_dir))
    try:
        return state(reopened)
    finally:
        reopened.close()


def test_an_opened_snapshot_maps_its_vectors_with_room_to_grow(tmp_path: Path) -> None:
    before = _saved(tmp_path)
    snapshot = (tmp_path / "snapshot.jsonl").read_bytes()
    assert snapshot.count(b'"op":"rows"') == 2  # the empty collection has no rows record
    again = Engine.open(str(tmp_path))
    try:
        assert state(again) == before
        wide = again._collection("db", "wide")
        assert _mapped(wide.vectors)
        assert (wide.size, len(wide.vectors)) == (297, 297 + stored_rows.spare_rows(297))
        assert wide.prefix is not None and np.array_equal(wide.prefix[:297], wide.vectors[:297, :16])
        assert again._collection("db", "narrow").metadata[:2] == [b"", b""]
        # Ids continue where they stopped, deleted ones included.
        assert again.insert("db", "wide", np.ones((1, WIDE), np.float32)) == [301]
    finally:
        again.close()


def test_writes_after_opening_go_into_the_room_and_never_into_the_file(tmp_path: Path) -> None:
    _saved(tmp_path)
    snapshot = tmp_path / "snapshot.jsonl"
    saved = snapshot.read_bytes()
    again = Engine.open(str(tmp_path))
    vectors = again._collection("db", "wide").vectors
    again.insert("db", "wide", np.full((40, WIDE), 2.5, np.float32), [b"late"] * 40)
    again.delete("db", "wide", [2, 3])
    assert again._collection("db", "wide").vectors is vectors  # no copy: the room took them
    after = state(again)
    again.close()
    assert snapshot.read_bytes() == saved
    assert _state_after_reopening(tmp_path) == after  # the snapshot plus the log of those writes


def test_a_collection_that_outgrows_its_room_is_copied_once_and_loses_nothing(tmp_path: Path) -> None:
    _saved(tmp_path)
    again = Engine.open(str(tmp_path))
    room = len(again._collection("db", "narrow").vectors) - 300
    more = np.random.default_rng(3).normal(size=(room + 50, 4)).astype(np.float32)
    again.insert("db", "narrow", more)
    narrow = again._collection("db", "narrow")
    assert not _mapped(narrow.vectors) and narrow.size == 300 + room + 50
    after = state(again)
    again.save()  # written from a collection that is part mapped, part copied
    again.close()
    assert _state_after_reopening(tmp_path) == after


def test_a_snapshot_taken_while_the_last_one_is_mapped_replaces_it(tmp_path: Path) -> None:
    _saved(tmp_path)
    again = Engine.open(str(tmp_path))
    again.insert("db", "wide", np.full((5, WIDE), -1.0, np.float32))
    again.save()  # reads the mapped rows of the file it renames over
    after = state(again)
    assert state(again) == after  # the old mapping is still what this process reads
    again.close()
    assert _state_after_reopening(tmp_path) == after


def test_without_mapping_the_vectors_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _saved(tmp_path)
    monkeypatch.setattr(stored_rows, "MAP_VECTORS", False)  # as on Windows
    again = Engine.open(str(tmp_path))
    try:
        wide = again._collection("db", "wide")
        assert not _mapped(wide.vectors) and len(wide.vectors) == wide.size == 297
        assert state(again) == before
        again.insert("db", "wide", np.ones((3, WIDE), np.float32))  # grows by copying
        assert again.collection_info("db", "wide").vector_count == 300
    finally:
        again.close()


def test_a_rows_record_belongs_in_snapshots_only() -> None:
    record = StoredRows(
        "db",
        "c",
        ids=np.array([1], np.uint64),
        aux=np.zeros(1, np.float32),
        prefix=None,
        metadata=[b""],
        max_norm=1.0,
        vectors=np.zeros((1, 2), np.float32),
    )
    with pytest.raises(TypeError, match="snapshots only"):
        encode_record(record)
    with pytest.raises(ValueError, match="unknown record op 'rows'"):
        record_from({"op": "rows"})


def test_a_snapshot_of_an_older_format_is_rewritten_in_the_background(tmp_path: Path) -> None:
    before = _saved(tmp_path)
    snapshot = tmp_path / "snapshot.jsonl"
    data = snapshot.read_bytes()
    header_end = data.index(b"\n") + 1
    header = json.loads(data[9 : header_end - 1])
    snapshot.write_bytes(frame({**header, "version": 2}) + data[header_end:])
    again = Engine.open(str(tmp_path))  # a version 2 header over version 3 records: read alike
    again._stop_snapshots()  # waits for the rewrite
    again.close()
    assert b'"version":3' in snapshot.read_bytes()[:100]
    assert _state_after_reopening(tmp_path) == before


def test_a_process_killed_after_writing_into_the_room_loses_nothing(tmp_path: Path) -> None:
    _saved(tmp_path)
    script = f"""
import os, numpy as np
from scintirete_integrations.lite.engine import Engine
engine = Engine.open({str(tmp_path)!r})
engine.insert("db", "wide", np.full((7, {WIDE}), 4.0, np.float32), [b"after"] * 7)
engine.delete("db", "narrow", [4])
os._exit(0)  # killed: no close, no snapshot
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    again = Engine.open(str(tmp_path))
    try:
        assert again.collection_info("db", "wide").vector_count == 297 + 7
        assert again.collection_info("db", "narrow").vector_count == 299
        hits = again.search("db", "wide", np.full(WIDE, 4.0, np.float32), 7, include_vectors=True)
        assert hits.metadata == [b"after"] * 7 and hits.distances == [0.0] * 7
    finally:
        again.close()


def test_a_directory_snapshotted_without_a_graph_opens_with_one(tmp_path: Path) -> None:
    _saved(tmp_path)
    again = Engine.open(str(tmp_path), index="hnsw")
    try:
        narrow = again._collection("db", "narrow")
        assert narrow.graph is not None and len(narrow.graph) == narrow.size == 300
        hits = again.search("db", "narrow", narrow.vectors[10], 1)
        assert hits.ids == [11] and hits.distances[0] == pytest.approx(0.0, abs=1e-6)
    finally:
        again.close()


def test_chosen_rows_are_read_from_the_file_in_any_order_runs_and_repeats_included(tmp_path: Path) -> None:
    matrix = np.random.default_rng(3).standard_normal((500, 12)).astype(np.float32)
    path = tmp_path / "rows.bin"
    path.write_bytes(b"x" * 40 + matrix.tobytes())
    stored = stored_rows.StoredVectors(path, 40, 400, 12)  # rows 400+ live only in memory
    rows = np.array([7, 8, 9, 3, 3, 450, 399, 0, 1, 2, 498, 100])
    assert np.array_equal(stored.gather(matrix, rows), matrix[rows])
    out = np.zeros((len(rows) + 2, 12), np.float32)
    stored.gather(matrix, rows, out=out[: len(rows)])
    assert np.array_equal(out[: len(rows)], matrix[rows]) and not out[len(rows) :].any()
    path.write_bytes(b"x" * 40 + matrix[:300].tobytes())  # the file cut short under the reader
    with pytest.raises(OSError, match="row 350"):
        stored.gather(matrix, np.array([5, 350]))
