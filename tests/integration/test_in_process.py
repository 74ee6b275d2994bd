"""Embedded stores call their Lite server's servicer directly: same answers and errors as over gRPC."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from scintirete_integrations import AsyncScintireteClient, ScintireteClient
from scintirete_integrations.documents import DocumentCollection, Record, close_client, resolve_clients
from scintirete_integrations.errors import (
    AuthenticationError,
    NotFoundError,
    RequestTooLargeError,
    UnavailableError,
)
from scintirete_integrations.lite import LiteServer


@pytest.fixture
def server() -> Iterator[LiteServer]:
    with LiteServer(max_receive_message_bytes=256 * 1024) as lite:
        yield lite


def _clients(
    server: LiteServer, password: str | None = None
) -> tuple[ScintireteClient, AsyncScintireteClient]:
    settings = {"address": server.address, "password": password or server.password}
    sync_client, async_client = ScintireteClient(**settings), AsyncScintireteClient(**settings)
    sync_client._in_process = async_client._in_process = server.in_process()
    return sync_client, async_client


def test_embedded_clients_call_the_servicer_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCINTIRETE_ADDRESS", raising=False)
    sync_client, async_client = resolve_clients()
    try:
        assert sync_client._in_process is not None
        assert async_client._in_process is sync_client._in_process
        given, _ = resolve_clients(address=sync_client.address, password="x")
        assert given._in_process is None  # a server named by address is spoken to over gRPC
        given.close()
    finally:
        close_client(sync_client)


def test_answers_match_the_grpc_path(server: LiteServer) -> None:
    direct, _ = _clients(server)
    over_grpc = ScintireteClient(server.address, password=server.password)
    collection = DocumentCollection("same", direct)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    collection.upsert(Record(f"r{i}", f"text {i}", vector, {"i": i}) for i, vector in enumerate(vectors))
    query = rng.normal(size=8)
    through_grpc = DocumentCollection("same", over_grpc)
    assert [hit.record.id for hit in collection.search(query, k=5)] == [
        hit.record.id for hit in through_grpc.search(query, k=5)
    ]
    assert over_grpc.search("default", "same", query, top_k=3) == direct.search(
        "default", "same", query, top_k=3
    )
    over_grpc.close()


def test_errors_are_the_servers(server: LiteServer) -> None:
    direct, _ = _clients(server)
    direct.ensure_database("default")
    with pytest.raises(NotFoundError, match="nowhere"):
        direct.get_collection_info("default", "nowhere")
    wrong, _ = _clients(server, password="not-the-password")
    with pytest.raises(AuthenticationError):
        wrong.list_databases()
    direct.ensure_collection("default", "big", metric="l2")
    with pytest.raises(RequestTooLargeError, match="larger than max"):
        direct.insert_vectors("default", "big", np.ones((1, 100_000), np.float32))


def test_a_stopped_server_refuses_and_a_running_call_finishes_first() -> None:
    started, release = threading.Event(), threading.Event()

    def slow_embedding(texts: list[str]) -> list[list[float]]:
        started.set()
        release.wait(10)
        return [[1.0, 0.0] for _ in texts]

    server = LiteServer(embedding=slow_embedding).start()
    direct, _ = _clients(server)
    direct.ensure_collection("default", "c", metric="l2")
    results: list[object] = []
    writer = threading.Thread(target=lambda: results.append(direct.embed_and_insert("default", "c", ["a"])))
    writer.start()
    assert started.wait(10)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    time.sleep(0.2)
    assert stopper.is_alive()  # waits for the call in flight
    release.set()
    writer.join(10)
    stopper.join(10)
    assert results == [[1]]
    with pytest.raises(UnavailableError, match="stopped"):
        direct.list_databases()


def test_async_calls_from_several_event_loops(server: LiteServer) -> None:
    direct, async_client = _clients(server)
    direct.ensure_collection("default", "loops", metric="l2")

    async def write(start: int) -> None:
        await asyncio.gather(
            *(
                async_client.insert_vectors("default", "loops", [[float(i), 1.0]])
                for i in range(start, start + 10)
            )
        )

    asyncio.run(write(0))
    asyncio.run(write(10))
    threads = [threading.Thread(target=lambda s=s: asyncio.run(write(s))) for s in (20, 30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert direct.get_collection_info("default", "loops").vector_count == 40
