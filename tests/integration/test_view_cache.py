"""The view cache opens a collection without reading it back, and is never trusted unproven.

A store that is given a cache directory (embedded Lite with ``data_dir``: always) saves its
view when it closes, at exit, and after a long first read; the next store starts from it when
a book on the server holds the very bytes of its anchor page, then reads what was written
since. Every way the file or the collection can differ from what was saved must end in a view
equal to one read from the server: torn, damaged, another collection's, the collection
cleared, checkpointed, written to and deleted from by others, the server restarted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scintirete_integrations import AsyncScintireteClient, ScintireteClient
from scintirete_integrations.documents import (
    AsyncDocumentCollection,
    DocumentCollection,
    Record,
    view_cache_dir,
)
from scintirete_integrations.documents import core as core_module
from scintirete_integrations.documents import view_cache as view_cache_module
from scintirete_integrations.documents.view import Names, View
from scintirete_integrations.documents.view_cache import MAGIC, ViewCache
from scintirete_integrations.lite import LiteServer, ServerPersistence
from scintirete_integrations.models import Metric

DB = "viewcache"


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password, timeout=60) as c:
        yield c


@pytest.fixture(autouse=True)
def small_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core_module, "SAVE_AFTER_READ", 50)


def records(n: int, version: int = 0, start: int = 0) -> list[Record]:
    rng = np.random.default_rng(version * 1000 + start)
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    return [
        Record(
            f"r{start + i}",
            f"text {start + i} v{version} ✓ naïve",
            vectors[i],
            {
                "i": start + i,
                "f": 1.0,
                "third": (start + i) / 3,
                "ok": i % 2 == 0,
                "none": None,
                "l": [1, 2.5],
            },
            group=f"g{i % 3}" if i % 4 else None,
        )
        for i in range(n)
    ]


def saved_collection(client: ScintireteClient, cache: Path, count: int) -> tuple[str, DocumentCollection]:
    """A new collection of ``count`` records whose store was closed, so its view is in ``cache``."""
    name = f"vc_{uuid.uuid4().hex[:8]}"
    docs = open_docs(client, name, cache)
    docs.upsert(records(count))
    docs._close_for("test")
    return name, docs


def connect(server: LiteServer) -> ScintireteClient:
    return ScintireteClient(server.address, password=server.password)


def open_docs(client: ScintireteClient, name: str, cache: Path | None) -> DocumentCollection:
    return DocumentCollection(name, client, db=DB, metric="l2", view_cache=cache)


def assert_same_view(got: View, want: View) -> None:
    """Equal records, versions (deleted ids included), homes and counters, and equal vectors."""
    assert list(got.records) == list(want.records)  # the same order: ties are broken by it
    for sid, record in want.records.items():
        mine = got.records[sid]
        assert (mine.text, mine.metadata, mine.group) == (record.text, record.metadata, record.group)
        assert repr(mine.metadata) == repr(record.metadata)  # 1.0 stays a float, 1 an int
        assert np.array_equal(got.vectors.get(sid), want.vectors.get(sid))
    for name in ("digests", "homes", "fingerprints", "strays"):
        assert getattr(got, name) == getattr(want, name), name
    for digest in want.digests.values():
        assert got.records_for(digest) == want.records_for(digest)
    assert got.data_vectors.get(got.gen) == want.data_vectors.get(want.gen)  # older ones: dropped
    # Deleted ids keep their version; a view read from a checkpoint has none from before it
    # (none is needed: no page it can still apply restates an older state).
    assert _versions(got) == _versions(want)
    for name in ("gen", "applied_upto", "checkpoint_upto", "dimension"):
        assert getattr(got, name) == getattr(want, name), name


def _versions(view: View) -> dict[str, int]:
    return {sid: v for sid, v in view.versions.items() if sid in view.records or v > view.checkpoint_upto}


def fresh_view(client: ScintireteClient, name: str) -> View:
    docs = open_docs(client, name, None)
    docs.count()
    return docs._core.view


def test_a_closed_store_opens_from_its_cache_and_reads_only_what_came_since(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name = f"vc_{uuid.uuid4().hex[:8]}"
    writer = open_docs(client, name, tmp_path)
    writer.upsert(records(120))
    writer.delete(["r3", "r4"])
    writer._close_for("test")
    assert (tmp_path / DB / f"{name}.l2.view").exists()

    other = open_docs(client, name, None)  # another writer, after the save
    other.upsert(records(10, version=1, start=115))  # five replace, five are new
    other.delete(["r7"])

    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 120 - 3 + 5
    assert reader._core.opened_from_cache
    assert not reader.get(["r3", "r4", "r7"])  # deleted before and after the save: not back
    assert reader.get(["r116"])[0].text == "text 116 v1 ✓ naïve"
    assert_same_view(reader._core.view, fresh_view(client, name))


def test_a_long_first_read_saves_the_cache_for_the_next_process(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name = f"vc_{uuid.uuid4().hex[:8]}"
    open_docs(client, name, None).upsert(records(80))
    first = open_docs(client, name, tmp_path)
    assert first.count() == 80 and not first._core.opened_from_cache
    second = open_docs(client, name, tmp_path)
    assert second.count() == 80 and second._core.opened_from_cache


@pytest.mark.parametrize(
    "damage",
    ["truncated", "flipped byte", "empty", "other version", "other collection", "not a cache"],
)
def test_a_torn_or_foreign_cache_file_is_ignored_and_replaced(
    client: ScintireteClient, tmp_path: Path, damage: str
) -> None:
    name, docs = saved_collection(client, tmp_path, 60)
    path = docs._core.view_cache.path  # type: ignore[union-attr]
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        path.write_bytes(data[:200] + bytes([data[200] ^ 1]) + data[201:])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "other version":
        path.write_bytes(MAGIC[:-1] + b"\x09" + data[8:])
    elif damage == "other collection":
        other = f"vc_{uuid.uuid4().hex[:8]}"
        foreign = open_docs(client, other, tmp_path)
        foreign.upsert(records(60, version=2))
        foreign._close_for("test")
        path.write_bytes(foreign._core.view_cache.path.read_bytes())  # type: ignore[union-attr]
    else:
        path.write_text("hello")
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 60
    assert not reader._core.opened_from_cache
    assert_same_view(reader._core.view, fresh_view(client, name))
    assert reader.get(["r1"])[0].metadata == records(60)[1].metadata
    again = open_docs(client, name, tmp_path)  # the first read replaced the file with a good one
    assert again.count() == 60 and again._core.opened_from_cache


def test_a_cache_of_a_collection_cleared_and_written_again_is_not_used(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name = f"vc_{uuid.uuid4().hex[:8]}"
    docs = open_docs(client, name, tmp_path)
    docs.upsert(records(70))
    saved = docs._core.view_cache.path.parent / "saved"  # type: ignore[union-attr]
    docs._close_for("test")
    saved.write_bytes(docs._core.view_cache.path.read_bytes())  # type: ignore[union-attr]
    other = open_docs(client, name, None)
    other.clear()
    other.upsert(records(70, version=5))  # same ids, same number of pages, other contents
    docs._core.view_cache.path.write_bytes(saved.read_bytes())  # type: ignore[union-attr]
    reader = open_docs(client, name, tmp_path)
    assert reader.get(["r2"])[0].text == "text 2 v5 ✓ naïve"
    assert not reader._core.opened_from_cache
    assert_same_view(reader._core.view, fresh_view(client, name))


def test_a_cache_of_a_collection_dropped_and_written_again_the_same_way_is_not_used(
    client: ScintireteClient, tmp_path: Path
) -> None:
    """Same records, same order, same page numbers: only each page's nonce tells them apart."""
    name = f"vc_{uuid.uuid4().hex[:8]}"
    docs = open_docs(client, name, tmp_path)
    docs.upsert(records(70))
    docs.delete(["r1"])  # the anchor is a page of deletes: no record's write token in it
    saved = docs._core.view_cache.path.parent / "saved"  # type: ignore[union-attr]
    docs._close_for("test")
    saved.write_bytes(docs._core.view_cache.path.read_bytes())  # type: ignore[union-attr]
    other = open_docs(client, name, None)
    assert other.drop()
    again = open_docs(client, name, None)
    again.upsert(records(70))
    again.delete(["r1"])
    assert again._core.view.anchor[0] == docs._core.view.anchor[0]  # type: ignore[index]
    again.upsert([Record("late", "written after the drop", np.ones(8, np.float32))])
    docs._core.view_cache.path.write_bytes(saved.read_bytes())  # type: ignore[union-attr]
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 70 and reader.get(["late"])
    assert not reader._core.opened_from_cache
    assert_same_view(reader._core.view, fresh_view(client, name))


def test_the_anchor_is_proven_by_its_first_chunk_and_by_the_whole_page_where_that_is_not_found(
    client: ScintireteClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _ = saved_collection(client, tmp_path, 90)
    whole_reads: list[list[int]] = []
    read_whole = view_cache_module.read_stored_plan

    def counted(*args: Any, **kwargs: Any) -> Any:
        whole_reads.append(args[3])
        return read_whole(*args, **kwargs)

    monkeypatch.setattr(view_cache_module, "read_stored_plan", counted)
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 90 and reader._core.opened_from_cache
    assert whole_reads == []  # one chunk proved it

    def not_found(*args: Any, **kwargs: Any) -> Any:
        return None
        yield  # a plan that makes no call

    monkeypatch.setattr(view_cache_module, "read_head_plan", not_found)
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 90 and reader._core.opened_from_cache
    assert len(whole_reads) == 1


def test_a_cache_older_than_a_checkpoint_ends_in_the_same_view(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name, _ = saved_collection(client, tmp_path, 60)
    other = open_docs(client, name, None)
    other.upsert(records(60, version=1))  # every record replaced
    other.delete(["r0", "r1"])
    assert other.compact()  # a checkpoint: the book holding the anchor page is dropped
    other.upsert(records(5, version=2, start=100))
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 63
    assert not reader.get(["r0", "r1"])
    assert_same_view(reader._core.view, fresh_view(client, name))


def test_a_cache_saved_after_a_checkpoint_opens_from_it(client: ScintireteClient, tmp_path: Path) -> None:
    name = f"vc_{uuid.uuid4().hex[:8]}"
    docs = open_docs(client, name, tmp_path)
    docs.upsert(records(60))
    docs.upsert(records(60, version=1))
    docs.delete(["r9"])
    assert docs.compact()
    docs.upsert(records(3, version=3, start=200))
    docs._close_for("test")
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 62 and reader._core.opened_from_cache
    assert not reader.get(["r9"])
    assert_same_view(reader._core.view, fresh_view(client, name))
    reader.upsert(records(60, version=4))  # and the restored view writes and checkpoints on
    assert reader.compact()
    assert_same_view(reader._core.view, fresh_view(client, name))


def test_a_view_with_gaps_or_no_page_is_not_saved(tmp_path: Path) -> None:
    cache = ViewCache(tmp_path, Names(DB, "x"), Metric.L2)
    assert cache.encode(View(gen="x")) is None  # nothing applied: nothing to prove it by
    gapped = View(gen="x", anchor=(3, b"\0" * 16), applied_upto=1, applied_above={3})
    assert cache.encode(gapped) is None
    assert cache.load() is None  # no file


def test_async_stores_and_several_event_loops_open_from_the_cache(
    address: str, password: str, client: ScintireteClient, tmp_path: Path
) -> None:
    name, _ = saved_collection(client, tmp_path, 60)
    for _ in range(2):

        async def main() -> tuple[int, bool]:
            aio = AsyncScintireteClient(address, password=password)
            reader = AsyncDocumentCollection(name, aio, db=DB, metric="l2", view_cache=tmp_path)
            count = await reader.count()
            await aio.close()
            return count, reader._core.opened_from_cache

        assert asyncio.run(main()) == (60, True)


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_the_cache_after_a_server_restart_that_lost_metadata_and_its_buffered_log(
    tmp_path: Path, how: str
) -> None:
    """A server persisting like the real one: metadata gone, the log's buffered tail lost to a kill.

    Pages (and so the anchor) come back bit for bit; the writes after the save come back too,
    being acknowledged. The view from the cache equals one read afresh.
    """
    data, cache = tmp_path / "data", tmp_path / "cache"
    persistence = ServerPersistence(log_flush_interval=None)
    name = "notes"
    server = LiteServer(data_dir=data, persistence=persistence).start()
    with connect(server) as c:
        docs = open_docs(c, name, cache)
        docs.upsert(records(60))
        docs.delete(["r5"])
        docs._close_for("test")
        other = open_docs(c, name, None)
        other.upsert(records(3, version=1, start=58))
        other.delete(["r6"])
    if how == "kill":
        server.crash()
    else:
        server.stop()
    with LiteServer(data_dir=data, persistence=persistence) as server, connect(server) as c:
        reader = open_docs(c, name, cache)
        assert reader.count() == 59 and reader._core.opened_from_cache
        assert not reader.get(["r5", "r6"])
        assert reader.get(["r59"])[0].text == "text 59 v1 ✓ naïve"
        assert_same_view(reader._core.view, fresh_view(c, name))


def test_an_embedded_store_saves_at_exit_and_the_next_process_opens_from_it(tmp_path: Path) -> None:
    """The way users run it: a script that writes and exits without close(), then another."""
    data = tmp_path / "kb"
    write = textwrap.dedent(
        f"""
        import numpy as np
        from scintirete_integrations.documents import DocumentCollection, Record
        docs = DocumentCollection.connect("notes", data_dir={str(data)!r})
        rng = np.random.default_rng(0)
        docs.upsert([Record(f"r{{i}}", f"text {{i}}", rng.random(8), {{"i": i}}) for i in range(40)])
        docs.delete(["r1"])
        """
    )
    read = textwrap.dedent(
        f"""
        from scintirete_integrations.documents import DocumentCollection
        docs = DocumentCollection.connect("notes", data_dir={str(data)!r})
        print(docs.count(), docs._core.opened_from_cache, docs.get(["r2"])[0].metadata)
        """
    )
    env = {**os.environ, "SCINTIRETE_ADDRESS": ""}
    subprocess.run([sys.executable, "-c", write], check=True, env=env, timeout=120)
    assert Path(str(view_cache_dir(data, None))).is_dir()
    out = subprocess.run(
        [sys.executable, "-c", read], check=True, env=env, timeout=120, capture_output=True, text=True
    )
    assert out.stdout.split() == ["39", "True", "{'i':", "2}"]


def test_an_async_collection_connected_to_a_data_directory_keeps_its_cache_there(tmp_path: Path) -> None:
    data = tmp_path / "kb"
    script = textwrap.dedent(
        f"""
        import asyncio
        import numpy as np
        from scintirete_integrations.documents import AsyncDocumentCollection, Record

        async def main():
            docs = AsyncDocumentCollection.connect("notes", data_dir={str(data)!r})
            if await docs.count() == 0:
                rng = np.random.default_rng(0)
                await docs.upsert([Record(f"r{{i}}", f"t{{i}}", rng.random(8)) for i in range(30)])
            print(await docs.count(), docs._core.opened_from_cache)

        asyncio.run(main())
        """
    )
    env = {**os.environ, "SCINTIRETE_ADDRESS": ""}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], check=True, env=env, timeout=120, capture_output=True, text=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs == [["30", "False"], ["30", "True"]]


def test_view_cache_false_keeps_a_data_directory_to_the_servers_data(tmp_path: Path) -> None:
    """Disk over opening time: every new store reads the collection back from the server."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from scintirete_integrations.langchain import ScintireteVectorStore

    data = tmp_path / "kb"
    for round_ in range(2):
        store = ScintireteVectorStore(
            DeterministicFakeEmbedding(size=16), collection_name="lean", data_dir=data, view_cache=False
        )
        if round_ == 0:
            store.add_texts([f"text {i}" for i in range(30)], ids=[f"t{i}" for i in range(30)])
        else:
            assert len(store.get_by_ids([f"t{i}" for i in range(30)])) == 30
            assert not store._collection._core.opened_from_cache
        store.close()
    assert not (data / "view-cache").exists()


def test_view_cache_dir_prefers_the_argument_then_the_data_directory(tmp_path: Path) -> None:
    assert view_cache_dir(None, None) is None
    assert view_cache_dir(tmp_path, False) is None and view_cache_dir(None, False) is None
    assert view_cache_dir(tmp_path, tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert Path(str(view_cache_dir(tmp_path, None))) == tmp_path.resolve() / "view-cache"


def test_a_leftover_temporary_file_of_a_save_cut_short_changes_nothing(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name, docs = saved_collection(client, tmp_path, 55)
    path = docs._core.view_cache.path  # type: ignore[union-attr]
    (path.parent / (path.name + ".abc.tmp")).write_bytes(path.read_bytes()[:100])
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 55 and reader._core.opened_from_cache


def test_a_cache_directory_that_cannot_be_written_costs_a_warning_and_nothing_else(
    client: ScintireteClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    name = f"vc_{uuid.uuid4().hex[:8]}"
    docs = open_docs(client, name, blocker)
    docs.upsert(records(55))
    docs._close_for("test")  # the save fails: logged, not raised
    assert "could not write the view cache" in caplog.text
    reader = open_docs(client, name, blocker)
    assert reader.count() == 55 and not reader._core.opened_from_cache


def test_a_store_that_checkpoints_saves_its_cache_again_so_a_kill_after_it_costs_no_full_read(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name = f"vc_{uuid.uuid4().hex[:8]}"
    docs = open_docs(client, name, tmp_path)
    docs.upsert(records(60))
    assert docs._core.save_view_cache()
    docs.upsert(records(60, version=1))
    assert docs.compact()  # drops the book the saved anchor was in
    # No close and no exit handler: as after kill -9.
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 60 and reader._core.opened_from_cache
    assert reader.get(["r0"])[0].text == "text 0 v1 ✓ naïve"
    assert_same_view(reader._core.view, fresh_view(client, name))


def test_collection_names_of_any_characters_get_a_file_of_their_own(
    client: ScintireteClient, tmp_path: Path
) -> None:
    name = f"notes v2.ü/{uuid.uuid4().hex[:6]}"
    docs = open_docs(client, name, tmp_path)
    docs.upsert(records(55))
    docs._close_for("test")
    path = docs._core.view_cache.path  # type: ignore[union-attr]
    assert path.parent == tmp_path / DB and path.name.startswith("notes%20v2%2E%C3%BC%2F")
    reader = open_docs(client, name, tmp_path)
    assert reader.count() == 55 and reader._core.opened_from_cache


def test_records_sharing_a_vector_are_all_found_and_stay_found_as_some_go(
    client: ScintireteClient, tmp_path: Path
) -> None:
    """A digest names one record, or a set for the rare vector several records share."""
    name = f"vc_{uuid.uuid4().hex[:8]}"
    writer = open_docs(client, name, tmp_path)
    same = np.ones(8, np.float32)
    writer.upsert([Record(sid, sid, same) for sid in ("a", "b", "c")] + records(5))
    view = writer._core.view
    assert view.by_digest is None  # built when a search the server answers needs it
    assert view.records_for(view.digests["a"]) == {"a", "b", "c"}
    writer.delete(["a", "b"])
    assert view.by_digest[view.digests["c"]] == "c"  # back to one name, as a fresh view has it
    writer._close_for("test")
    reader = open_docs(client, name, tmp_path)
    reader._core.exact_search_limit = 0  # hits come from the server, matched by their digest
    assert [hit.record.id for hit in reader.search(same, k=1)] == ["c"]
    reader.upsert([Record("d", "d", same)])  # kept up to date once built
    assert reader._core.view.records_for(view.digests["c"]) == {"c", "d"}
    assert_same_view(reader._core.view, fresh_view(client, name))
