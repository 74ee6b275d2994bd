"""AsyncScintireteClient against a Lite server over loopback gRPC. Mirrors test_client.py."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import uuid
from collections.abc import AsyncIterator

import grpc
import numpy as np
import pytest

from scintirete_integrations import (
    AlreadyExistsError,
    AuthenticationError,
    InvalidArgumentError,
    Metric,
    NotFoundError,
    UnavailableError,
)
from scintirete_integrations._retry import RetryPolicy
from scintirete_integrations.client import AsyncScintireteClient
from scintirete_integrations.lite import LiteServer


@pytest.fixture
async def client(address: str, password: str) -> AsyncIterator[AsyncScintireteClient]:
    async with AsyncScintireteClient(address, password=password) as c:
        yield c


@pytest.fixture
async def db(client: AsyncScintireteClient) -> AsyncIterator[str]:
    name = f"db-{uuid.uuid4().hex[:8]}"
    await client.create_database(name)
    yield name
    with contextlib.suppress(NotFoundError):
        await client.drop_database(name)


async def test_databases_create_list_drop(client: AsyncScintireteClient) -> None:
    name = f"db-{uuid.uuid4().hex[:8]}"
    await client.create_database(name)
    assert name in await client.list_databases()
    with pytest.raises(AlreadyExistsError):
        await client.create_database(name)
    assert await client.ensure_database(name) is False
    await client.create_collection(name, "a")
    await client.create_collection(name, "b")
    assert await client.drop_database(name) == 2
    assert name not in await client.list_databases()
    assert await client.ensure_database(name) is True
    await client.drop_database(name)
    with pytest.raises(NotFoundError, match=f"database '{name}' not found"):
        await client.drop_database(name)


async def test_collections_lifecycle_and_info(client: AsyncScintireteClient, db: str) -> None:
    info = await client.create_collection(db, "c", "l2", m=8, ef_construction=64)
    assert (info.name, info.dimension, info.vector_count, info.metric) == ("c", 0, 0, Metric.L2)
    assert (info.hnsw.m, info.hnsw.ef_construction) == (8, 64)
    assert (await client.create_collection(db, "d", Metric.INNER_PRODUCT, m=0)).hnsw.m == 16
    assert sorted(c.name for c in await client.list_collections(db)) == ["c", "d"]
    await client.insert_vectors(db, "c", [[1, 2, 3], [4, 5, 6]])
    info = await client.get_collection_info(db, "c")
    assert (info.dimension, info.vector_count, info.deleted_count) == (3, 2, 0)
    assert await client.drop_collection(db, "c") == 2
    with pytest.raises(NotFoundError, match=f"collection 'c' not found in database '{db}'"):
        await client.get_collection_info(db, "c")


async def test_ensure_collection_creates_the_database_and_checks_the_metric(
    client: AsyncScintireteClient,
) -> None:
    name = f"db-{uuid.uuid4().hex[:8]}"
    try:
        assert (await client.ensure_collection(name, "c", "cosine")).metric is Metric.COSINE
        assert (await client.ensure_collection(name, "c", "COSINE")).name == "c"
        with pytest.raises(InvalidArgumentError, match="exists with metric 'cosine', not 'l2'"):
            await client.ensure_collection(name, "c", "l2")
    finally:
        await client.drop_database(name)


async def test_insert_returns_ids_in_order_and_search_finds_them(
    client: AsyncScintireteClient, db: str
) -> None:
    await client.create_collection(db, "c", "l2")
    ids = await client.insert_vectors(
        db, "c", np.eye(4, dtype=np.float32), [{"n": i, "tag": f"t{i}"} for i in range(4)]
    )
    assert ids == [1, 2, 3, 4]
    assert await client.insert_vectors(db, "c", [[0.5, 0.5, 0, 0]]) == [5]
    hits = await client.search(db, "c", [1, 0, 0, 0], top_k=3)
    assert hits[0].id == 1 and hits[0].distance == 0.0
    assert hits[0].metadata == {"n": 0.0, "tag": "t0"}
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    with_vectors = await client.search(db, "c", [0, 1, 0, 0], top_k=1, include_vector=True)
    assert list(with_vectors[0].vector or []) == [0, 1, 0, 0]


@pytest.mark.parametrize(
    ("metric", "expected"), [("l2", math.sqrt(2)), ("cosine", 1.0), ("inner_product", -0.0)]
)
async def test_distances_follow_the_metric(
    client: AsyncScintireteClient, db: str, metric: str, expected: float
) -> None:
    await client.create_collection(db, "c", metric)
    await client.insert_vectors(db, "c", [[0, 1]])
    (hit,) = await client.search(db, "c", [1, 0], top_k=1)
    assert hit.distance == pytest.approx(expected, abs=1e-6)


async def test_delete_counts_only_live_ids(client: AsyncScintireteClient, db: str) -> None:
    await client.create_collection(db, "c", "cosine")
    ids = await client.insert_vectors(db, "c", np.random.default_rng(1).random((6, 3)))
    assert await client.delete_vectors(db, "c", [ids[0], ids[0], 999]) == 1
    assert await client.delete_vectors(db, "c", [ids[0]]) == 0
    info = await client.get_collection_info(db, "c")
    assert (info.vector_count, info.deleted_count) == (5, 1)
    with pytest.raises(InvalidArgumentError, match="no ids"):
        await client.delete_vectors(db, "c", [])


async def test_search_beyond_the_default_beam_returns_top_k(client: AsyncScintireteClient, db: str) -> None:
    await client.create_collection(db, "c", "l2")
    await client.insert_vectors(db, "c", np.random.default_rng(2).random((120, 4)))
    assert len(await client.search(db, "c", [0.5] * 4, top_k=100)) == 100
    assert len(await client.search(db, "c", [0.5] * 4, top_k=100, ef_search=30)) == 30
    assert len(await client.search(db, "c", [0.5] * 4, top_k=500)) == 120


async def test_client_side_validation_happens_before_sending(client: AsyncScintireteClient, db: str) -> None:
    await client.create_collection(db, "c", "l2")
    await client.insert_vectors(db, "c", [[1.0, 2.0]])
    with pytest.raises(InvalidArgumentError, match="ragged"):
        await client.insert_vectors(db, "c", [[1.0, 2.0], [1.0]])
    with pytest.raises(InvalidArgumentError, match="NaN"):
        await client.insert_vectors(db, "c", [[1.0, float("inf")]])
    with pytest.raises(InvalidArgumentError, match="query vector has dimension 3"):
        await client.search(db, "c", [1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgumentError, match="top_k must be a positive integer"):
        await client.search(db, "c", [1.0, 2.0], top_k=-1)
    assert (await client.get_collection_info(db, "c")).vector_count == 1


async def test_a_collection_recreated_by_another_client_with_another_dimension_takes_inserts(
    client: AsyncScintireteClient, db: str, address: str, password: str
) -> None:
    await client.create_collection(db, "c", "l2")
    await client.insert_vectors(db, "c", [[1.0, 2.0, 3.0, 4.0]])  # remembers dimension 4
    async with AsyncScintireteClient(address, password=password) as other:
        await other.drop_collection(db, "c")
        await other.create_collection(db, "c", "l2")
        await other.insert_vectors(db, "c", [[1.0, 2.0, 3.0]])
    assert await client.insert_vectors(db, "c", [[3.0, 2.0, 1.0]]) == [2]
    assert [hit.id for hit in await client.search(db, "c", [3.0, 2.0, 1.0], top_k=1)] == [2]
    with pytest.raises(InvalidArgumentError, match="vector\\[0\\] has dimension 4, but collection 'c'"):
        await client.insert_vectors(db, "c", [[1.0, 2.0, 3.0, 4.0]])


async def test_concurrent_calls_share_one_channel(client: AsyncScintireteClient, db: str) -> None:
    await client.create_collection(db, "c", "l2")
    await client.insert_vectors(db, "c", np.random.default_rng(4).random((50, 8)))
    results = await asyncio.gather(*(client.search(db, "c", np.full(8, i / 32), top_k=5) for i in range(32)))
    assert all(len(hits) == 5 for hits in results)


async def test_embedding_rpcs(client: AsyncScintireteClient, db: str) -> None:
    models = await client.list_embedding_models()
    assert models.default_model in [m.id for m in models.models]
    assert len(await client.embed_text(["a cat", "a dog"])) == 2
    await client.create_collection(db, "c", "cosine")
    assert await client.embed_and_insert(db, "c", ["a cat", "a dog"], [{"k": "cat"}, {"k": "dog"}]) == [1, 2]
    hits = await client.embed_and_search(db, "c", "a cat", top_k=2)
    assert hits[0].id == 1 and hits[0].metadata == {"k": "cat"}


async def test_save_bg_save_and_ping(client: AsyncScintireteClient) -> None:
    assert (await client.save()).success
    assert (await client.bg_save()).job_id.startswith("bgsave_")
    assert await client.ping() > 0


async def test_authentication(address: str, password: str) -> None:
    async with AsyncScintireteClient(address) as anonymous:
        with pytest.raises(AuthenticationError, match="authentication required"):
            await anonymous.list_databases()
    async with AsyncScintireteClient(address, password="wrong-" + password) as wrong:
        with pytest.raises(AuthenticationError, match="invalid credentials") as info:
            await wrong.list_databases()
        assert password not in str(info.value) and password not in repr(wrong)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_retries_until_a_late_server_comes_up() -> None:
    port = _free_port()
    server = LiteServer(port=port, password="pw")
    loop = asyncio.get_running_loop()
    loop.call_later(0.6, server.start)
    try:
        policy = RetryPolicy(max_attempts=20, initial_backoff=0.1, max_backoff=0.3)
        async with AsyncScintireteClient(f"127.0.0.1:{port}", password="pw", retry=policy) as c:
            assert isinstance(await c.list_databases(), list)
    finally:
        server.stop()


async def test_unavailable_when_nothing_listens() -> None:
    async with AsyncScintireteClient(
        f"127.0.0.1:{_free_port()}", password="pw", retry=RetryPolicy.disabled()
    ) as c:
        with pytest.raises(UnavailableError) as info:
            await c.list_databases()
        assert info.value.code is grpc.StatusCode.UNAVAILABLE
