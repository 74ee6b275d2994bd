"""Faults against Scintirete Lite over gRPC: restarts, slow servers, SIGKILL, damaged logs, full disks.

Servers that get killed run as child processes (``python -m scintirete_integrations.lite``, see
``lite_helpers.LiteProcess``); the others run in this process. No assertion is about elapsed time:
every wait is bounded by a deadline and checked by its status code.
"""

from __future__ import annotations

import collections
import contextlib
import inspect
import os
import resource
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from lite_helpers import LiteProcess, server_state

from scintirete_integrations import (
    AsyncDocumentCollection,
    AsyncScintireteClient,
    DeadlineExceededError,
    DocumentCollection,
    InternalError,
    Record,
    RetryPolicy,
    ScintireteClient,
    ScintireteError,
    UnavailableError,
)
from scintirete_integrations.lite import Engine, HashEmbeddings, LiteServer
from scintirete_integrations.lite.servicer import ScintireteServiceServicer

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2_grpc as pb_grpc  # isort: skip

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and resource limits")

DB = "faults"
DIM = 8
# A restarted server must be found again quickly: grpc's own reconnect backoff starts at 1 s.
FAST_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 300)]


def corpus(n: int) -> list[Record]:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return [
        Record(f"doc-{i}-é🙂", f"text {i} ✓", vectors[i], {"i": i, "tag": "ü"}, group=f"g{i % 7}")
        for i in range(n)
    ]


def stored_string_ids(
    client: ScintireteClient, collection: str, records: list[Record]
) -> collections.Counter[str]:
    """How often each record's vector occurs among the server's live vectors (raw, below the layer)."""
    owner = {np.asarray(r.vector, np.float32).tobytes(): r.id for r in records}
    info = client.get_collection_info(DB, collection)
    hits = client.search(
        DB, collection, np.ones(DIM), info.vector_count, ef_search=info.total_inserted, include_vector=True
    )
    assert len(hits) == info.vector_count
    return collections.Counter(owner[np.asarray(hit.vector, np.float32).tobytes()] for hit in hits)


def newest_log(data_dir: Path) -> Path:
    return sorted(data_dir.glob("log.*.jsonl"))[-1]


# -- the server goes away mid-ingest and comes back ------------------------------------------------


@pytest.mark.slow
def test_ingest_interrupted_by_a_restart_converges_to_one_copy_of_each_document(tmp_path: Path) -> None:
    records = corpus(300)
    ids = [record.id for record in records]
    with LiteProcess(tmp_path / "data", tmp_path, fsync="everysec") as server:
        server.start()
        client = ScintireteClient(
            server.address,
            password="pw",
            timeout=20,
            retry=RetryPolicy(max_attempts=2, initial_backoff=0.05),
            channel_options=FAST_RECONNECT,
        )
        docs = DocumentCollection("ingest", client, db=DB, metric="l2")
        paused, resume = threading.Event(), threading.Event()
        failures: list[BaseException] = []

        def ingest() -> None:
            try:
                for batch, start in enumerate(range(0, len(records), 20), start=1):
                    docs.upsert(records[start : start + 20])
                    if batch == 4:  # 80 documents in: the server goes away before batch 5
                        paused.set()
                        resume.wait(30)
            except ScintireteError as exc:
                failures.append(exc)

        worker = threading.Thread(target=ingest)
        worker.start()
        assert paused.wait(30)
        server.kill()
        resume.set()
        worker.join(60)
        assert not worker.is_alive()
        [failure] = failures
        assert isinstance(failure, UnavailableError), repr(failure)
        assert failure.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)

        # Same port, same data directory. The re-run starts while the server is still starting:
        # its first (safe) call is retried with backoff until the server answers.
        client.retry = RetryPolicy(max_attempts=60, initial_backoff=0.05, max_backoff=0.25)
        restart = threading.Thread(target=server.start)
        restart.start()
        try:
            assert docs.upsert(records) == ids
        finally:
            restart.join(60)

        assert docs.count() == len(records)
        assert docs.get(ids) == [Record(r.id, r.text, None, r.metadata, r.group) for r in records]
        fresh = DocumentCollection(
            "ingest", ScintireteClient(server.address, password="pw"), db=DB, metric="l2"
        )
        assert [record.id for record in fresh.scan()] == ids
        info = client.get_collection_info(DB, "ingest")
        assert (info.vector_count, info.deleted_count) == (len(records), 0)  # nothing written twice
        assert stored_string_ids(client, "ingest", records) == collections.Counter(ids)
        assert docs.upsert(records) == ids  # a third run writes nothing
        assert client.get_collection_info(DB, "ingest").total_inserted == len(records)


# -- deadlines: a slow server gives DeadlineExceededError, never a hang ----------------------------


class SlowDown(grpc.ServerInterceptor):  # type: ignore[misc]
    """While ``on`` is set, every handler stalls until its caller has given up (at most 5 s)."""

    def __init__(self) -> None:
        self.on = threading.Event()

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        def stalled(request: Any, context: grpc.ServicerContext) -> Any:
            give_up = time.monotonic() + 5.0
            while self.on.is_set() and context.is_active() and time.monotonic() < give_up:
                time.sleep(0.005)
            if not context.is_active():
                context.abort(grpc.StatusCode.CANCELLED, "the caller gave up")
            return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            stalled,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@pytest.fixture(scope="module")
def slow_server() -> Iterator[tuple[str, SlowDown]]:
    slow = SlowDown()
    server = grpc.server(ThreadPoolExecutor(max_workers=16), interceptors=[slow])
    pb_grpc.add_ScintireteServiceServicer_to_server(
        ScintireteServiceServicer(Engine(), "pw", HashEmbeddings(DIM)), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    address = f"127.0.0.1:{port}"
    with ScintireteClient(address, password="pw") as setup:  # data for the calls below
        setup.ensure_collection(DB, "c", "l2")
        setup.insert_vectors(DB, "c", np.eye(DIM))
        docs = DocumentCollection("docs", setup, db=DB, metric="l2")
        docs.upsert(corpus(5))
    try:
        yield address, slow
    finally:
        slow.on.clear()
        server.stop(None).wait()


@pytest.fixture
def slow(slow_server: tuple[str, SlowDown]) -> Iterator[str]:
    """The slow server's address; it stalls for the duration of the test."""
    address, switch = slow_server
    switch.on.set()
    try:
        yield address
    finally:
        switch.on.clear()


V = [1.0] + [0.0] * (DIM - 1)
#: One call of every public client method (``t`` is the per-call timeout).
CLIENT_CALLS: dict[str, Callable[[Any, Any], Any]] = {
    "create_database": lambda c, t: c.create_database("new", timeout=t),
    "drop_database": lambda c, t: c.drop_database("new", timeout=t),
    "list_databases": lambda c, t: c.list_databases(timeout=t),
    "ensure_database": lambda c, t: c.ensure_database(DB, timeout=t),
    "create_collection": lambda c, t: c.create_collection(DB, "new", timeout=t),
    "ensure_collection": lambda c, t: c.ensure_collection(DB, "c", "l2", timeout=t),
    "drop_collection": lambda c, t: c.drop_collection(DB, "new", timeout=t),
    "get_collection_info": lambda c, t: c.get_collection_info(DB, "c", timeout=t),
    "list_collections": lambda c, t: c.list_collections(DB, timeout=t),
    "insert_vectors": lambda c, t: c.insert_vectors(DB, "c", [V], timeout=t),
    "delete_vectors": lambda c, t: c.delete_vectors(DB, "c", [1], timeout=t),
    "search": lambda c, t: c.search(DB, "c", V, 3, timeout=t),
    "embed_and_insert": lambda c, t: c.embed_and_insert(DB, "c", ["text"], timeout=t),
    "embed_and_search": lambda c, t: c.embed_and_search(DB, "c", "text", timeout=t),
    "embed_text": lambda c, t: c.embed_text(["text"], timeout=t),
    "list_embedding_models": lambda c, t: c.list_embedding_models(timeout=t),
    "save": lambda c, t: c.save(timeout=t),
    "bg_save": lambda c, t: c.bg_save(timeout=t),
    "ping": lambda c, t: c.ping(timeout=t),
}
#: One call of every public document-collection method; the collection carries the timeout.
DOCUMENT_CALLS: dict[str, Callable[[Any], Any]] = {
    "ensure": lambda d: d.ensure(DIM),
    "drop": lambda d: d.drop(),
    "clear": lambda d: d.clear(),
    "count": lambda d: d.count(),
    "upsert": lambda d: d.upsert(corpus(2)),
    "upsert_texts": lambda d: d.upsert_texts([Record("t", "some text")]),
    "get": lambda d: d.get(["doc-0-é🙂"]),
    "delete": lambda d: d.delete(["doc-0-é🙂"]),
    "delete_where": lambda d: d.delete_where({"i": 1}),
    "delete_group": lambda d: d.delete_group("g1"),
    "scan": lambda d: d.scan(),
    "search": lambda d: d.search(V, 2),
    "search_text": lambda d: d.search_text("text", 2),
    "mmr": lambda d: d.mmr(V, 2),
    "search_keywords": lambda d: d.search_keywords("text", 2),
    "search_hybrid": lambda d: d.search_hybrid("text", V, 2),
    "compact": lambda d: d.compact(),
    "save": lambda d: d.save(),
}


def public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def test_every_client_and_document_method_is_covered() -> None:
    assert public_methods(ScintireteClient) - {"close", "from_env"} == set(CLIENT_CALLS)
    assert public_methods(DocumentCollection) - {"connect", "async_twin"} == set(DOCUMENT_CALLS)


async def settle(result: Any) -> Any:
    return await result if isinstance(result, Awaitable) else result


@pytest.mark.parametrize("method", sorted(CLIENT_CALLS))
def test_sync_client_calls_honour_their_timeout(slow: str, method: str) -> None:
    with (
        ScintireteClient(slow, password="pw", timeout=30) as client,
        pytest.raises(DeadlineExceededError) as caught,
    ):
        CLIENT_CALLS[method](client, 0.05)
    assert caught.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert isinstance(caught.value, TimeoutError)


@pytest.mark.parametrize("method", sorted(CLIENT_CALLS))
async def test_async_client_calls_honour_their_timeout(slow: str, method: str) -> None:
    async with AsyncScintireteClient(slow, password="pw", timeout=30) as client:
        with pytest.raises(DeadlineExceededError):
            await CLIENT_CALLS[method](client, 0.05)


async def test_the_client_default_timeout_applies_when_a_call_names_none(slow: str) -> None:
    with ScintireteClient(slow, password="pw", timeout=0.05) as client, pytest.raises(DeadlineExceededError):
        client.search(DB, "c", V, 1)
    async with AsyncScintireteClient(slow, password="pw", timeout=0.05) as aclient:
        with pytest.raises(DeadlineExceededError):
            await aclient.search(DB, "c", V, 1)


@pytest.mark.parametrize("method", sorted(DOCUMENT_CALLS))
async def test_document_layer_calls_honour_the_timeout(slow: str, method: str) -> None:
    with ScintireteClient(slow, password="pw", timeout=30) as client:
        docs = DocumentCollection("docs", client, db=DB, metric="l2", timeout=0.05)
        with pytest.raises(DeadlineExceededError):
            DOCUMENT_CALLS[method](docs)
    async with AsyncScintireteClient(slow, password="pw", timeout=30) as aclient:
        adocs = AsyncDocumentCollection("docs", aclient, db=DB, metric="l2", timeout=0.05)
        with pytest.raises(DeadlineExceededError):
            await settle(DOCUMENT_CALLS[method](adocs))


def test_the_slow_server_still_answers_once_it_is_fast_again(slow_server: tuple[str, SlowDown]) -> None:
    address, switch = slow_server
    switch.on.set()
    with ScintireteClient(address, password="pw") as client:
        with pytest.raises(DeadlineExceededError):
            client.get_collection_info(DB, "c", timeout=0.05)
        switch.on.clear()
        assert client.get_collection_info(DB, "c", timeout=30).vector_count >= DIM


# -- SIGKILL during a stream of acknowledged writes -------------------------------------------------


class Writer:
    """Inserts (3 rows) and deletes (2 ids) in a loop, recording what each acknowledgement promised."""

    def __init__(self, client: ScintireteClient, collection: str, seed: int) -> None:
        self.client = client
        self.collection = collection
        self.rng = np.random.default_rng(seed)
        self.live: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
        self.deleted: set[int] = set()
        self.pending: tuple[str, Any] | None = None  # the call in flight when a failure struck
        self.failure: ScintireteError | None = None
        self.acks = 0

    def step(self, n: int) -> None:
        if n % 4 == 0 and len(self.live) > 2:
            victims = [int(i) for i in self.rng.choice(sorted(self.live), size=2, replace=False)]
            self.pending = ("delete", victims)
            self.client.delete_vectors(DB, self.collection, victims)
            for victim in victims:
                del self.live[victim]
                self.deleted.add(victim)
        else:
            rows = self.rng.standard_normal((3, DIM)).astype(np.float32)
            metadata = [{"n": n, "k": k, "s": "ünï🙂"} for k in range(3)]
            self.pending = ("insert", len(rows))
            ids = self.client.insert_vectors(DB, self.collection, rows, metadata)
            for server_id, row, meta in zip(ids, rows, metadata, strict=True):
                self.live[server_id] = (row, meta)
        self.pending = None
        self.acks += 1

    def run(self, steps: int, ready: threading.Event | None = None, at: int = 0) -> None:
        try:
            for n in range(1, steps + 1):
                self.step(n)
                if ready is not None and n == at:
                    ready.set()
        except ScintireteError as exc:
            self.failure = exc

    def check_restored(self, client: ScintireteClient) -> None:
        """Every acknowledged write is back; only the one in flight may or may not be."""
        info = client.get_collection_info(DB, self.collection)
        hits = client.search(
            DB, self.collection, np.ones(DIM), max(info.vector_count, 1), ef_search=info.total_inserted,
            include_vector=True,
        )  # fmt: skip
        rows = {hit.id: hit for hit in hits}
        assert len(rows) == info.vector_count
        known = max([*self.live, *self.deleted])
        expected = set(self.live)
        if self.pending is not None and self.pending[0] == "delete":
            assert expected - set(self.pending[1]) <= set(rows) <= expected
        else:
            extra = set(rows) - expected
            assert expected <= set(rows)
            assert all(i > known for i in extra)
            assert len(extra) in (0, self.pending[1] if self.pending else 0)
        for server_id in expected & set(rows):
            row, meta = self.live[server_id]
            assert np.array_equal(np.asarray(rows[server_id].vector, np.float32), row)
            assert rows[server_id].metadata == {
                key: float(v) if isinstance(v, int) else v for key, v in meta.items()
            }
        assert info.deleted_count >= len(self.deleted)
        assert info.total_inserted >= known
        # Ids continue after the highest ever assigned: max + 1, never reused.
        [next_id] = client.insert_vectors(DB, self.collection, [np.zeros(DIM)])
        assert next_id == info.total_inserted + 1 > known


@pytest.mark.slow
def test_sigkill_keeps_every_acknowledged_write_and_damaged_logs_are_handled(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with LiteProcess(data_dir, tmp_path, fsync="always") as server:
        server.start()
        client = ScintireteClient(server.address, password="pw", retry=RetryPolicy.disabled(), timeout=20)
        client.ensure_collection(DB, "c", "l2")
        writer = Writer(client, "c", seed=1)
        ready = threading.Event()
        thread = threading.Thread(target=writer.run, args=(100_000, ready, 60))
        thread.start()
        assert ready.wait(60)
        server.kill()  # while the writer keeps writing
        thread.join(60)
        assert isinstance(writer.failure, UnavailableError), repr(writer.failure)
        assert writer.acks >= 60

        server.start()
        restored = ScintireteClient(server.address, password="pw", timeout=20)
        writer.check_restored(restored)
        state = server_state(restored)

        # A torn final record (the process died inside a write) is dropped with a warning.
        server.kill()
        log = newest_log(data_dir)
        last_line = log.read_bytes().splitlines(keepends=True)[-1]
        with open(log, "ab") as out:
            out.write(last_line[: len(last_line) // 2])
        server.start()
        assert "dropping a torn final record" in server.stderr()
        assert log.name in server.stderr()
        assert server_state(ScintireteClient(server.address, password="pw", timeout=20)) == state

        # Damage before the end of the log: the CLI refuses to start and names the file.
        server.kill()
        lines = log.read_bytes().splitlines(keepends=True)
        lines[2] = lines[2][:20] + bytes([lines[2][20] ^ 0x01]) + lines[2][21:]
        log.write_bytes(b"".join(lines))
        process = server.launch()
        assert process.wait(timeout=60) != 0
        message = server.stderr()
        assert f"{log} line 3" in message and "refusing to start" in message
        assert "Traceback" not in message


# -- a full disk and an unwritable data directory ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs resource.prlimit (Linux)")
def test_a_full_disk_is_a_clear_error_and_lite_stays_consistent(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with LiteProcess(data_dir, tmp_path, ignore_sigxfsz=True) as server:
        server.start()
        assert server.process is not None
        client = ScintireteClient(server.address, password="pw", retry=RetryPolicy.disabled(), timeout=20)
        client.ensure_collection(DB, "c", "l2")
        writer = Writer(client, "c", seed=2)
        writer.run(12)
        before = server_state(client)
        # The disk is full: no file may grow at all (writes fail with EFBIG, as with ENOSPC).
        log = newest_log(data_dir)
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (0, hard))
        failures = []
        for call in (
            lambda: client.insert_vectors(DB, "c", np.ones((4, DIM)), [{"x": 1}] * 4),
            lambda: client.delete_vectors(DB, "c", sorted(writer.live)[:1]),
            lambda: client.create_collection(DB, "other"),
            lambda: client.save(),
        ):
            with pytest.raises(InternalError) as caught:
                call()
            failures.append(caught.value)
            assert server_state(client) == before  # reads work; nothing half-applied
        assert all(f.code is grpc.StatusCode.INTERNAL for f in failures)
        assert all("File too large" in f.details for f in failures)
        assert all(f"could not write to {log}" in f.details for f in failures[:3])
        assert "could not write snapshot" in failures[3].details
        assert server.process.poll() is None

        # Space is freed: writes work again, ids continue where the acknowledged ones left off.
        resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (hard, hard))
        writer.run(6)
        assert writer.failure is None
        after = server_state(client)
        server.kill()
        server.start()
        restarted = ScintireteClient(server.address, password="pw", timeout=20)
        assert server_state(restarted) == after
        writer.check_restored(restarted)


def test_an_unusable_data_directory_stops_the_cli_with_a_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    server = LiteProcess(blocker / "data", tmp_path)
    assert server.launch().wait(timeout=60) != 0
    message = server.stderr()
    assert f"data directory {blocker / 'data'} is not usable" in message
    assert "Traceback" not in message
    server.wait()


@pytest.mark.parametrize("obstacle", ["snapshot-path-taken", "read-only-directory"])
def test_an_unwritable_data_directory_fails_saves_clearly_and_keeps_serving(
    tmp_path: Path, obstacle: str
) -> None:
    data_dir = tmp_path / "data"
    if obstacle == "read-only-directory" and os.geteuid() == 0:
        pytest.skip("root writes to read-only directories")
    with LiteServer(data_dir, password="pw", fsync="always") as server:
        client = ScintireteClient(server.address, password="pw", retry=RetryPolicy.disabled())
        client.ensure_collection(DB, "c", "l2")
        client.insert_vectors(DB, "c", np.eye(DIM), [{"row": i} for i in range(DIM)])
        before = server_state(client)
        blocked = data_dir / "snapshot.jsonl.tmp"
        if obstacle == "snapshot-path-taken":
            blocked.mkdir()
        else:
            data_dir.chmod(0o500)
        try:
            with pytest.raises(InternalError) as caught:
                client.save()
        finally:
            with contextlib.suppress(FileNotFoundError):
                blocked.rmdir()
            data_dir.chmod(0o700)
        assert caught.value.code is grpc.StatusCode.INTERNAL
        assert str(data_dir) in caught.value.details
        assert ("Is a directory" if obstacle == "snapshot-path-taken" else "Permission denied") in (
            caught.value.details
        )
        assert server_state(client) == before
        client.insert_vectors(DB, "c", [V])  # writes go on
        assert client.save().success
        after = server_state(client)
    with LiteServer(data_dir, password="pw") as server:
        assert server_state(ScintireteClient(server.address, password="pw")) == after


# -- snapshots under concurrent writes ------------------------------------------------------------


@pytest.mark.slow
def test_save_and_bg_save_under_concurrent_writes_restore_exactly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with LiteProcess(data_dir, tmp_path, fsync="never") as server:
        server.start()
        client = ScintireteClient(server.address, password="pw", timeout=30)
        writers = []
        for index, name in enumerate(("a", "b", "a")):  # two writers share collection "a"
            client.ensure_collection(DB, name, "l2")
            writers.append(Writer(client, name, seed=10 + index))
        threads = [threading.Thread(target=w.run, args=(120,)) for w in writers]
        for thread in threads:
            thread.start()
        saves = 0
        while any(thread.is_alive() for thread in threads) or saves < 6:
            result = client.save() if saves % 2 == 0 else client.bg_save()
            assert result.success
            saves += 1
        for thread in threads:
            thread.join()
        assert all(w.failure is None for w in writers)
        Writer(client, "b", seed=99).run(5)  # after the last snapshot: only in the log
        assert (data_dir / "snapshot.jsonl").exists()
        before = server_state(client)
        server.kill()  # no snapshot at shutdown: restore = last snapshot + the logs after it
        server.start()
        restored = ScintireteClient(server.address, password="pw", timeout=30)
        assert server_state(restored) == before
        for name in ("a", "b"):
            info = restored.get_collection_info(DB, name)
            assert restored.insert_vectors(DB, name, [V]) == [info.total_inserted + 1]
