"""Fuzz every RPC of Scintirete Lite with random and mutated protobuf bytes over a raw gRPC channel.

The server must answer every call with a status (never hang, never die), never hit an unexpected
exception (INTERNAL "internal error in ..."), keep serving normal requests, and keep its state
consistent: counters agree with a full scan, and a restart (from the log and from a snapshot)
gives back exactly the same state. Hypothesis runs derandomized with bounded example counts.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lite_helpers import server_state

from scintirete_integrations import ScintireteClient
from scintirete_integrations.lite import Engine, HashEmbeddings, LiteServer
from scintirete_integrations.models import Metric

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb  # isort: skip

SERVICE = pb.DESCRIPTOR.services_by_name["ScintireteService"]
RPCS = sorted(method.name for method in SERVICE.methods)
PASSWORD = "pw"
DB = "fz"
DIM = 4
# Statuses a well-behaved server may answer with; never DEADLINE_EXCEEDED (a hang), UNAVAILABLE (a
# crash) or UNKNOWN (an exception grpc caught for us).
ALLOWED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.INTERNAL,
}
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiteServer, grpc.Channel]]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    server = LiteServer(
        data_dir,
        password=PASSWORD,
        embedding=HashEmbeddings(DIM),
        fsync="never",
        max_receive_message_bytes=1 << 20,
    )
    server.start()
    with ScintireteClient(server.address, password=PASSWORD) as client:
        for name in ("c", "d"):
            client.ensure_collection(DB, name, "l2")
            client.insert_vectors(DB, name, np.eye(DIM), [{"row": i} for i in range(DIM)])
        client.ensure_collection(DB, "empty", "cosine")
    channel = grpc.insecure_channel(server.address, options=[("grpc.max_send_message_length", -1)])
    try:
        yield server, channel
    finally:
        channel.close()
        server.stop()


def send(channel: grpc.Channel, rpc: str, payload: bytes) -> None:
    """One raw call; it must end with OK (and a parseable response) or an allowed status."""
    method = SERVICE.methods_by_name[rpc]
    call = channel.unary_unary(
        f"/{SERVICE.full_name}/{rpc}", request_serializer=None, response_deserializer=None
    )
    try:
        response = call(payload, timeout=10)
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
        assert code in ALLOWED, (rpc, code, details, payload[:200])
        assert not details.startswith("internal error in"), (rpc, details, payload[:200])
    else:
        message_factory.GetMessageClass(method.output_type).FromString(response)


# -- generating valid requests from the descriptors ------------------------------------------------

NAMES = st.sampled_from([DB, "c", "d", "empty", "", "missing", "ü 🙂", "x" * 300])
SMALL_INTS = st.one_of(st.integers(-3, 60), st.integers(-(2**31), 2**31 - 1))
IDS = st.one_of(st.integers(0, 12), st.integers(0, 2**64 - 1))
FLOATS = st.one_of(
    st.floats(-2.0, 2.0, width=32),
    st.floats(width=32),  # NaN, infinities, huge values: the server accepts what upstream accepts
)
ELEMENTS = st.one_of(st.lists(FLOATS, min_size=DIM, max_size=DIM), st.lists(FLOATS, max_size=DIM + 2))
JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)
    return bool(repeated) if repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return NAMES if field.name in ("name", "db_name", "collection_name") else st.text(max_size=12)
    if field.type == FieldDescriptor.TYPE_FLOAT:
        return FLOATS
    if field.type == FieldDescriptor.TYPE_UINT64:
        return IDS
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.integers(-2, 5)  # out-of-range numbers too (proto3 enums are open)
    return SMALL_INTS  # int32, int64


@st.composite
def messages(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> Message:
    message = message_factory.GetMessageClass(descriptor)()
    for field in descriptor.fields:
        if field.name == "auth":
            if draw(st.integers(0, 9)):  # mostly the right password, to get past the check
                message.auth.password = draw(st.sampled_from([PASSWORD, PASSWORD, PASSWORD, "", "wrong"]))
            continue
        if not draw(st.booleans()):
            continue
        target = getattr(message, field.name)
        if field.message_type is not None and field.message_type.full_name == "google.protobuf.Struct":
            target.update(draw(st.dictionaries(st.text(max_size=6), JSON, max_size=4)))
        elif field.message_type is not None:
            for _ in range(draw(st.integers(1, 3 if depth == 0 else 1)) if is_repeated(field) else 1):
                part = draw(messages(field.message_type, depth + 1))
                (target.add() if is_repeated(field) else target).CopyFrom(part)
        elif field.name == "elements" or field.name == "query_vector":
            target.extend(draw(ELEMENTS))
        elif is_repeated(field):
            target.extend(draw(st.lists(scalar(field), max_size=4)))
        else:
            setattr(message, field.name, draw(scalar(field)))
    if draw(st.integers(0, 2)) == 0:  # unknown fields survive parsing (and re-serialization)
        message.MergeFromString(draw(unknown_field()))
    return message


@st.composite
def unknown_field(draw: st.DrawFn) -> bytes:
    """One well-formed field with a number no message here uses, of any wire type (groups too)."""
    number = draw(st.integers(20, 40))
    wire = draw(st.sampled_from([0, 1, 2, 3, 5]))
    body = {
        0: varint(draw(st.integers(0, 2**64 - 1))),
        1: draw(st.binary(min_size=8, max_size=8)),
        2: (lambda data: varint(len(data)) + data)(draw(st.binary(max_size=6))),
        3: varint(number << 3 | 4),  # an empty group: start ... end
        5: draw(st.binary(min_size=4, max_size=4)),
    }[wire]
    return varint(number << 3 | wire) + body


def request_bytes(rpc: str) -> st.SearchStrategy[bytes]:
    return messages(SERVICE.methods_by_name[rpc].input_type).map(lambda message: message.SerializeToString())


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


@st.composite
def mutated(draw: st.DrawFn, rpc: str) -> tuple[str, bytes]:
    """A valid request of ``rpc``, damaged, sometimes sent to another RPC."""
    data = bytearray(draw(request_bytes(rpc)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate", "varint"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 32))]
        elif kind == "truncate":
            del data[at:]
        else:  # an unknown field of any wire type, groups included
            number = draw(st.integers(1, 40))
            wire = draw(st.integers(0, 5))
            data[at:at] = varint(number << 3 | wire) + draw(st.binary(max_size=6))
    target = draw(st.sampled_from([rpc, rpc, rpc, *RPCS]))
    return target, bytes(data)


@settings(SETTINGS, max_examples=200)
@given(rpc=st.sampled_from(RPCS), payload=st.binary(max_size=64))
def test_random_bytes_to_every_rpc(fuzzed: tuple[LiteServer, grpc.Channel], rpc: str, payload: bytes) -> None:
    send(fuzzed[1], rpc, payload)


@pytest.mark.parametrize("rpc", RPCS)
def test_generated_requests(fuzzed: tuple[LiteServer, grpc.Channel], rpc: str) -> None:
    @settings(SETTINGS, max_examples=60)
    @given(payload=request_bytes(rpc))
    def run(payload: bytes) -> None:
        send(fuzzed[1], rpc, payload)

    run()


@pytest.mark.parametrize("rpc", RPCS)
def test_mutated_requests(fuzzed: tuple[LiteServer, grpc.Channel], rpc: str) -> None:
    @settings(SETTINGS, max_examples=60)
    @given(request=mutated(rpc))
    def run(request: tuple[str, bytes]) -> None:
        send(fuzzed[1], *request)

    run()


def test_unknown_group_fields_inside_a_vector_are_ignored() -> None:
    """Protobuf keeps unknown fields, groups too; the insert fast path once failed on them (INTERNAL)."""
    header = pb.InsertVectorsRequest(auth=pb.AuthInfo(password=PASSWORD), db_name=DB, collection_name="c")
    vector = pb.Vector(elements=[0.5] * DIM).SerializeToString() + bytes([9 << 3 | 3, 9 << 3 | 4])
    payload = header.SerializeToString() + bytes([0x22, len(vector)]) + vector
    with (
        LiteServer(password=PASSWORD) as server,
        ScintireteClient(server.address, password=PASSWORD) as client,
    ):
        client.ensure_collection(DB, "c", "l2")
        with grpc.insecure_channel(server.address) as channel:
            call = channel.unary_unary(
                f"/{SERVICE.full_name}/InsertVectors", request_serializer=None, response_deserializer=None
            )
            response = pb.InsertVectorsResponse.FromString(call(payload, timeout=10))
        assert list(response.inserted_ids) == [1]
        [hit] = client.search(DB, "c", [0.5] * DIM, 1, include_vector=True)
        assert (hit.id, hit.vector, hit.metadata) == (1, [0.5] * DIM, {})


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("bad", [math.nan, 1e30, -1e30, math.inf])
def test_deleted_vectors_never_come_back_next_to_non_finite_ones(metric: Metric, bad: float) -> None:
    """A stored NaN (or overflowing) vector once let deleted rows into search results."""
    engine = Engine()
    engine.create_database("d")
    engine.create_collection("d", "c", metric)
    rows = np.array([[bad, 0.0], [1.0, 1.0], [2.0, 2.0], [1.0, 1.0], [3.0, 3.0]], np.float32)
    engine.insert("d", "c", rows)
    engine.delete("d", "c", [2, 4])
    for top_k in range(1, 5):
        result = engine.search("d", "c", np.array([0.5, 0.5], np.float32), top_k)
        assert set(result.ids) <= {1, 3, 5}, (top_k, result.ids)
        assert len(result.ids) == min(top_k, 3)


# -- afterwards: still serving, consistent, and it restarts to the same state ------------------------


def consistent(client: ScintireteClient) -> dict[str, Any]:
    """Counters agree with a full scan of every collection; returns the state."""
    state = server_state(client)
    for db, collections in state.items():
        for name, ((dimension, live, deleted, _, _), rows) in collections.items():
            assert len(rows) == live, (db, name)
            assert len({row[0] for row in rows}) == live, (db, name)
            assert all(len(row[2]) == 4 * dimension for row in rows), (db, name)
            assert deleted >= 0 and (dimension > 0 or live + deleted == 0), (db, name)
    return state


def test_after_fuzzing_the_server_serves_stays_consistent_and_restarts_the_same(
    fuzzed: tuple[LiteServer, grpc.Channel], tmp_path: Path
) -> None:
    server, _ = fuzzed
    with ScintireteClient(server.address, password=PASSWORD) as client:
        client.ping()
        client.save()  # waits for background snapshots the fuzzer started
        before = consistent(client)
    assert server.data_dir is not None
    copy = tmp_path / "copy"
    shutil.copytree(server.data_dir, copy)  # as a crash would leave it: no snapshot at shutdown
    with (
        LiteServer(copy, password=PASSWORD) as replayed,
        ScintireteClient(replayed.address, password=PASSWORD) as c,
    ):
        assert consistent(c) == before
    data_dir = server.data_dir
    server.stop()
    with (
        LiteServer(data_dir, password=PASSWORD) as restarted,
        ScintireteClient(restarted.address, password=PASSWORD) as c,
    ):
        assert consistent(c) == before
    server.start()  # the fixture stops it
