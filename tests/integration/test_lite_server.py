"""Scintirete Lite over real gRPC on loopback, through the generated stub only.

Every expectation comes from shared/scintirete-v1.md: status codes, messages, ids, counters.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import struct_pb2
from lite_helpers import openssl_certificate

from scintirete_integrations.lite import Engine, HashEmbeddings, LiteServer, create_server
from scintirete_integrations.lite import server as lite_server
from scintirete_integrations.lite.__main__ import parse_args
from scintirete_integrations.lite.servicer import ScintireteServiceServicer

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb, scintirete_pb2_grpc as pb_grpc  # isort: skip

Stub = pb_grpc.ScintireteServiceStub
RPCS = [method.name for method in pb.DESCRIPTOR.services_by_name["ScintireteService"].methods]


@pytest.fixture(scope="module")
def stub(address: str) -> Iterator[Stub]:
    with grpc.insecure_channel(address) as channel:
        yield pb_grpc.ScintireteServiceStub(channel)


@pytest.fixture
def auth(password: str) -> pb.AuthInfo:
    return pb.AuthInfo(password=password)


@pytest.fixture
def db(stub: Stub, auth: pb.AuthInfo) -> Iterator[str]:
    """A fresh database per test, dropped afterwards."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    stub.CreateDatabase(pb.CreateDatabaseRequest(auth=auth, name=name))
    yield name
    stub.DropDatabase(pb.DropDatabaseRequest(auth=auth, name=name))


def fails(call: Callable[[Any], Any], request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    return caught.value


def assert_status(error: grpc.RpcError, code: grpc.StatusCode, details: str) -> None:
    assert (error.code(), error.details()) == (code, details)


def make_collection(stub: Stub, auth: pb.AuthInfo, db: str, name: str = "c", metric: int = pb.L2) -> str:
    stub.CreateCollection(
        pb.CreateCollectionRequest(auth=auth, db_name=db, collection_name=name, metric_type=metric)
    )
    return name


def insert(
    stub: Stub,
    auth: pb.AuthInfo,
    db: str,
    rows: Sequence[Sequence[float]],
    metadata: Sequence[dict[str, Any]] | None = None,
    collection: str = "c",
) -> list[int]:
    request = pb.InsertVectorsRequest(auth=auth, db_name=db, collection_name=collection)
    for index, row in enumerate(rows):
        vector = request.vectors.add(elements=row)
        if metadata:
            vector.metadata.update(metadata[index])
    return list(stub.InsertVectors(request).inserted_ids)


def search(stub: Stub, auth: pb.AuthInfo, db: str, query: Sequence[float], top_k: int, **extra: Any) -> Any:
    return stub.Search(
        pb.SearchRequest(auth=auth, db_name=db, collection_name="c", query_vector=query, top_k=top_k, **extra)
    ).results


def info(stub: Stub, auth: pb.AuthInfo, db: str, collection: str = "c") -> pb.CollectionInfo:
    return stub.GetCollectionInfo(
        pb.GetCollectionInfoRequest(auth=auth, db_name=db, collection_name=collection)
    )


# -- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rpc", RPCS)
def test_every_rpc_checks_the_password_first(stub: Stub, password: str, rpc: str) -> None:
    request_type = getattr(
        pb, pb.DESCRIPTOR.services_by_name["ScintireteService"].methods_by_name[rpc].input_type.name
    )
    call = getattr(stub, rpc)
    assert_status(fails(call, request_type()), grpc.StatusCode.UNAUTHENTICATED, "authentication required")
    empty = request_type(auth=pb.AuthInfo(password=""))
    assert_status(fails(call, empty), grpc.StatusCode.UNAUTHENTICATED, "authentication required")
    wrong = request_type(auth=pb.AuthInfo(password=password + "x"))
    assert_status(fails(call, wrong), grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")


# -- databases and collections --------------------------------------------------------------------


def test_database_lifecycle(stub: Stub, auth: pb.AuthInfo) -> None:
    name = f"life {uuid.uuid4().hex}" + "x" * 260  # spaces and 300 characters are accepted
    created = stub.CreateDatabase(pb.CreateDatabaseRequest(auth=auth, name=name))
    assert (created.name, created.success) == (name, True)
    assert name in stub.ListDatabases(pb.ListDatabasesRequest(auth=auth)).names
    again = fails(stub.CreateDatabase, pb.CreateDatabaseRequest(auth=auth, name=name))
    assert_status(again, grpc.StatusCode.ALREADY_EXISTS, f"database '{name}' already exists")
    make_collection(stub, auth, name, "a")
    make_collection(stub, auth, name, "b")
    dropped = stub.DropDatabase(pb.DropDatabaseRequest(auth=auth, name=name))
    assert (dropped.success, dropped.dropped_collections) == (True, 2)
    gone = fails(stub.DropDatabase, pb.DropDatabaseRequest(auth=auth, name=name))
    assert_status(gone, grpc.StatusCode.NOT_FOUND, f"database '{name}' not found")
    empty = fails(stub.CreateDatabase, pb.CreateDatabaseRequest(auth=auth, name=""))
    assert_status(empty, grpc.StatusCode.INVALID_ARGUMENT, "database name cannot be empty")


def test_collection_lifecycle(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    created = stub.CreateCollection(
        pb.CreateCollectionRequest(
            auth=auth, db_name=db, collection_name="c", metric_type=pb.COSINE, hnsw_config=pb.HnswConfig(m=0)
        )
    )
    assert created.success and created.info.name == "c"
    assert (created.info.dimension, created.info.metric_type) == (0, pb.COSINE)
    assert (created.info.hnsw_config.m, created.info.hnsw_config.ef_construction) == (16, 200)
    custom = stub.CreateCollection(
        pb.CreateCollectionRequest(
            auth=auth,
            db_name=db,
            collection_name="d",
            metric_type=pb.L2,
            hnsw_config=pb.HnswConfig(m=4, ef_construction=-1),
        )
    )
    assert (custom.info.hnsw_config.m, custom.info.hnsw_config.ef_construction) == (4, 200)
    listed = stub.ListCollections(pb.ListCollectionsRequest(auth=auth, db_name=db)).collections
    assert [c.name for c in listed] == ["c", "d"]
    exists = fails(
        stub.CreateCollection,
        pb.CreateCollectionRequest(auth=auth, db_name=db, collection_name="c", metric_type=pb.L2),
    )
    assert_status(exists, grpc.StatusCode.ALREADY_EXISTS, f"collection 'c' already exists in database '{db}'")
    insert(stub, auth, db, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    stub.DeleteVectors(pb.DeleteVectorsRequest(auth=auth, db_name=db, collection_name="c", ids=[1]))
    dropped = stub.DropCollection(pb.DropCollectionRequest(auth=auth, db_name=db, collection_name="c"))
    assert (dropped.success, dropped.dropped_vectors) == (True, 2)
    missing = fails(
        stub.GetCollectionInfo, pb.GetCollectionInfoRequest(auth=auth, db_name=db, collection_name="c")
    )
    assert_status(missing, grpc.StatusCode.NOT_FOUND, f"collection 'c' not found in database '{db}'")


@pytest.mark.parametrize(
    ("request_fields", "code", "details"),
    [
        (
            {"metric_type": pb.DISTANCE_METRIC_UNSPECIFIED},
            grpc.StatusCode.INVALID_ARGUMENT,
            "distance metric must be specified",
        ),
        ({"metric_type": 7}, grpc.StatusCode.INTERNAL, "unsupported distance metric: 7"),
        (
            {"metric_type": pb.L2, "collection_name": ""},
            grpc.StatusCode.INVALID_ARGUMENT,
            "collection name cannot be empty",
        ),
        (
            {"metric_type": pb.L2, "db_name": "no-such-db"},
            grpc.StatusCode.NOT_FOUND,
            "database 'no-such-db' not found",
        ),
    ],
)
def test_create_collection_errors(
    stub: Stub,
    auth: pb.AuthInfo,
    db: str,
    request_fields: dict[str, Any],
    code: grpc.StatusCode,
    details: str,
) -> None:
    fields = {"db_name": db, "collection_name": "x", **request_fields}
    assert_status(
        fails(stub.CreateCollection, pb.CreateCollectionRequest(auth=auth, **fields)), code, details
    )


# -- vectors --------------------------------------------------------------------------------------


def test_ids_are_assigned_by_the_server_in_request_order(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    make_collection(stub, auth, db)
    assert insert(stub, auth, db, [[1.0, 2.0]] * 4) == [1, 2, 3, 4]
    request = pb.InsertVectorsRequest(
        auth=auth, db_name=db, collection_name="c", vectors=[pb.Vector(id=999, elements=[3.0, 4.0])]
    )
    response = stub.InsertVectors(request)
    assert (list(response.inserted_ids), response.inserted_count) == ([5], 1)  # sent 999, got 5
    ids = insert(stub, auth, db, [[float(i), 0.0] for i in range(40)])
    stub.DeleteVectors(pb.DeleteVectorsRequest(auth=auth, db_name=db, collection_name="c", ids=ids))
    assert insert(stub, auth, db, [[0.0, 0.0]]) == [46]  # never reused


@pytest.mark.parametrize(
    ("rows", "details"),
    [
        ([], "no vectors provided"),
        ([[1.0, 2.0], []], "vector elements cannot be empty"),
        (
            [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0]],
            "vector[1] has dimension 3, expected 4 (from first vector)",
        ),
    ],
)
def test_invalid_inserts(
    stub: Stub, auth: pb.AuthInfo, db: str, rows: list[list[float]], details: str
) -> None:
    make_collection(stub, auth, db)
    assert_status(fails(lambda r: insert(stub, auth, db, r), rows), grpc.StatusCode.INVALID_ARGUMENT, details)
    assert info(stub, auth, db).vector_count == 0


def test_the_first_insert_fixes_the_dimension(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    make_collection(stub, auth, db)
    insert(stub, auth, db, [[0.0, 0.0, 0.0, 0.0]])  # an all-zero vector is fine
    assert info(stub, auth, db).dimension == 4
    wrong = fails(lambda r: insert(stub, auth, db, r), [[1.0, 2.0, 3.0]])
    assert_status(wrong, grpc.StatusCode.INVALID_ARGUMENT, "vector[0] has dimension 3, expected 4")
    unknown = fails(lambda r: insert(stub, auth, db, r, collection="nope"), [[1.0]])
    assert_status(unknown, grpc.StatusCode.NOT_FOUND, f"collection 'nope' not found in database '{db}'")


def test_soft_delete_and_counters(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    make_collection(stub, auth, db)
    insert(stub, auth, db, np.eye(6).tolist())

    def delete(ids: list[int]) -> int:
        return stub.DeleteVectors(
            pb.DeleteVectorsRequest(auth=auth, db_name=db, collection_name="c", ids=ids)
        ).deleted_count

    assert delete([3]) == 1
    assert (info(stub, auth, db).vector_count, info(stub, auth, db).deleted_count) == (5, 1)
    assert delete([3, 4, 12345]) == 1  # deleted and unknown ids are skipped
    empty = fails(stub.DeleteVectors, pb.DeleteVectorsRequest(auth=auth, db_name=db, collection_name="c"))
    assert_status(empty, grpc.StatusCode.INVALID_ARGUMENT, "no IDs provided")
    assert [hit.id for hit in search(stub, auth, db, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0], 10)] == [1, 2, 5, 6]


# -- search ---------------------------------------------------------------------------------------


def test_search_results_carry_id_metadata_and_a_vector(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    make_collection(stub, auth, db)
    metadata = {"i": 1, "s": "text", "b": True, "n": None, "l": [1, "a", [2]], "o": {"k": 2.5, "e": {}}}
    insert(stub, auth, db, [[1.0, 0.0], [0.0, 3.0]], [metadata, {}])
    hits = search(stub, auth, db, [1.0, 0.0], 5)
    assert [hit.id for hit in hits] == [1, 2]
    assert hits[0].distance == 0.0  # an exact match
    assert hits[1].distance == pytest.approx(math.sqrt(10))
    expected = struct_pb2.Struct()
    expected.update({**metadata, "i": 1.0})  # every number comes back as a double
    assert hits[0].metadata == expected and hits[0].metadata["i"] == 1.0
    assert hits[0].HasField("vector") and hits[0].vector.id == 1 and hits[0].vector.metadata == expected
    assert list(hits[0].vector.elements) == []  # only with include_vector
    assert hits[1].HasField("vector") and hits[1].vector.id == 2
    with_vectors = search(stub, auth, db, [0.0, 3.0], 1, include_vector=True)
    assert list(with_vectors[0].vector.elements) == [0.0, 3.0]


@pytest.mark.parametrize(
    ("top_k", "ef_search", "expected"),
    [(51, None, 50), (200, None, 50), (200, 100, 100), (200, 150, 120), (7, 0, 7)],
)
def test_result_count_is_capped_like_upstream(
    stub: Stub, auth: pb.AuthInfo, db: str, top_k: int, ef_search: int | None, expected: int
) -> None:
    make_collection(stub, auth, db)
    insert(stub, auth, db, np.random.default_rng(1).standard_normal((120, 8)).tolist())
    extra = {} if ef_search is None else {"ef_search": ef_search}
    hits = search(stub, auth, db, [0.5] * 8, top_k, **extra)
    assert len(hits) == expected
    distances = [hit.distance for hit in hits]
    assert distances == sorted(distances)


def test_search_errors_and_wrong_dimension(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    make_collection(stub, auth, db)
    insert(stub, auth, db, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    empty = fails(stub.Search, pb.SearchRequest(auth=auth, db_name=db, collection_name="c", top_k=1))
    assert_status(empty, grpc.StatusCode.INVALID_ARGUMENT, "query vector cannot be empty")
    no_k = fails(
        stub.Search, pb.SearchRequest(auth=auth, db_name=db, collection_name="c", query_vector=[1.0], top_k=0)
    )
    assert_status(no_k, grpc.StatusCode.INVALID_ARGUMENT, "top_k must be positive")
    hits = search(stub, auth, db, [1.0, 0.0], 5)  # wrong dimension: not an error
    assert [(hit.id, hit.distance) for hit in hits] == [(1, math.inf), (2, math.inf)]


def test_cosine_and_inner_product_over_the_wire(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    make_collection(stub, auth, db, "c", pb.COSINE)
    insert(stub, auth, db, [[1.0, 0.0], [0.0, 0.0], [-2.0, 0.0]])
    assert [(h.id, h.distance) for h in search(stub, auth, db, [3.0, 0.0], 3)] == [
        (1, 0.0),
        (2, 1.0),
        (3, 2.0),
    ]
    make_collection(stub, auth, db, "ip", pb.INNER_PRODUCT)
    insert(stub, auth, db, [[1.0, 2.0], [3.0, 1.0]], collection="ip")
    request = pb.SearchRequest(auth=auth, db_name=db, collection_name="ip", query_vector=[1.0, 1.0], top_k=2)
    assert [(h.id, h.distance) for h in stub.Search(request).results] == [(2, -4.0), (1, -3.0)]


def test_large_batches_round_trip(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    make_collection(stub, auth, db)
    vectors = np.random.default_rng(2).standard_normal((1000, 384)).astype(np.float32)
    ids = insert(stub, auth, db, vectors.tolist(), [{"row": i} for i in range(1000)])
    assert ids == list(range(1, 1001))
    hits = search(stub, auth, db, vectors[777].tolist(), 3, include_vector=True)
    assert hits[0].id == 778 and hits[0].distance == 0.0 and hits[0].metadata["row"] == 777.0
    assert np.array_equal(np.array(hits[0].vector.elements, np.float32), vectors[777])


# -- embeddings (the session server uses HashEmbeddings(64)) --------------------------------------


def test_embedding_models_and_embed_text(stub: Stub, auth: pb.AuthInfo) -> None:
    models = stub.ListEmbeddingModels(pb.ListEmbeddingModelsRequest(auth=auth))
    assert models.default_model == "hash-64"
    assert [(m.id, m.dimension, m.available) for m in models.models] == [("hash-64", 64, True)]
    results = stub.EmbedText(pb.EmbedTextRequest(auth=auth, texts=["alpha", "beta"])).results
    assert [(r.text, r.index, len(r.embedding)) for r in results] == [("alpha", 0, 64), ("beta", 1, 64)]
    assert np.allclose(np.array(results[0].embedding), HashEmbeddings(64).embed_one("alpha"))
    empty = fails(stub.EmbedText, pb.EmbedTextRequest(auth=auth))
    assert_status(empty, grpc.StatusCode.INVALID_ARGUMENT, "no texts provided")
    unknown = fails(stub.EmbedText, pb.EmbedTextRequest(auth=auth, texts=["a"], embedding_model="gpt-x"))
    assert unknown.code() == grpc.StatusCode.INTERNAL
    assert unknown.details().startswith("failed to get embeddings: unknown embedding model 'gpt-x'")


def test_embed_and_insert_then_embed_and_search(stub: Stub, auth: pb.AuthInfo, db: str) -> None:
    make_collection(stub, auth, db, "c", pb.COSINE)
    texts = [
        pb.TextWithMetadata(id=999, text="the cat sat on the mat", metadata={"n": 1}),
        pb.TextWithMetadata(text="stock markets fell sharply"),
    ]
    inserted = stub.EmbedAndInsert(
        pb.EmbedAndInsertRequest(auth=auth, db_name=db, collection_name="c", texts=texts)
    )
    assert (list(inserted.inserted_ids), inserted.inserted_count) == ([1, 2], 2)
    assert info(stub, auth, db).dimension == 64
    request = pb.EmbedAndSearchRequest(
        auth=auth, db_name=db, collection_name="c", query_text="the cat sat on the mat", top_k=2
    )
    hits = stub.EmbedAndSearch(request).results
    assert [hit.id for hit in hits] == [1, 2]
    assert hits[0].distance == pytest.approx(0.0, abs=1e-6) and hits[0].metadata["n"] == 1.0
    request.include_vector = True
    request.ef_search = 1
    [only] = stub.EmbedAndSearch(request).results
    assert len(only.vector.elements) == 64
    no_texts = fails(
        stub.EmbedAndInsert, pb.EmbedAndInsertRequest(auth=auth, db_name=db, collection_name="c")
    )
    assert_status(no_texts, grpc.StatusCode.INVALID_ARGUMENT, "no texts provided")
    no_query = fails(
        stub.EmbedAndSearch, pb.EmbedAndSearchRequest(auth=auth, db_name=db, collection_name="c", top_k=1)
    )
    assert_status(no_query, grpc.StatusCode.INVALID_ARGUMENT, "query text cannot be empty")
    no_k = fails(
        stub.EmbedAndSearch,
        pb.EmbedAndSearchRequest(auth=auth, db_name=db, collection_name="c", query_text="x"),
    )
    assert_status(no_k, grpc.StatusCode.INVALID_ARGUMENT, "top_k must be positive")
    no_db = fails(stub.EmbedAndInsert, pb.EmbedAndInsertRequest(auth=auth, collection_name="c", texts=texts))
    assert_status(no_db, grpc.StatusCode.INVALID_ARGUMENT, "database name cannot be empty")
    missing = fails(
        stub.EmbedAndInsert,
        pb.EmbedAndInsertRequest(auth=auth, db_name=db, collection_name="zz", texts=texts),
    )
    assert_status(missing, grpc.StatusCode.NOT_FOUND, f"collection 'zz' not found in database '{db}'")


# -- a server of our own --------------------------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[LiteServer]:
    with LiteServer(password="pw") as server:
        yield server


@pytest.fixture
def own_stub(own_server: LiteServer) -> Iterator[Stub]:
    with grpc.insecure_channel(own_server.address) as channel:
        yield pb_grpc.ScintireteServiceStub(channel)


def test_without_a_provider_embedding_rpcs_fail_like_upstream(own_stub: Stub) -> None:
    auth = pb.AuthInfo(password="pw")
    expected = "failed to get embeddings: no embedding provider is configured"
    calls: list[tuple[Callable[[Any], Any], Any]] = [
        (own_stub.EmbedText, pb.EmbedTextRequest(auth=auth, texts=["a"])),
        (
            own_stub.EmbedAndInsert,
            pb.EmbedAndInsertRequest(
                auth=auth, db_name="d", collection_name="c", texts=[pb.TextWithMetadata(text="a")]
            ),
        ),
        (
            own_stub.EmbedAndSearch,
            pb.EmbedAndSearchRequest(auth=auth, db_name="d", collection_name="c", query_text="a", top_k=1),
        ),
    ]
    for call, request in calls:
        assert_status(fails(call, request), grpc.StatusCode.INTERNAL, expected)
    models = own_stub.ListEmbeddingModels(pb.ListEmbeddingModelsRequest(auth=auth))
    assert (list(models.models), models.default_model) == ([], "")


def test_in_memory_save_and_bg_save_persist_nothing(own_stub: Stub) -> None:
    auth = pb.AuthInfo(password="pw")
    saved = own_stub.Save(pb.SaveRequest(auth=auth))
    assert (saved.success, saved.snapshot_size) == (True, 0)
    assert "nothing is persisted" in saved.message
    jobs = [own_stub.BgSave(pb.BgSaveRequest(auth=auth)) for _ in range(2)]
    assert [job.job_id for job in jobs] == ["bgsave_1", "bgsave_2"]
    assert all(job.success and "nothing is persisted" in job.message for job in jobs)


def test_unexpected_errors_become_internal_and_the_server_lives_on(
    own_server: LiteServer, own_stub: Stub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    auth = pb.AuthInfo(password="pw")

    def broken() -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(own_server.engine, "list_databases", broken)
    with caplog.at_level(logging.ERROR, logger="scintirete_integrations.lite.servicer"):
        error = fails(own_stub.ListDatabases, pb.ListDatabasesRequest(auth=auth))
    assert_status(
        error, grpc.StatusCode.INTERNAL, "internal error in ListDatabases; the server log has details"
    )
    assert "RuntimeError: boom" in caplog.text
    monkeypatch.undo()
    own_stub.CreateDatabase(pb.CreateDatabaseRequest(auth=auth, name="alive"))
    assert list(own_stub.ListDatabases(pb.ListDatabasesRequest(auth=auth)).names) == ["alive"]


def test_requests_above_the_size_limit_are_refused() -> None:
    with (
        LiteServer(password="pw", max_receive_message_bytes=4096) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        stub = pb_grpc.ScintireteServiceStub(channel)
        auth = pb.AuthInfo(password="pw")
        stub.CreateDatabase(pb.CreateDatabaseRequest(auth=auth, name="d"))
        make_collection(stub, auth, "d")
        error = fails(lambda rows: insert(stub, auth, "d", rows), [[1.0] * 2000])
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        insert(stub, auth, "d", [[1.0] * 200] * 3)  # under the limit
        assert (
            len(search(stub, auth, "d", [1.0] * 200, 3, include_vector=True)) == 3
        )  # responses are not capped


def test_the_default_limit_is_the_real_servers_4_mib_with_its_message() -> None:
    # The facts page's example: 1,000 vectors of 1536-d, refused before anything is stored.
    with LiteServer(password="pw") as server, grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ScintireteServiceStub(channel)
        auth = pb.AuthInfo(password="pw")
        stub.CreateDatabase(pb.CreateDatabaseRequest(auth=auth, name="d"))
        make_collection(stub, auth, "d")
        rows = np.random.default_rng(0).random((1000, 1536)).tolist()
        request = pb.InsertVectorsRequest(
            auth=auth, db_name="d", collection_name="c", vectors=[pb.Vector(elements=row) for row in rows]
        )
        with pytest.raises(grpc.RpcError) as caught:
            stub.InsertVectors(request)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert caught.value.details() == (
            f"grpc: received message larger than max ({request.ByteSize()} vs. 4194304)"
        )
        assert server.engine.collection_info("d", "c").vector_count == 0
        del request.vectors[600:]  # under 4 MiB
        assert len(stub.InsertVectors(request).inserted_ids) == 600


def test_a_larger_receive_limit_can_be_chosen_and_a_graph_index_served() -> None:
    with (
        LiteServer(password="pw", max_receive_message_bytes=16 << 20, index="hnsw", index_seed=5) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        assert server.engine.index == "hnsw" and "hnsw" in repr(server)
        stub = pb_grpc.ScintireteServiceStub(channel)
        auth = pb.AuthInfo(password="pw")
        stub.CreateDatabase(pb.CreateDatabaseRequest(auth=auth, name="d"))
        make_collection(stub, auth, "d")
        rows = np.random.default_rng(1).random((1000, 1536)).astype(np.float32)
        assert len(insert(stub, auth, "d", rows.tolist())) == 1000
        assert len(search(stub, auth, "d", rows[0].tolist(), 5)) == 5
    with pytest.raises(ValueError, match="positive"):
        LiteServer(max_receive_message_bytes=0)
    with pytest.raises(ValueError, match="exact, hnsw"):
        LiteServer(index="flat")  # type: ignore[arg-type]


def test_a_persistent_server_restarts_with_everything(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    auth = pb.AuthInfo(password="pw")
    with (
        LiteServer(data_dir, password="pw", fsync="always") as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        stub = pb_grpc.ScintireteServiceStub(channel)
        stub.CreateDatabase(pb.CreateDatabaseRequest(auth=auth, name="d"))
        make_collection(stub, auth, "d")
        insert(stub, auth, "d", [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [{"k": "a"}, {"k": "b"}, {"k": "c"}])
        stub.DeleteVectors(pb.DeleteVectorsRequest(auth=auth, db_name="d", collection_name="c", ids=[2]))
        saved = stub.Save(pb.SaveRequest(auth=auth))
        assert saved.success and saved.snapshot_size == (data_dir / "snapshot.jsonl").stat().st_size
        took = saved.duration_seconds
        assert took >= 0.0  # a real, non-negative figure (no timing is judged)
        insert(stub, auth, "d", [[2.0, 2.0]], [{"k": "d"}])  # after the snapshot: in the log only
        assert stub.BgSave(pb.BgSaveRequest(auth=auth)).message == "background save started"
    with LiteServer(data_dir, password="pw") as server, grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ScintireteServiceStub(channel)
        restored = info(stub, auth, "d")
        assert (restored.dimension, restored.vector_count, restored.deleted_count) == (2, 3, 1)
        hits = search(stub, auth, "d", [1.0, 0.0], 10)
        assert [(hit.id, hit.metadata["k"]) for hit in hits] == [
            (1, "a"),
            (3, "c"),
            (4, "d"),
        ]  # metadata survives
        assert insert(stub, auth, "d", [[0.0, 0.0]]) == [5]


# -- LiteServer and create_server -----------------------------------------------------------------


def test_lite_server_properties_and_misuse(caplog: pytest.LogCaptureFixture) -> None:
    server = LiteServer()
    assert len(server.password) >= 24 and server.password not in repr(server)
    assert "not started" in repr(server)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.address
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.engine
    with server:
        host, port = server.address.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        assert server.address in repr(server) and server.password not in repr(server)
        assert isinstance(server.engine, Engine) and not server.tls
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    server.stop()  # a second stop is harmless
    with pytest.raises(ValueError, match="no anonymous mode"):
        LiteServer(password="")
    with pytest.raises(ValueError, match="go together"):
        LiteServer(tls_certificate=b"cert")
    with pytest.raises(ValueError, match="needs tls_certificate"):
        LiteServer(tls_client_ca=b"ca")
    with pytest.raises(ValueError, match="no anonymous mode"):
        ScintireteServiceServicer(Engine(), "")
    with (
        caplog.at_level(logging.WARNING, logger="scintirete_integrations.lite.server"),
        LiteServer(host="0.0.0.0"),
    ):
        pass
    assert "without TLS" in caplog.text


def test_create_server_serves_a_servicer_and_refuses_a_taken_port() -> None:
    servicer = ScintireteServiceServicer(Engine(), "pw")
    server, port = create_server("127.0.0.1:0", servicer, max_workers=2)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.ScintireteServiceStub(channel)
            assert (
                list(stub.ListDatabases(pb.ListDatabasesRequest(auth=pb.AuthInfo(password="pw"))).names) == []
            )
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            create_server(f"127.0.0.1:{port}", servicer)
    finally:
        server.stop(None).wait()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make certificates")
def test_tls_and_client_certificates(tmp_path: Path) -> None:
    server_cert, server_key = openssl_certificate(tmp_path, "server")
    client_cert, client_key = openssl_certificate(tmp_path, "client")
    request = pb.ListDatabasesRequest(auth=pb.AuthInfo(password="pw"))
    with LiteServer(
        password="pw", tls_certificate=str(server_cert), tls_private_key=server_key.read_bytes()
    ) as server:
        assert server.tls
        credentials = grpc.ssl_channel_credentials(root_certificates=server_cert.read_bytes())
        with grpc.secure_channel(server.address, credentials) as channel:
            assert list(pb_grpc.ScintireteServiceStub(channel).ListDatabases(request).names) == []
    with LiteServer(
        password="pw",
        tls_certificate=server_cert.read_text(),
        tls_private_key=server_key,
        tls_client_ca=client_cert,
    ) as server:
        anonymous = grpc.ssl_channel_credentials(root_certificates=server_cert.read_bytes())
        with grpc.secure_channel(server.address, anonymous) as channel:
            refused = fails(pb_grpc.ScintireteServiceStub(channel).ListDatabases, request)
            assert refused.code() == grpc.StatusCode.UNAVAILABLE
        mutual = grpc.ssl_channel_credentials(
            root_certificates=server_cert.read_bytes(),
            private_key=client_key.read_bytes(),
            certificate_chain=client_cert.read_bytes(),
        )
        with grpc.secure_channel(server.address, mutual) as channel:
            assert list(pb_grpc.ScintireteServiceStub(channel).ListDatabases(request).names) == []


# -- the console entry point ----------------------------------------------------------------------


def test_parse_args_defaults_and_choices() -> None:
    args = parse_args([])
    assert (args.host, args.port, args.data_dir, args.fsync, args.password) == (
        "127.0.0.1",
        9090,
        None,
        "everysec",
        None,
    )
    args = parse_args(
        ["--port", "0", "--fsync", "always", "--hash-embeddings", "32", "--embedding-url", "http://h/v1"]
    )
    assert (args.port, args.fsync, args.hash_embeddings, args.embedding_url) == (
        0,
        "always",
        32,
        "http://h/v1",
    )


def test_parse_args_index_seed_and_receive_limit() -> None:
    args = parse_args([])
    assert (args.index, args.index_seed, args.max_receive_bytes) == ("exact", 0, 4 * 1024 * 1024)
    args = parse_args(["--index", "hnsw", "--index-seed", "7", "--max-receive-bytes", "65536"])
    assert (args.index, args.index_seed, args.max_receive_bytes) == ("hnsw", 7, 65536)
    with pytest.raises(SystemExit):
        parse_args(["--index", "flat"])


def run_cli(arguments: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scintirete_integrations.lite", "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_python_m_runs_until_sigterm_and_snapshots(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "SCINTIRETE_PASSWORD"}
    process = run_cli(
        ["--data-dir", str(tmp_path / "data"), "--hash-embeddings", "16", "--log-level", "WARNING"], env
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        password = process.stdout.readline().strip().rsplit(" ", 1)[-1]  # generated, shown once
        with grpc.insecure_channel(address) as channel:
            stub = pb_grpc.ScintireteServiceStub(channel)
            auth = pb.AuthInfo(password=password)
            stub.CreateDatabase(pb.CreateDatabaseRequest(auth=auth, name="cli"))
            models = stub.ListEmbeddingModels(pb.ListEmbeddingModelsRequest(auth=auth))
            assert models.default_model == "hash-16"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Scintirete Lite stopped" in stderr
    assert (tmp_path / "data" / "snapshot.jsonl").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_cli_takes_the_password_from_the_environment() -> None:
    process = run_cli(["--log-level", "WARNING"], {**os.environ, "SCINTIRETE_PASSWORD": "from-env"})
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        with grpc.insecure_channel(address) as channel:
            request = pb.ListDatabasesRequest(auth=pb.AuthInfo(password="from-env"))
            assert list(pb_grpc.ScintireteServiceStub(channel).ListDatabases(request).names) == []
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "password" not in stdout  # only a generated password is printed


def test_blas_runs_single_threaded_while_serving_and_is_restored_after() -> None:
    import threadpoolctl

    def blas_threads() -> set[int]:
        return {info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"}

    before = blas_threads()
    with LiteServer():
        assert blas_threads() <= {1}
    assert blas_threads() == before
    with LiteServer(blas_threads=None):
        assert blas_threads() == before


def test_a_generated_password_can_be_passed_after_password_on_a_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn = iter(["-starts-like-a-flag", "plain_Token-1", "--another", "plain_Token-2"])
    monkeypatch.setattr(lite_server.secrets, "token_urlsafe", lambda n: next(drawn))
    assert lite_server.new_password() == "plain_Token-1"  # argparse would read "-..." as an option
    assert LiteServer().password == "plain_Token-2"
