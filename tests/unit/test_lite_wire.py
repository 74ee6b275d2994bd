"""Reading vectors straight from wire bytes gives what the slow protobuf path gives."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb
from scintirete_integrations._wire import WireVectors, read_vectors

floats32 = st.floats(width=32, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(floats32, max_size=20),
            st.one_of(st.none(), st.integers(0, 2**64 - 1)),
            st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.floats(allow_nan=False))),
        ),
        max_size=12,
    )
)
def test_read_vectors_matches_protobuf(rows: list[tuple[list[float], int | None, dict[str, object]]]) -> None:
    request = pb.InsertVectorsRequest(auth=pb.AuthInfo(password="pw"), db_name="d", collection_name="c")
    for elements, vector_id, metadata in rows:
        vector = request.vectors.add(elements=elements)
        if vector_id is not None:
            vector.id = vector_id
        vector.metadata.update(metadata)
    wire = read_vectors(request.SerializeToString(), field=4)
    assert wire.lengths == [len(v.elements) for v in request.vectors]
    assert wire.flat.dtype == np.float32
    assert wire.flat.tolist() == [x for v in request.vectors for x in v.elements]
    for blob, vector in zip(wire.metadata, request.vectors, strict=True):
        assert struct_pb2.Struct.FromString(blob) == vector.metadata


def test_unpacked_floats_and_repeated_metadata_are_merged() -> None:
    # Key 0x15 = field 2, wire type 5 (one unpacked float); 0x1a = field 3, a Struct each time.
    first = struct_pb2.Struct(fields={"a": struct_pb2.Value(number_value=1)}).SerializeToString()
    second = struct_pb2.Struct(fields={"b": struct_pb2.Value(string_value="x")}).SerializeToString()
    vector = (
        b"\x08\x07"  # id 7
        + b"\x15" + np.float32(1.5).tobytes()
        + b"\x1a" + bytes([len(first)]) + first
        + b"\x15" + np.float32(-2.0).tobytes()
        + b"\x1a" + bytes([len(second)]) + second
    )  # fmt: skip
    message = b"\x12\x01d" + b"\x22" + bytes([len(vector)]) + vector
    wire = read_vectors(message, field=4)
    assert (wire.flat.tolist(), wire.lengths) == ([1.5, -2.0], [2])
    assert (
        struct_pb2.Struct.FromString(wire.metadata[0])
        == pb.InsertVectorsRequest.FromString(message).vectors[0].metadata
    )


def test_long_vectors_need_multi_byte_lengths() -> None:
    request = pb.InsertVectorsRequest(
        vectors=[pb.Vector(elements=np.arange(5000, dtype=np.float32).tolist())]
    )
    wire = read_vectors(request.SerializeToString(), field=4)
    assert wire.flat.tolist() == list(range(5000))


def test_unknown_wire_types_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported protobuf wire type 3"):
        read_vectors(b"\x0b", field=4)  # a group start (deprecated), never produced by proto3


def test_rows_is_a_matrix_when_lengths_agree_else_one_array_per_vector() -> None:
    flat = np.arange(6, dtype=np.float32)
    matrix = WireVectors(flat, [3, 3], [b"", b""]).rows()
    assert isinstance(matrix, np.ndarray) and matrix.shape == (2, 3)
    ragged = WireVectors(flat, [2, 4], [b"", b""]).rows()
    assert [row.tolist() for row in ragged] == [[0.0, 1.0], [2.0, 3.0, 4.0, 5.0]]
    assert WireVectors(flat[:0], [], []).rows().shape == (0, 0)  # type: ignore[union-attr]
