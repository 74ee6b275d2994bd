"""Lite and a real Scintirete server held to the same facts (shared/scintirete-v1.md).

Each scenario makes the same calls and returns what it observed; the test compares that with
what the v1 facts say an unmodified server answers. It always runs on Lite; with
``SCINTIRETE_ADDRESS`` and ``SCINTIRETE_PASSWORD`` set, it runs on that server too, so a
difference between the two shows up as a failure on one side.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import grpc
import numpy as np
import pytest

from scintirete_integrations import DocumentCollection, Record, ScintireteClient
from scintirete_integrations.errors import ScintireteError

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb, scintirete_pb2_grpc as pb_grpc  # isort: skip

TARGETS = ["lite"] + (["server"] if os.environ.get("SCINTIRETE_ADDRESS") else [])


class Target(NamedTuple):
    client: ScintireteClient
    stub: pb_grpc.ScintireteServiceStub
    auth: pb.AuthInfo
    db: str


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, address: str, password: str) -> Iterator[Target]:
    if request.param == "server":
        address, password = os.environ["SCINTIRETE_ADDRESS"], os.environ.get("SCINTIRETE_PASSWORD", "")
    db = f"congruence-{uuid.uuid4().hex[:8]}"
    with ScintireteClient(address, password=password) as client, grpc.insecure_channel(address) as channel:
        client.create_database(db)
        try:
            yield Target(client, pb_grpc.ScintireteServiceStub(channel), pb.AuthInfo(password=password), db)
        finally:
            client.drop_database(db)


def _code(call: Callable[[], Any]) -> str:
    """The status name a call fails with ('OK' when it succeeds)."""
    try:
        call()
    except ScintireteError as exc:
        return exc.code.name if exc.code else "CLIENT"
    except grpc.RpcError as exc:
        return exc.code().name  # type: ignore[no-any-return]
    return "OK"


def _raw_search(
    t: Target, name: str, query: list[float], top_k: int, ef: int | None = None
) -> pb.SearchResponse:
    request = pb.SearchRequest(
        auth=t.auth, db_name=t.db, collection_name=name, query_vector=query, top_k=top_k
    )
    if ef is not None:
        request.ef_search = ef
    return t.stub.Search(request)  # type: ignore[no-any-return]


def ids_are_assigned_by_the_server(t: Target) -> dict[str, Any]:
    t.client.create_collection(t.db, "ids", "l2")
    first = t.client.insert_vectors(t.db, "ids", np.random.default_rng(0).random((40, 4)))
    t.client.delete_vectors(t.db, "ids", first)
    request = pb.InsertVectorsRequest(auth=t.auth, db_name=t.db, collection_name="ids")
    request.vectors.add(id=999, elements=[1, 2, 3, 4])
    sent_id = list(t.stub.InsertVectors(request).inserted_ids)
    return {"first": first[:3], "count": len(first), "after_delete": sent_id}


def counters_and_dimension(t: Target) -> dict[str, Any]:
    before = t.client.create_collection(t.db, "counts", "cosine")
    ids = t.client.insert_vectors(t.db, "counts", np.random.default_rng(1).random((6, 3)))
    deleted = t.client.delete_vectors(t.db, "counts", [ids[0], ids[0], 10_000])
    info = t.client.get_collection_info(t.db, "counts")
    return {
        "dimension_before": before.dimension,
        "deleted": deleted,
        "counts": (info.vector_count, info.deleted_count, info.dimension),
        "other_dimension": _code(lambda: _insert_with_fresh_client(t, "counts", [[1.0, 2.0]])),
        "zero_vector": _code(lambda: t.client.insert_vectors(t.db, "counts", [[0.0, 0.0, 0.0]])),
    }


def _insert_with_fresh_client(t: Target, name: str, rows: list[list[float]]) -> list[int]:
    """Insert through a client with no cached dimension, so the server itself judges the request."""
    with ScintireteClient(t.client.address, password=t.auth.password) as fresh:
        return fresh.insert_vectors(t.db, name, rows)


def results_are_capped_by_ef(t: Target) -> dict[str, Any]:
    t.client.create_collection(t.db, "ef", "l2")
    t.client.insert_vectors(t.db, "ef", np.random.default_rng(2).random((120, 8)))
    query = [0.5] * 8
    return {
        "no_ef": [len(_raw_search(t, "ef", query, k).results) for k in (51, 100, 200)],
        "ef_100": len(_raw_search(t, "ef", query, 200, ef=100).results),
        "ef_150": len(_raw_search(t, "ef", query, 200, ef=150).results),
        "client_top_100": len(t.client.search(t.db, "ef", query, top_k=100)),
    }


def search_result_shape(t: Target) -> dict[str, Any]:
    t.client.create_collection(t.db, "shape", "l2")
    t.client.insert_vectors(t.db, "shape", [[1, 0], [0, 1], [3, 4]], [{"n": 1}, {"n": 2}, {"n": 3}])
    plain = _raw_search(t, "shape", [1, 0], 3)
    request = pb.SearchRequest(
        auth=t.auth, db_name=t.db, collection_name="shape", query_vector=[1, 0], top_k=1, include_vector=True
    )
    with_vector = t.stub.Search(request)
    wrong_dimension = _raw_search(t, "shape", [1, 0, 0], 2)
    first = plain.results[0]
    return {
        "order": [item.id for item in plain.results],
        "exact_distance_on_wire": first.HasField("vector") and first.distance == 0.0,
        "sorted": [item.distance for item in plain.results]
        == sorted(item.distance for item in plain.results),
        "vector_submessage": (first.vector.id, len(first.vector.elements), dict(first.vector.metadata)),
        "elements_with_include_vector": list(with_vector.results[0].vector.elements),
        "wrong_dimension": [math.isinf(item.distance) for item in wrong_dimension.results],
    }


def metadata_becomes_json(t: Target) -> dict[str, Any]:
    t.client.create_collection(t.db, "meta", "l2")
    metadata = {"i": 1, "f": 1.5, "s": "x", "b": True, "n": None, "l": [1, "a"], "o": {"k": [True]}}
    t.client.insert_vectors(t.db, "meta", [[1.0, 1.0]], [metadata])
    (hit,) = t.client.search(t.db, "meta", [1.0, 1.0], top_k=1)
    return {"metadata": hit.metadata, "int_type": type(hit.metadata["i"]).__name__}


def names_and_errors(t: Target) -> dict[str, Any]:
    c = t.client
    c.create_collection(t.db, "errs", "l2")
    create = pb.CreateCollectionRequest(auth=t.auth, db_name=t.db, collection_name="bad")
    unspecified = pb.CreateCollectionRequest()
    unspecified.CopyFrom(create)
    out_of_enum = pb.CreateCollectionRequest()
    out_of_enum.CopyFrom(create)
    out_of_enum.metric_type = 7  # type: ignore[assignment]
    return {
        "spaces": _code(lambda: c.create_collection(t.db, "name with spaces", "l2")),
        "long": _code(lambda: c.create_collection(t.db, "x" * 300, "l2")),
        "empty_name": _code(
            lambda: t.stub.CreateCollection(
                pb.CreateCollectionRequest(auth=t.auth, db_name=t.db, collection_name="", metric_type=pb.L2)
            )
        ),
        "unspecified_metric": _code(lambda: t.stub.CreateCollection(unspecified)),
        "metric_out_of_enum": _code(lambda: t.stub.CreateCollection(out_of_enum)),
        "exists": _code(lambda: c.create_collection(t.db, "errs", "l2")),
        "missing_collection": _code(lambda: c.get_collection_info(t.db, "nope")),
        "missing_database": _code(lambda: c.list_collections(t.db + "-nope")),
        "no_vectors": _code(
            lambda: t.stub.InsertVectors(
                pb.InsertVectorsRequest(auth=t.auth, db_name=t.db, collection_name="errs")
            )
        ),
        "empty_delete": _code(
            lambda: t.stub.DeleteVectors(
                pb.DeleteVectorsRequest(auth=t.auth, db_name=t.db, collection_name="errs")
            )
        ),
        "top_k_zero": _code(lambda: _raw_search(t, "errs", [1.0], 0)),
        "empty_query": _code(lambda: _raw_search(t, "errs", [], 1)),
        "no_password": _code(lambda: t.stub.ListDatabases(pb.ListDatabasesRequest())),
        "wrong_password": _code(
            lambda: t.stub.ListDatabases(
                pb.ListDatabasesRequest(auth=pb.AuthInfo(password=t.auth.password + "x"))
            )
        ),
    }


def hnsw_defaults_and_drops(t: Target) -> dict[str, Any]:
    info = t.client.create_collection(t.db, "hnsw", "l2", m=0, ef_construction=-5)
    t.client.insert_vectors(t.db, "hnsw", np.ones((3, 2)))
    t.client.create_collection(t.db, "other", "l2")
    dropped_vectors = t.client.drop_collection(t.db, "hnsw")
    name = t.db + "-drop"
    t.client.create_database(name)
    t.client.create_collection(name, "a", "l2")
    t.client.create_collection(name, "b", "l2")
    return {
        "hnsw": (info.hnsw.m, info.hnsw.ef_construction),
        "dropped_vectors": dropped_vectors,
        "dropped_collections": t.client.drop_database(name),
    }


def layer_deletes_keep_survivors_reachable(t: Target) -> dict[str, Any]:
    """The delete-heavy case that hides survivors on the real server when vectors are soft-deleted."""
    docs = DocumentCollection("survivors", t.client, db=t.db, metric="cosine", compact_min_hidden=100)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((200, 16)).astype(np.float32)
    docs.upsert(Record(f"d{i}", f"text {i}", vectors[i], {"i": i}) for i in range(200))
    survivors = {f"d{i}" for i in range(0, 200, 20)}
    docs.delete(f"d{i}" for i in range(200) if f"d{i}" not in survivors)
    found_by_search = set()
    for i in range(0, 200, 20):
        found_by_search |= {hit.record.id for hit in docs.search(vectors[i], k=10)}
    fresh = DocumentCollection("survivors", t.client, db=t.db, metric="cosine")
    return {
        "scan": {r.id for r in docs.scan()} == survivors,
        "fresh_get": {r.id for r in fresh.get(f"d{i}" for i in range(200))} == survivors,
        "search": found_by_search == survivors,
        "server_deleted_count": sum(c.deleted_count for c in t.client.list_collections(t.db)),
    }


SCENARIOS: dict[Callable[[Target], dict[str, Any]], dict[str, Any]] = {
    ids_are_assigned_by_the_server: {"first": [1, 2, 3], "count": 40, "after_delete": [41]},
    counters_and_dimension: {
        "dimension_before": 0,
        "deleted": 1,
        "counts": (5, 1, 3),
        "other_dimension": "INVALID_ARGUMENT",
        "zero_vector": "OK",
    },
    results_are_capped_by_ef: {"no_ef": [50, 50, 50], "ef_100": 100, "ef_150": 120, "client_top_100": 100},
    search_result_shape: {
        "order": [1, 2, 3],
        "exact_distance_on_wire": True,
        "sorted": True,
        "vector_submessage": (1, 0, {"n": 1.0}),
        "elements_with_include_vector": [1.0, 0.0],
        "wrong_dimension": [True, True],
    },
    metadata_becomes_json: {
        "metadata": {"i": 1.0, "f": 1.5, "s": "x", "b": True, "n": None, "l": [1.0, "a"], "o": {"k": [True]}},
        "int_type": "float",
    },
    names_and_errors: {
        "spaces": "OK",
        "long": "OK",
        "empty_name": "INVALID_ARGUMENT",
        "unspecified_metric": "INVALID_ARGUMENT",
        "metric_out_of_enum": "INTERNAL",
        "exists": "ALREADY_EXISTS",
        "missing_collection": "NOT_FOUND",
        "missing_database": "NOT_FOUND",
        "no_vectors": "INVALID_ARGUMENT",
        "empty_delete": "INVALID_ARGUMENT",
        "top_k_zero": "INVALID_ARGUMENT",
        "empty_query": "INVALID_ARGUMENT",
        "no_password": "UNAUTHENTICATED",
        "wrong_password": "UNAUTHENTICATED",
    },
    hnsw_defaults_and_drops: {"hnsw": (16, 200), "dropped_vectors": 3, "dropped_collections": 2},
    layer_deletes_keep_survivors_reachable: {
        "scan": True,
        "fresh_get": True,
        "search": True,
        "server_deleted_count": 0,
    },
}


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=lambda f: f.__name__)
def test_server_matches_the_v1_facts(target: Target, scenario: Callable[[Target], dict[str, Any]]) -> None:
    assert scenario(target) == SCENARIOS[scenario]
