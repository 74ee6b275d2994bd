"""The records of Lite's log and snapshots, and the JSON-lines format that exact persistence writes.

One record per line::

    <CRC32 of the JSON text, 8 hex digits> <JSON object>\\n

The JSON objects (``"op"`` names the record):

- ``create_database`` / ``drop_database``: ``name``
- ``create_collection``: ``db``, ``name``, ``metric`` ("l2", "cosine", "inner_product"), ``m``, ``ef_construction``
- ``drop_collection``: ``db``, ``name``
- ``insert``: ``db``, ``collection``, ``ids`` (JSON list), ``dim``, ``vectors`` (base64 of the
  little-endian float32 matrix, row-major: exact and compact), ``metadata`` (list of base64
  strings, each the serialized ``google.protobuf.Struct`` exactly as received; ``""`` when empty).
  Metadata stays opaque bytes here, as in the engine, so writes never decode it.
- ``delete``: ``db``, ``collection``, ``ids`` (only the ids that were live)
- ``collection_state`` (snapshots only): ``db``, ``collection``, ``dimension``, ``next_id``,
  ``deleted_count``: the counters that a replay of the live rows alone cannot rebuild; and
  ``rows`` when the snapshot inserts that many rows next, so a replay allocates them once.
- ``rows`` (snapshots of format 3 only): a collection's live rows as column blocks, their
  vectors page-aligned so that a reader maps them (``stored_rows.py``, ``docs/lite-storage.md``).
- ``snapshot`` (first line of a snapshot): ``version``, ``generation``; ``end`` (last line): ``records``.

Logs and snapshots (version 2) write an insert's vectors after its line, as raw float32 bytes
(the line names them with ``raw`` and ``raw_crc`` instead of holding ``vectors``): see
:func:`encode_record`. Lines with base64 ``vectors``, as older releases wrote, are read too.

``server_log.py`` writes the same records in the real server's way instead.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from .stored_rows import StoredVectors

__all__ = [
    "CollectionCreated",
    "CollectionDropped",
    "CollectionState",
    "DatabaseCreated",
    "DatabaseDropped",
    "Record",
    "StoredRows",
    "VectorsDeleted",
    "VectorsInserted",
    "decode_line",
    "encode_record",
    "frame",
    "int_field",
    "record_after",
    "record_from",
    "unframe",
]


# -- records --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseCreated:
    op: ClassVar[str] = "create_database"
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatabaseCreated:
        return cls(_str(data, "name"))


@dataclass(frozen=True)
class DatabaseDropped:
    op: ClassVar[str] = "drop_database"
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatabaseDropped:
        return cls(_str(data, "name"))


@dataclass(frozen=True)
class CollectionCreated:
    op: ClassVar[str] = "create_collection"
    db: str
    name: str
    metric: str
    m: int
    ef_construction: int

    def to_json(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "name": self.name,
            "metric": self.metric,
            "m": self.m,
            "ef_construction": self.ef_construction,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CollectionCreated:
        return cls(
            _str(data, "db"),
            _str(data, "name"),
            _str(data, "metric"),
            int_field(data, "m"),
            int_field(data, "ef_construction"),
        )


@dataclass(frozen=True)
class CollectionDropped:
    op: ClassVar[str] = "drop_collection"
    db: str
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"db": self.db, "name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CollectionDropped:
        return cls(_str(data, "db"), _str(data, "name"))


@dataclass(frozen=True)
class VectorsInserted:
    """Rows with the ids the engine assigned; ``vectors`` is an (n, dim) float32 matrix."""

    op: ClassVar[str] = "insert"
    db: str
    collection: str
    ids: Sequence[int]
    vectors: np.ndarray[Any, np.dtype[np.float32]]
    metadata: Sequence[bytes]

    def to_json(self) -> dict[str, Any]:
        """Every field but ``vectors``, which :meth:`vectors_base64` encodes (see ``frame``)."""
        return {
            "db": self.db,
            "collection": self.collection,
            "ids": [int(i) for i in self.ids],
            "dim": int(self.vectors.shape[1]),
            "metadata": [base64.b64encode(blob).decode("ascii") for blob in self.metadata],
        }

    def vectors_base64(self) -> bytes:
        return base64.b64encode(np.ascontiguousarray(self.vectors, dtype="<f4").data)

    @classmethod
    def from_json(cls, data: dict[str, Any], raw: bytes | None = None) -> VectorsInserted:
        """The record of a line; ``raw`` holds the vectors when they followed the line as bytes."""
        ids = _int_list(data, "ids")
        dim = int_field(data, "dim")
        if raw is None:
            raw = base64.b64decode(_str(data, "vectors"), validate=True)
        if dim <= 0 or len(raw) != 4 * dim * len(ids):
            raise ValueError(f"'vectors' holds {len(raw)} bytes, expected {len(ids)} rows of dimension {dim}")
        vectors = np.frombuffer(raw, dtype="<f4").reshape(len(ids), dim).astype(np.float32, copy=False)
        metadata = [
            base64.b64decode(text, validate=True) if text else b"" for text in _str_list(data, "metadata")
        ]
        if len(metadata) != len(ids):
            raise ValueError(f"{len(metadata)} metadata entries for {len(ids)} ids")
        return cls(_str(data, "db"), _str(data, "collection"), ids, vectors, metadata)


@dataclass(frozen=True)
class VectorsDeleted:
    op: ClassVar[str] = "delete"
    db: str
    collection: str
    ids: Sequence[int]

    def to_json(self) -> dict[str, Any]:
        return {"db": self.db, "collection": self.collection, "ids": [int(i) for i in self.ids]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VectorsDeleted:
        return cls(_str(data, "db"), _str(data, "collection"), _int_list(data, "ids"))


@dataclass(frozen=True)
class CollectionState:
    """Snapshot-only: counters that replaying the live rows cannot rebuild."""

    op: ClassVar[str] = "collection_state"
    db: str
    collection: str
    dimension: int
    next_id: int
    deleted_count: int
    rows: int = 0  # rows the snapshot inserts next (0: not said): replay reserves them at once

    def to_json(self) -> dict[str, Any]:
        data = {
            "db": self.db,
            "collection": self.collection,
            "dimension": self.dimension,
            "next_id": self.next_id,
            "deleted_count": self.deleted_count,
        }
        if self.rows:
            data["rows"] = self.rows
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CollectionState:
        return cls(
            _str(data, "db"),
            _str(data, "collection"),
            int_field(data, "dimension"),
            int_field(data, "next_id"),
            int_field(data, "deleted_count"),
            int_field(data, "rows") if "rows" in data else 0,
        )


@dataclass(frozen=True)
class StoredRows:
    """Snapshot-only: a collection's live rows (``stored_rows.py`` writes and maps them).

    Written from a collection, ``vectors`` is its matrix and ``selection`` the rows of it to
    write, in order (None: every row). Read back, ``vectors`` holds the rows and then room for
    more (its length is the collection's capacity) and ``selection`` is None.
    """

    op: ClassVar[str] = "rows"
    db: str
    collection: str
    ids: np.ndarray[Any, np.dtype[np.uint64]]
    aux: np.ndarray[Any, np.dtype[np.float32]]
    prefix: np.ndarray[Any, Any] | None  # float64, as the scan keeps them
    metadata: Sequence[bytes]
    max_norm: float
    vectors: np.ndarray[Any, np.dtype[np.float32]]
    selection: np.ndarray[Any, np.dtype[np.intp]] | None = None
    #: Read back and mapped: where chosen rows are read from instead of the map.
    stored: StoredVectors | None = None


Record = (
    DatabaseCreated
    | DatabaseDropped
    | CollectionCreated
    | CollectionDropped
    | VectorsInserted
    | VectorsDeleted
    | CollectionState
    | StoredRows
)

_RECORD_TYPES: dict[str, Any] = {
    cls.op: cls
    for cls in (
        DatabaseCreated,
        DatabaseDropped,
        CollectionCreated,
        CollectionDropped,
        VectorsInserted,
        VectorsDeleted,
        CollectionState,
    )
}


def _str(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string")
    return value


def int_field(data: dict[str, Any], key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"'{key}' must be an integer")
    return value


def _int_list(data: dict[str, Any], key: str) -> list[int]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise ValueError(f"'{key}' must be a list of integers")
    return value


def _str_list(data: dict[str, Any], key: str) -> list[str]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise ValueError(f"'{key}' must be a list of strings")
    return value


def frame(payload: dict[str, Any], vectors: bytes | None = None) -> bytes:
    # ensure_ascii (the default) keeps every line pure ASCII with no raw newline inside.
    text = json.dumps(payload, separators=(",", ":")).encode("ascii")
    if vectors is not None:
        # Base64 needs no JSON escaping: splice it in rather than have json scan megabytes.
        text = b'%s,"vectors":"%s"}' % (text[:-1], vectors)
    return b"%08x %s\n" % (zlib.crc32(text), text)


def encode_record(record: Record, *, raw_vectors: bool = False) -> bytes:
    """One log line for ``record``: CRC32, a space, the JSON object, a newline.

    With ``raw_vectors`` (what logs and snapshots now write), an insert's vectors follow the line as raw
    little-endian float32 bytes instead of base64 inside it: the line names their length
    (``raw``) and CRC32 (``raw_crc``). Base64 and its decoding took most of the time a large
    snapshot needed to load.
    """
    if isinstance(record, StoredRows):
        raise TypeError("a rows record is written by stored_rows.write_rows, into snapshots only")
    payload = {"op": record.op, **record.to_json()}
    if not isinstance(record, VectorsInserted):
        return frame(payload)
    if not raw_vectors:
        return frame(payload, record.vectors_base64())
    data = np.ascontiguousarray(record.vectors, dtype="<f4").tobytes()
    return frame({**payload, "raw": len(data), "raw_crc": zlib.crc32(data)}) + data


def record_after(data: dict[str, Any], file: IO[bytes]) -> Record:
    """The record of a line's JSON object (``unframe``), reading from ``file`` the vector bytes
    that follow an insert line of a version 2 snapshot. ValueError when damaged or cut short."""
    size = data.get("raw") if data["op"] == VectorsInserted.op else None
    if size is None:
        return record_from(data)
    if not isinstance(size, int) or size < 0:
        raise ValueError("malformed insert record ('raw' must be a byte count)")
    raw = file.read(size)
    if len(raw) != size:
        raise ValueError(f"incomplete record ({len(raw)} of {size} vector bytes)")
    if zlib.crc32(raw) != data.get("raw_crc"):
        raise ValueError("CRC mismatch in the vector bytes")
    try:
        return VectorsInserted.from_json(data, raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed insert record: {exc}") from None


def unframe(line: bytes) -> dict[str, Any]:
    """The JSON object of one line; ValueError says what is wrong with it."""
    if not line.endswith(b"\n"):
        raise ValueError("incomplete record (no newline at the end)")
    if len(line) < 11 or line[8:9] != b" ":
        raise ValueError("malformed record (expected '<crc32> <json>')")
    try:
        expected = int(line[:8], 16)
    except ValueError:
        raise ValueError("malformed record (bad CRC field)") from None
    text = line[9:-1]
    if zlib.crc32(text) != expected:
        raise ValueError("CRC mismatch")
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("op"), str):
        raise ValueError("record is not a JSON object with an 'op'")
    return data


def record_from(data: dict[str, Any]) -> Record:
    cls = _RECORD_TYPES.get(data["op"])
    if cls is None:
        raise ValueError(f"unknown record op {data['op']!r}")
    try:
        record: Record = cls.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed {data['op']} record: {exc}") from None
    return record


def decode_line(line: bytes) -> Record:
    """Parse one line written by :func:`encode_record`; ValueError when it is damaged."""
    return record_from(unframe(line))
