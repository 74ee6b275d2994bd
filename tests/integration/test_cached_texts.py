"""Texts of a view loaded from its cache stay in the file until used, and are checked when they are.

The records of such a view are ``Record``s in every way that shows (equal to the same record
read from the server, pickled as a plain ``Record``, ``dataclasses.replace`` works); a text whose
bytes changed in the file is never returned, and a cache replaced on disk keeps serving the
records loaded from the old one.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_graph_search import close_with_a_version_1_cache

from scintirete_integrations import ScintireteClient
from scintirete_integrations.documents import DocumentCollection, Record
from scintirete_integrations.documents import view_cache as view_cache_module
from scintirete_integrations.documents.cached_texts import CachedRecord, CachedRecords, record_labels
from scintirete_integrations.documents.deferred import DeferredDict
from scintirete_integrations.errors import InternalError

DB = "cachedtexts"


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password, timeout=60) as c:
        yield c


def records(n: int) -> list[Record]:
    vectors = np.random.default_rng(5).standard_normal((n, 8)).astype(np.float32)
    return [
        Record(f"r{i}", f"text {i} ✓ naïve " * (i % 7 + 1), vectors[i], {"i": i}, f"g{i % 2}")
        for i in range(n)
    ]


def open_docs(client: ScintireteClient, name: str, cache: Path | None) -> DocumentCollection:
    return DocumentCollection(name, client, db=DB, metric="l2", view_cache=cache)


def saved(client: ScintireteClient, cache: Path, count: int = 40) -> tuple[str, Path]:
    name = f"ct_{uuid.uuid4().hex[:8]}"
    writer = open_docs(client, name, cache)
    writer.upsert(records(count))
    writer._close_for("test")
    return name, writer._core.view_cache.path  # type: ignore[union-attr]


def loaded(client: ScintireteClient, cache: Path) -> tuple[str, DocumentCollection]:
    """A saved collection and a store that opened it from its cache."""
    name, _ = saved(client, cache)
    reader = open_docs(client, name, cache)
    reader.count()
    return name, reader


def text_offset(path: Path, index: int) -> int:
    """Where text ``index`` starts in the cache file."""
    data = path.read_bytes()
    header_size = int.from_bytes(data[8:16], "little")
    sections = json.loads(data[16 : 16 + header_size])["sections"]
    offset, _ = sections["text_sizes"]
    sizes = np.frombuffer(data[16 + header_size + offset :], "<i8", count=len(records(40)))
    return 16 + header_size + sections["texts"][0] + int(sizes[:index].sum())


def test_a_loaded_view_reads_each_text_from_the_file_and_equals_a_view_read_from_the_server(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name, _ = saved(client, tmp_path)
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 40 and reader._core.opened_from_cache
    loaded = reader._core.view.records
    assert all(type(record) is CachedRecord for record in loaded.values())
    fresh = open_docs(client, name, None)
    fresh.count()
    assert loaded == fresh._core.view.records  # either way round
    assert fresh._core.view.records == loaded
    assert reader.get(["r5"])[0].text == records(40)[5].text
    hit = reader.search(records(40)[9].vector, k=1)[0].record  # type: ignore[arg-type]
    assert (hit.id, hit.text, hit.metadata, hit.group) == ("r9", records(40)[9].text, {"i": 9}, "g1")


def test_a_cached_record_pickles_as_a_plain_record_and_can_be_replaced(
    client: ScintireteClient, tmp_path: Path
) -> None:
    _, reader = loaded(client, tmp_path)
    record = reader._core.view.records["r3"]
    copied = pickle.loads(pickle.dumps(record))
    assert type(copied) is Record and copied == record and copied.text == records(40)[3].text
    with_vector = dataclasses.replace(record, vector=[1.0])
    assert with_vector.text == record.text and with_vector.vector == [1.0]
    assert "r3" in repr(record) and record.text in repr(record)


def test_a_text_damaged_in_the_file_is_never_returned(client: ScintireteClient, tmp_path: Path) -> None:
    name, path = saved(client, tmp_path)
    at = text_offset(path, 6)
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01  # 't' becomes 'u': still UTF-8, only its CRC can tell
    path.write_bytes(bytes(data))
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 40 and reader._core.opened_from_cache  # the file's CRC leaves texts out
    assert reader.get(["r5"])[0].text == records(40)[5].text
    (damaged,) = reader.get(["r6"])  # its text is read when it is used, and refused
    with pytest.raises(InternalError, match=r"view cache .* is damaged.*'r6'.*delete the file"):
        _ = damaged.text


def test_records_loaded_from_a_cache_that_was_replaced_since_still_read_their_texts(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name, reader = loaded(client, tmp_path)
    writer = open_docs(client, name, tmp_path)
    writer.upsert([Record("new", "new text", np.ones(8, np.float32))])
    writer._close_for("test")  # renames a new file over the one the reader loaded
    assert [r.text for r in reader.get(["r0", "r39"])] == [records(40)[0].text, records(40)[39].text]


def test_where_texts_cannot_stay_in_the_file_they_are_read_and_checked_at_load(
    client: ScintireteClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view_cache_module, "LAZY_TEXTS", False)  # as on Windows
    name, path = saved(client, tmp_path)
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 40 and reader._core.opened_from_cache
    assert all(type(record) is Record for record in reader._core.view.records.values())
    data = bytearray(path.read_bytes())
    data[text_offset(path, 6)] ^= 0x01
    path.write_bytes(bytes(data))
    damaged = open_docs(client, name, tmp_path)
    assert damaged.count() == 40 and not damaged._core.opened_from_cache  # read from the server
    assert damaged.get(["r6"])[0].text == records(40)[6].text


def test_a_cache_of_an_older_version_is_read_whole_and_saved_again_in_this_one(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name = f"ct_{uuid.uuid4().hex[:8]}"
    writer = open_docs(client, name, tmp_path)
    writer.upsert(records(40))
    path = close_with_a_version_1_cache(writer)
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 40 and reader._core.opened_from_cache
    assert all(type(record) is Record for record in reader._core.view.records.values())
    reader._close_for("test")  # nothing written, but the file is of an older version
    assert path.read_bytes()[:8] == view_cache_module.MAGIC
    again = open_docs(client, name, tmp_path)
    assert again.count() == 40 and type(again._core.view.records["r1"]) is CachedRecord


def test_loaded_records_behave_as_a_dict_of_them_through_writes_and_deletes(
    client: ScintireteClient, tmp_path: Path
) -> None:
    """Order included: a store's ties and its cache's row order follow it."""
    _, reader = loaded(client, tmp_path)
    held = reader._core.view.records
    assert isinstance(held, CachedRecords) and not any(held._made)  # none made at load
    model = {sid: Record(r.id, r.text, None, dict(r.metadata), r.group) for sid, r in held.items()}
    rng = np.random.default_rng(11)
    for step in range(300):
        sid = f"r{rng.integers(0, 50)}"
        if rng.random() < 0.4 and sid in model:
            del held[sid], model[sid]
        else:
            record = Record(sid, f"step {step}", None, {"step": step})
            held[sid] = model[sid] = record
        assert len(held) == len(model) and (sid in held) == (sid in model)
    assert list(held) == list(model) and list(held.items()) == list(model.items())
    assert [r.text for r in held.values()] == [r.text for r in model.values()]
    assert held == model and model == held and held.get("nope") is None
    assert list(record_labels(held)) == list(record_labels(model))
    with pytest.raises(KeyError):
        held["nope"]


def test_a_search_makes_only_the_records_it_returns(client: ScintireteClient, tmp_path: Path) -> None:
    _, reader = loaded(client, tmp_path)
    hits = reader.search(records(40)[3].vector, k=2)  # type: ignore[arg-type]
    hits += reader.search(records(40)[5].vector, k=2, filter={"i": {"$gte": 20}})  # type: ignore[arg-type]
    assert all(hit.record.metadata["i"] >= 20 for hit in hits[2:])
    held = reader._core.view.records
    assert isinstance(held, CachedRecords)
    made = {sid for sid, record in zip(held._sids, held._made, strict=True) if record}
    assert made == {hit.record.id for hit in hits}  # the filter read the columns, not records
    view = reader._core.view
    columns = (view.fingerprints, view.digests, view.homes, view.versions)
    assert all(isinstance(c, DeferredDict) and not c.built for c in columns)  # a search reads none
    changed = [dataclasses.replace(record, text="changed") for record in records(2)]
    reader.upsert(changed)  # a write reads them: each is built, and the view stays whole
    assert all(isinstance(c, DeferredDict) and c.built for c in columns)
    assert reader.count() == 40 and reader.get(["r1"])[0].text == "changed"
