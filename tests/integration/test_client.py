"""ScintireteClient against a Lite server over loopback gRPC. Mirrored by test_async_client.py."""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import uuid
from collections.abc import Iterator

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
from scintirete_integrations.client import ScintireteClient
from scintirete_integrations.lite import LiteServer


@pytest.fixture
def client(address: str, password: str) -> Iterator[ScintireteClient]:
    with ScintireteClient(address, password=password) as c:
        yield c


@pytest.fixture
def db(client: ScintireteClient) -> Iterator[str]:
    name = f"db-{uuid.uuid4().hex[:8]}"
    client.create_database(name)
    yield name
    with contextlib.suppress(NotFoundError):
        client.drop_database(name)


def test_databases_create_list_drop(client: ScintireteClient) -> None:
    name = f"db-{uuid.uuid4().hex[:8]}"
    client.create_database(name)
    assert name in client.list_databases()
    with pytest.raises(AlreadyExistsError):
        client.create_database(name)
    assert client.ensure_database(name) is False
    client.create_collection(name, "a")
    client.create_collection(name, "b")
    assert client.drop_database(name) == 2
    assert name not in client.list_databases()
    assert client.ensure_database(name) is True
    client.drop_database(name)
    with pytest.raises(NotFoundError, match=f"database '{name}' not found"):
        client.drop_database(name)


def test_collections_lifecycle_and_info(client: ScintireteClient, db: str) -> None:
    info = client.create_collection(db, "c", "l2", m=8, ef_construction=64)
    assert (info.name, info.dimension, info.vector_count, info.metric) == ("c", 0, 0, Metric.L2)
    assert (info.hnsw.m, info.hnsw.ef_construction) == (8, 64)
    assert client.create_collection(db, "d", Metric.INNER_PRODUCT, m=0).hnsw.m == 16  # <= 0: server default
    assert sorted(c.name for c in client.list_collections(db)) == ["c", "d"]
    client.insert_vectors(db, "c", [[1, 2, 3], [4, 5, 6]])
    info = client.get_collection_info(db, "c")
    assert (info.dimension, info.vector_count, info.deleted_count) == (3, 2, 0)
    assert client.drop_collection(db, "c") == 2
    with pytest.raises(NotFoundError, match=f"collection 'c' not found in database '{db}'"):
        client.get_collection_info(db, "c")


def test_ensure_collection_creates_the_database_and_checks_the_metric(client: ScintireteClient) -> None:
    name = f"db-{uuid.uuid4().hex[:8]}"
    try:
        assert client.ensure_collection(name, "c", "cosine").metric is Metric.COSINE
        assert client.ensure_collection(name, "c", "COSINE").name == "c"
        with pytest.raises(InvalidArgumentError, match="exists with metric 'cosine', not 'l2'"):
            client.ensure_collection(name, "c", "l2")
    finally:
        client.drop_database(name)


def test_insert_returns_ids_in_order_and_search_finds_them(client: ScintireteClient, db: str) -> None:
    client.create_collection(db, "c", "l2")
    vectors = np.eye(4, dtype=np.float32)
    ids = client.insert_vectors(db, "c", vectors, [{"n": i, "tag": f"t{i}"} for i in range(4)])
    assert ids == [1, 2, 3, 4]
    assert client.insert_vectors(db, "c", [[0.5, 0.5, 0, 0]]) == [5]
    hits = client.search(db, "c", [1, 0, 0, 0], top_k=3)
    assert next(h.id for h in hits) == 1
    assert hits[0].distance == 0.0
    assert hits[0].metadata == {"n": 0.0, "tag": "t0"}  # numbers come back as doubles
    assert hits[0].vector is None
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    with_vectors = client.search(db, "c", [0, 1, 0, 0], top_k=1, include_vector=True)
    assert list(with_vectors[0].vector or []) == [0, 1, 0, 0]


@pytest.mark.parametrize(
    ("metric", "expected"),
    [("l2", math.sqrt(2)), ("cosine", 1.0), ("inner_product", -0.0)],
)
def test_distances_follow_the_metric(client: ScintireteClient, db: str, metric: str, expected: float) -> None:
    client.create_collection(db, "c", metric)
    client.insert_vectors(db, "c", [[0, 1]])
    (hit,) = client.search(db, "c", [1, 0], top_k=1)
    assert hit.distance == pytest.approx(expected, abs=1e-6)


def test_delete_counts_only_live_ids(client: ScintireteClient, db: str) -> None:
    client.create_collection(db, "c", "cosine")
    ids = client.insert_vectors(db, "c", np.random.default_rng(1).random((6, 3)))
    assert client.delete_vectors(db, "c", [ids[0], ids[0], 999]) == 1
    assert client.delete_vectors(db, "c", [ids[0]]) == 0
    info = client.get_collection_info(db, "c")
    assert (info.vector_count, info.deleted_count) == (5, 1)
    assert ids[0] not in [h.id for h in client.search(db, "c", [1, 1, 1], top_k=10)]
    with pytest.raises(InvalidArgumentError, match="no ids"):
        client.delete_vectors(db, "c", [])


def test_search_beyond_the_default_beam_returns_top_k(client: ScintireteClient, db: str) -> None:
    client.create_collection(db, "c", "l2")
    client.insert_vectors(db, "c", np.random.default_rng(2).random((120, 4)))
    assert len(client.search(db, "c", [0.5] * 4, top_k=100)) == 100  # ef_search raised for us
    assert len(client.search(db, "c", [0.5] * 4, top_k=100, ef_search=30)) == 30  # the server's cap
    assert len(client.search(db, "c", [0.5] * 4, top_k=500)) == 120


def test_client_side_validation_happens_before_sending(client: ScintireteClient, db: str) -> None:
    client.create_collection(db, "c", "l2")
    client.insert_vectors(db, "c", [[1.0, 2.0]])
    cases = [
        (lambda: client.insert_vectors(db, "c", [[1.0, 2.0], [1.0]]), "ragged"),
        (lambda: client.insert_vectors(db, "c", [[1.0, float("nan")]]), "NaN"),
        (lambda: client.insert_vectors(db, "c", [[1e39, 1.0]]), "too large for float32"),
        (lambda: client.insert_vectors(db, "c", []), "no vectors"),
        (lambda: client.insert_vectors(db, "c", [[]]), "empty"),
        (
            lambda: client.insert_vectors(db, "c", [[1.0, 2.0]], [{"a": 1}, {"b": 2}]),
            "1 vectors but 2 metadata",
        ),
        (lambda: client.insert_vectors(db, "c", [[1.0, 2.0, 3.0]]), "has dimension 2"),
        (lambda: client.search(db, "c", [1.0, 2.0, 3.0]), "query vector has dimension 3"),
        (lambda: client.search(db, "c", [1.0, 2.0], top_k=0), "top_k must be a positive integer"),
        (lambda: client.search(db, "c", []), "empty"),
        (lambda: client.create_collection("", "x"), "database name"),
        (lambda: client.create_collection(db, "x", "hamming"), "unknown metric"),
        (lambda: client.insert_vectors(db, "c", [[1.0, 2.0]], [{"when": object()}]), "JSON"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidArgumentError, match=message):
            call()
    assert client.get_collection_info(db, "c").vector_count == 1  # nothing was written


def test_server_side_dimension_error_passes_through(
    client: ScintireteClient, db: str, address: str, password: str
) -> None:
    client.create_collection(db, "c", "l2")
    client.insert_vectors(db, "c", [[1.0, 2.0, 3.0, 4.0]])
    fresh = ScintireteClient(address, password=password)  # knows no dimension yet
    with fresh, pytest.raises(InvalidArgumentError, match="has dimension 3, expected 4"):
        fresh.insert_vectors(db, "c", [[1.0, 2.0, 3.0]])


def test_a_collection_recreated_by_another_client_with_another_dimension_takes_inserts(
    client: ScintireteClient, db: str, address: str, password: str
) -> None:
    client.create_collection(db, "c", "l2")
    client.insert_vectors(db, "c", [[1.0, 2.0, 3.0, 4.0]])  # remembers dimension 4
    with ScintireteClient(address, password=password) as other:
        other.drop_collection(db, "c")
        other.create_collection(db, "c", "l2")
        other.insert_vectors(db, "c", [[1.0, 2.0, 3.0]])
    assert client.insert_vectors(db, "c", [[3.0, 2.0, 1.0]]) == [2]
    assert [hit.id for hit in client.search(db, "c", [3.0, 2.0, 1.0], top_k=1)] == [2]
    with pytest.raises(InvalidArgumentError, match="vector\\[0\\] has dimension 4, but collection 'c'"):
        client.insert_vectors(db, "c", [[1.0, 2.0, 3.0, 4.0]])


def test_large_inserts_are_split_and_keep_order(address: str, password: str, db: str) -> None:
    with ScintireteClient(address, password=password, max_message_bytes=64 * 1024) as small:
        small.create_collection(db, "c", "l2")
        vectors = np.random.default_rng(3).random((300, 128), dtype=np.float32)  # ~155 KB: three requests
        ids = small.insert_vectors(db, "c", vectors, [{"i": i} for i in range(300)])
        assert ids == list(range(1, 301))
        hit = small.search(db, "c", vectors[123], top_k=1)[0]
        assert (hit.id, hit.metadata["i"]) == (124, 123.0)
        with pytest.raises(InvalidArgumentError, match="message limit"):
            small.insert_vectors(db, "c", np.zeros((1, 128)), [{"big": "x" * 70_000}])


def test_embedding_rpcs(client: ScintireteClient, db: str) -> None:
    models = client.list_embedding_models()
    assert models.default_model in [m.id for m in models.models]
    vectors = client.embed_text(["a cat", "a dog"])
    assert len(vectors) == 2 and len(vectors[0]) == next(
        m.dimension for m in models.models if m.id == models.default_model
    )
    client.create_collection(db, "c", "cosine")
    ids = client.embed_and_insert(db, "c", ["a cat", "a dog"], [{"k": "cat"}, {"k": "dog"}])
    assert ids == [1, 2]
    hits = client.embed_and_search(db, "c", "a cat", top_k=2)
    assert hits[0].id == 1 and hits[0].metadata == {"k": "cat"}
    with pytest.raises(InvalidArgumentError, match="no texts"):
        client.embed_text([])


def test_save_bg_save_and_ping(client: ScintireteClient) -> None:
    assert client.save().success
    job = client.bg_save()
    assert job.success and job.job_id.startswith("bgsave_")
    assert client.ping() > 0


def test_authentication(address: str, password: str) -> None:
    with (
        ScintireteClient(address) as anonymous,
        pytest.raises(AuthenticationError, match="authentication required"),
    ):
        anonymous.list_databases()
    with ScintireteClient(address, password="wrong-" + password) as wrong:
        with pytest.raises(AuthenticationError, match="invalid credentials") as info:
            wrong.list_databases()
        assert password not in str(info.value)
        assert password not in repr(wrong)
        assert "password=set" in repr(wrong)


def test_gzip_compression_and_from_env(address: str, password: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCINTIRETE_ADDRESS", address)
    monkeypatch.setenv("SCINTIRETE_PASSWORD", password)
    monkeypatch.setenv("SCINTIRETE_TIMEOUT", "7.5")
    with ScintireteClient.from_env(compression="gzip") as c:
        assert (c.address, c.timeout, c.compression) == (address, 7.5, "gzip")
        assert isinstance(c.list_databases(), list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_retries_until_a_late_server_comes_up() -> None:
    port = _free_port()
    server = LiteServer(port=port, password="pw")
    starter = threading.Timer(0.6, server.start)
    starter.start()
    try:
        policy = RetryPolicy(max_attempts=20, initial_backoff=0.1, max_backoff=0.3)
        with ScintireteClient(f"127.0.0.1:{port}", password="pw", retry=policy) as c:
            assert isinstance(c.list_databases(), list)
            c.ensure_collection("late", "c")
            assert c.insert_vectors("late", "c", [[1.0]]) == [1]
    finally:
        starter.join()
        server.stop()


def test_unavailable_without_retries_and_when_the_server_is_gone() -> None:
    port = _free_port()
    with ScintireteClient(f"127.0.0.1:{port}", password="pw", retry=RetryPolicy.disabled(), timeout=5) as c:
        with pytest.raises(UnavailableError) as info:
            c.list_databases()
        assert info.value.code is grpc.StatusCode.UNAVAILABLE  # not DEADLINE_EXCEEDED: it did not wait
    server = LiteServer(port=port, password="pw")
    server.start()
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.05)
    with ScintireteClient(f"127.0.0.1:{port}", password="pw", retry=policy, timeout=5) as c:
        c.ensure_collection("gone", "c", "l2")
        server.stop()
        with pytest.raises(UnavailableError):
            c.insert_vectors("gone", "c", [[1.0]])


def test_a_call_the_server_does_not_implement_raises_unimplemented_error(address: str, password: str) -> None:
    from scintirete_integrations import UnimplementedError
    from scintirete_integrations.errors import map_rpc_errors

    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary("/scintirete.v1.ScintireteService/Reindex")
        with (
            pytest.raises(UnimplementedError, match="this server does not support Reindex"),
            map_rpc_errors("Reindex"),
        ):
            call(b"", timeout=10)
