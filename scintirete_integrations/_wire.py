"""Vectors straight from and to protobuf wire bytes: requests in Lite, search hits in the layer.

Python protobuf hands ``repeated float`` out as Python floats: turning 1,000 x 384 of them
into an array costs about 25 ms. Re-serialising the message (done in C) and reading the
packed float bytes with numpy costs about 2 ms, and yields each vector's metadata as its
serialized ``Struct`` bytes, which is what the engine stores anyway.

Wire format used (protobuf encoding): a field is a varint key ``number << 3 | type``; type 2
is a varint length followed by that many bytes, type 0 a varint, type 5 four bytes, type 1
eight bytes. ``Vector`` is ``1 id (varint), 2 elements (packed floats), 3 metadata (Struct)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["WireVectors", "hit_elements", "packed_floats", "read_vectors", "varint"]

_VECTOR_ELEMENTS = 2
_VECTOR_METADATA = 3


def varint(value: int) -> bytes:
    """``value`` as a protobuf varint."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field number, wire type, start, length)`` of each field in ``data[pos:end]``."""
    while pos < end:
        key = data[pos]
        if key < 0x80:  # short keys and lengths are the common case: skip the loop for them
            pos += 1
        else:
            key, pos = _varint(data, pos)
        kind = key & 7
        if kind == 2:
            length = data[pos]
            if length < 0x80:
                pos += 1
            elif data[pos + 1] < 0x80:  # two bytes: a 384-d vector's 1,536 bytes of floats
                length = (length & 0x7F) | data[pos + 1] << 7
                pos += 2
            else:
                length, pos = _varint(data, pos)
        elif kind == 0:
            start = pos
            _, pos = _varint(data, pos)
            yield key >> 3, kind, start, pos - start
            continue
        elif kind == 5:
            length = 4
        elif kind == 1:
            length = 8
        else:
            raise ValueError(f"unsupported protobuf wire type {kind}")
        yield key >> 3, kind, pos, length
        pos += length


class WireVectors:
    """The vectors of a request: all elements in one float32 array, plus lengths and metadata."""

    def __init__(
        self, flat: np.ndarray[Any, np.dtype[np.float32]], lengths: list[int], metadata: list[bytes]
    ):
        self.flat = flat
        self.lengths = lengths
        self.metadata = metadata

    def rows(self) -> np.ndarray[Any, np.dtype[np.float32]] | list[np.ndarray[Any, np.dtype[np.float32]]]:
        """An (n, dim) matrix when every vector has the same length, else one array per vector."""
        if not self.lengths:
            return self.flat.reshape(0, 0)
        if min(self.lengths) == max(self.lengths):
            return self.flat.reshape(len(self.lengths), self.lengths[0])
        return np.split(self.flat, np.cumsum(self.lengths)[:-1])


def read_vectors(serialized: bytes, field: int) -> WireVectors:
    """Read every ``Vector`` in repeated field ``field`` of a serialized message."""
    view = memoryview(serialized)
    chunks: list[memoryview] = []
    lengths: list[int] = []
    metadata: list[bytes] = []
    for number, kind, start, length in _fields(serialized, 0, len(serialized)):
        if number != field or kind != 2:
            continue
        size = 0
        blob = b""
        for inner, inner_kind, inner_start, inner_length in _fields(serialized, start, start + length):
            if inner == _VECTOR_ELEMENTS and inner_kind in (2, 5):  # packed, or one unpacked float
                chunks.append(view[inner_start : inner_start + inner_length])
                size += inner_length
            elif inner == _VECTOR_METADATA and inner_kind == 2:
                blob += serialized[inner_start : inner_start + inner_length]  # repeated: merged
        lengths.append(size // 4)
        metadata.append(blob)
    flat = np.frombuffer(b"".join(chunks), dtype="<f4").astype(np.float32, copy=False)
    return WireVectors(flat, lengths, metadata)


def hit_elements(item: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The elements of a ``SearchResultItem``'s vector as float32, without a Python float each."""
    return read_vectors(item.SerializeToString(), 1).flat


def packed_floats(elements: np.ndarray[Any, np.dtype[Any]], struct: bytes = b"") -> bytes:
    """A serialized ``Vector``: packed float32 ``elements`` (field 2) and a serialized ``Struct``
    (field 3). Building the bytes directly avoids one Python call per float."""
    data = np.ascontiguousarray(elements, dtype="<f4").tobytes()
    out = bytes([_VECTOR_ELEMENTS << 3 | 2]) + varint(len(data)) + data
    if struct:
        out += bytes([_VECTOR_METADATA << 3 | 2]) + varint(len(struct)) + struct
    return out
