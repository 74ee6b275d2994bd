"""A view loaded from its cache maps the vectors instead of holding them, reads the rows it ranks
from the file, and copies them into memory at the first write; answers are the same throughout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scintirete_integrations import ScintireteClient
from scintirete_integrations.documents import DocumentCollection, Record
from scintirete_integrations.documents import view_cache as view_cache_module

DB = "mappedvectors"


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password, timeout=60) as c:
        yield c


def records(n: int, start: int = 0) -> list[Record]:
    vectors = np.random.default_rng(start).standard_normal((n, 16)).astype(np.float32)
    return [
        Record(f"r{start + i}", f"t{start + i}", vectors[i], {"even": (start + i) % 2 == 0}) for i in range(n)
    ]


def open_docs(client: ScintireteClient, name: str, cache: Path | None) -> DocumentCollection:
    return DocumentCollection(name, client, db=DB, metric="cosine", view_cache=cache)


def saved(client: ScintireteClient, cache: Path, count: int = 300) -> str:
    name = f"mv_{uuid.uuid4().hex[:8]}"
    writer = open_docs(client, name, cache)
    writer.upsert(records(count))
    writer._close_for("test")
    return name


def loaded(client: ScintireteClient, cache: Path) -> tuple[str, DocumentCollection]:
    """A saved collection and a store that opened it from its cache."""
    name = saved(client, cache)
    reader = open_docs(client, name, cache)
    reader.count()
    return name, reader


def answers(docs: DocumentCollection, queries: np.ndarray) -> list[list[tuple[str, float]]]:
    out = []
    for query in queries:
        for where in (None, {"even": True}):
            hits = docs.search(query, k=7, filter=where)
            out.append([(hit.record.id, hit.distance) for hit in hits])
    return out


def test_a_loaded_view_answers_from_its_mapped_vectors_as_a_fresh_one_does(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name = saved(client, tmp_path)
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 300 and reader._core.opened_from_cache
    table = reader._core.view.vectors
    assert table._stored is not None and not table._matrix.flags.writeable  # mapped, not copied
    fresh = open_docs(client, name, None)
    queries = np.random.default_rng(9).standard_normal((5, 16)).astype(np.float32)
    assert answers(reader, queries) == answers(fresh, queries)
    assert np.array_equal(table.get("r17"), records(300)[17].vector)  # type: ignore[arg-type]
    hit = reader.search(records(300)[3].vector, k=1, include_vector=True)[0]  # type: ignore[arg-type]
    assert hit.record.id == "r3" and np.array_equal(hit.record.vector, records(300)[3].vector)  # type: ignore[arg-type]


def test_the_first_write_copies_the_mapped_vectors_and_loses_none(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name, reader = loaded(client, tmp_path)
    reader.upsert(records(5, start=300))
    reader.delete([f"r{i}" for i in range(0, 300, 2)])  # half gone: the table packs itself
    table = reader._core.view.vectors
    assert table._stored is None and table._matrix.flags.writeable
    fresh = open_docs(client, name, None)
    queries = np.random.default_rng(4).standard_normal((5, 16)).astype(np.float32)
    assert answers(reader, queries) == answers(fresh, queries)
    for sid in ("r1", "r299", "r304"):
        assert np.array_equal(table.get(sid), fresh._core.view.vectors.get(sid))


def test_a_view_whose_cache_was_replaced_since_still_reads_its_rows(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name, reader = loaded(client, tmp_path)
    writer = open_docs(client, name, tmp_path)
    writer.upsert(records(3, start=300))
    writer._close_for("test")  # renames a new file over the one the reader mapped
    queries = np.random.default_rng(2).standard_normal((3, 16)).astype(np.float32)
    reader_hits = [[hit.record.id for hit in reader.search(q, k=5)] for q in queries]
    fresh = open_docs(client, name, None)
    assert reader_hits == [[hit.record.id for hit in fresh.search(q, k=5)] for q in queries]


def test_where_the_vectors_cannot_be_mapped_they_are_read(
    client: ScintireteClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view_cache_module, "MAP_VECTORS", False)  # as on Windows
    name = saved(client, tmp_path)
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 300 and reader._core.opened_from_cache
    assert reader._core.view.vectors._stored is None
    queries = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    assert answers(reader, queries) == answers(open_docs(client, name, None), queries)


def test_a_cache_whose_row_keys_repeat_is_not_used(client: ScintireteClient, tmp_path: Path) -> None:
    import json
    import zlib

    name = saved(client, tmp_path)
    path = open_docs(client, name, tmp_path)._core.view_cache.path  # type: ignore[union-attr]
    data = bytearray(path.read_bytes())
    header_size = int.from_bytes(data[8:16], "little")
    body = 16 + header_size
    sections = json.loads(data[16:body])["sections"]
    keys_at = body + sections["keys"][0]
    data[keys_at + 8 : keys_at + 16] = data[keys_at : keys_at + 8]  # row 1 gets row 0's key
    texts_at, texts_length = body + sections["texts"][0], sections["texts"][1]
    crc = zlib.crc32(data[texts_at + texts_length : -4], zlib.crc32(data[:texts_at]))
    data[-4:] = crc.to_bytes(4, "little")  # a file whole in every other way
    path.write_bytes(bytes(data))
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 300 and not reader._core.opened_from_cache


def test_a_script_that_loaded_the_cache_and_exits_without_close_saves_it_again(tmp_path: Path) -> None:
    """Interpreter exit must not close the files a loaded view still reads before its exit save."""
    import os
    import subprocess
    import sys
    import textwrap

    data = tmp_path / "kb"
    head = f"""
        import numpy as np
        from scintirete_integrations.documents import DocumentCollection, Record
        docs = DocumentCollection.connect("notes", data_dir={str(data)!r})
        """
    steps = [
        'docs.upsert([Record(f"r{i}", f"text {i}", np.random.default_rng(i).random(8)) for i in range(40)])',
        "docs.count()\nassert docs._core.opened_from_cache and docs._core.view.vectors._stored is not None\n"
        'docs.delete(["r1"])\n'
        # As when the first weakref.finalize of the process came after the store: its exit hook runs first.
        "import atexit, weakref\natexit.register(weakref.finalize._exitfunc)",
        'print(docs.count(), docs._core.opened_from_cache, docs.get(["r2"])[0].text)',
    ]
    env = {**os.environ, "SCINTIRETE_ADDRESS": ""}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", textwrap.dedent(head) + step],
            check=True,
            env=env,
            timeout=120,
            capture_output=True,
            text=True,
        )
        for step in steps
    ]
    assert all("Traceback" not in out.stderr for out in outputs), [out.stderr for out in outputs]
    assert outputs[-1].stdout.split() == ["39", "True", "text", "2"]
