"""The ``rows`` record of a format 3 snapshot: a collection's rows written as blocks, mapped back.

The per-row columns (ids, scan terms, leading columns, metadata) come first and are read; the
vectors follow at the next 4,096-byte boundary and are mapped copy-on-write, with room for
``spare`` more rows after them, so that opening a large directory reads almost nothing and a
process holds only the pages it touches. Layout and checks: ``docs/lite-storage.md``.
"""

from __future__ import annotations

import os
import weakref
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from .log_records import StoredRows, frame, int_field

__all__ = ["MAP_VECTORS", "StoredVectors", "read_rows", "spare_rows", "write_rows"]

PAGE = 4096
MIN_SPARE_ROWS = 1024
_WRITE_CHUNK_ROWS = 4096
#: Windows cannot rename a snapshot over one that is mapped: read the vectors there instead.
MAP_VECTORS = os.name != "nt"


class StoredVectors:
    """Reads chosen rows of a mapped vector block (a snapshot's, a view cache's) from the file.

    A read through the map makes the kernel map whole folios of page cache around each row:
    a search that reads 48 rows of the layer's 8 KB page vectors put 78 MB in the process's
    resident set. A read of the file copies just those rows.
    """

    def __init__(self, path: Path, start: int, count: int, dim: int) -> None:
        self.count, self._start, self._row_bytes = count, start, dim * 4
        self._dim = dim
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        # Not at interpreter exit: a store's exit save still reads through it then.
        weakref.finalize(self, os.close, self._fd).atexit = False

    def gather(
        self,
        vectors: np.ndarray[Any, Any],
        rows: np.ndarray[Any, Any],
        out: np.ndarray[Any, Any] | None = None,
    ) -> np.ndarray[Any, Any]:
        """``vectors[rows]`` (written into ``out``, C-contiguous, when given), rows the file holds
        read from it."""
        rows = np.asarray(rows, np.intp)
        if out is None:
            out = np.empty((len(rows), self._dim), np.float32)
        stored = np.flatnonzero(rows < self.count)
        if len(stored):
            wanted = rows[stored]
            # Consecutive rows going to consecutive places are one read.
            breaks = (np.flatnonzero((np.diff(wanted) != 1) | (np.diff(stored) != 1)) + 1).tolist()
            firsts, lasts = [0, *breaks], [*breaks, len(wanted)]
            places, offsets = (
                stored[firsts].tolist(),
                (self._start + wanted[firsts] * self._row_bytes).tolist(),
            )
            target = memoryview(out.data).cast("B")
            fd, row_bytes = self._fd, self._row_bytes
            for first, last, at, offset in zip(firsts, lasts, places, offsets, strict=True):
                size = (last - first) * row_bytes
                part = target[at * row_bytes : at * row_bytes + size]
                if os.preadv(fd, [part], offset) != size:  # short: rare, finished by the slow path
                    self._read_into(out[at : at + last - first], (offset - self._start) // row_bytes)
        if len(stored) < len(rows):
            others = np.flatnonzero(rows >= self.count)
            out[others] = vectors[rows[others]]
        return out

    def _read_into(self, target: np.ndarray[Any, Any], row: int) -> None:
        buffer = memoryview(target.data).cast("B")
        offset = self._start + row * self._row_bytes
        while buffer:
            got = os.preadv(self._fd, [buffer], offset)
            if got <= 0:
                raise OSError(f"the file ended inside row {row} of a mapped matrix")
            buffer, offset = buffer[got:], offset + got


def spare_rows(count: int) -> int:
    """Room left after ``count`` rows: half again, so a process grows into it without a copy."""
    return max(count // 2, MIN_SPARE_ROWS)


def _columns(record: StoredRows) -> list[bytes]:
    sizes = np.fromiter(map(len, record.metadata), dtype="<u4", count=len(record.metadata))
    prefix = b"" if record.prefix is None else np.ascontiguousarray(record.prefix, "<f8").tobytes()
    return [
        np.ascontiguousarray(record.ids, "<u8").tobytes(),
        np.ascontiguousarray(record.aux, "<f4").tobytes(),
        prefix,
        sizes.tobytes(),
        b"".join(record.metadata),
    ]


def write_rows(out: IO[bytes], record: StoredRows) -> int:
    """Write ``record`` at ``out``'s position; return the bytes of room left unwritten (a hole)."""
    count, dim = len(record.ids), int(record.vectors.shape[1])
    columns = _columns(record)
    crc = 0
    for column in columns:
        crc = zlib.crc32(column, crc)
    spare = spare_rows(count)
    header = {
        "op": record.op,
        "db": record.db,
        "collection": record.collection,
        "count": count,
        "dim": dim,
        "prefix": 0 if record.prefix is None else record.prefix.shape[1],
        "metadata": len(columns[-1]),
        "max_norm": record.max_norm,
        "spare": spare,
        "crc": crc,
    }
    out.write(frame(header))
    for column in columns:
        out.write(column)
    out.write(bytes(-out.tell() % PAGE))
    for start in range(0, count, _WRITE_CHUNK_ROWS):
        stop = min(start + _WRITE_CHUNK_ROWS, count)
        rows = np.arange(start, stop) if record.selection is None else record.selection[start:stop]
        chunk = record.vectors[rows] if record.stored is None else record.stored.gather(record.vectors, rows)
        out.write(np.ascontiguousarray(chunk, "<f4").tobytes())
    room = spare * dim * 4
    out.seek(room, os.SEEK_CUR)  # the next write leaves a hole behind it
    return room


def _read(file: IO[bytes], size: int, what: str) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise ValueError(f"incomplete rows record ({len(data)} of {size} bytes of {what})")
    return data


def read_rows(data: dict[str, Any], file: IO[bytes], path: Path) -> StoredRows:
    """The record of a ``rows`` line (``unframe``d) whose blocks follow it in ``file``, the file
    at ``path``; leaves ``file`` after the record's room. ValueError when damaged or cut short."""
    try:
        count, dim, prefix, metadata_size, spare = (
            int_field(data, key) for key in ("count", "dim", "prefix", "metadata", "spare")
        )
        max_norm = float(data["max_norm"])
        db, collection = str(data["db"]), str(data["collection"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed rows record: {exc}") from None
    if count <= 0 or dim <= 0 or prefix < 0 or metadata_size < 0 or spare < 0:
        raise ValueError("malformed rows record (a negative or empty size)")
    blocks = [
        _read(file, count * 8, "ids"),
        _read(file, count * 4, "aux"),
        _read(file, count * prefix * 8, "leading columns"),
        _read(file, count * 4, "metadata sizes"),
        _read(file, metadata_size, "metadata"),
    ]
    crc = 0
    for block in blocks:
        crc = zlib.crc32(block, crc)
    if crc != data.get("crc"):
        raise ValueError("CRC mismatch in the rows record's columns")
    sizes = np.frombuffer(blocks[3], "<u4")
    if int(sizes.sum(dtype=np.int64)) != metadata_size:
        raise ValueError("the rows record's metadata sizes do not add up")
    if metadata_size:
        ends = np.cumsum(sizes, dtype=np.int64).tolist()
        metadata = [blocks[4][start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    else:
        metadata = [b""] * count
    start = file.tell()
    start += -start % PAGE
    room = (count + spare) * dim * 4
    if os.fstat(file.fileno()).st_size < start + room:
        raise ValueError("incomplete rows record (the file ends inside its vectors)")
    vectors = _vectors(file, path, start, count, spare, dim)
    stored = StoredVectors(path, start, count, dim) if MAP_VECTORS else None
    file.seek(start + room)
    return StoredRows(
        db,
        collection,
        ids=np.frombuffer(blocks[0], "<u8"),
        aux=np.frombuffer(blocks[1], "<f4"),
        prefix=np.frombuffer(blocks[2], "<f8").reshape(count, prefix) if prefix else None,
        metadata=metadata,
        max_norm=max_norm,
        vectors=vectors,
        stored=stored,
    )


def _vectors(
    file: IO[bytes], path: Path, start: int, count: int, spare: int, dim: int
) -> np.ndarray[Any, Any]:
    if MAP_VECTORS:
        # Private: rows appended later are the process's own pages; the file is never written.
        mapped = np.memmap(path, dtype="<f4", mode="c", offset=start, shape=(count + spare, dim))
        return np.asarray(mapped)
    file.seek(start)
    return np.frombuffer(_read(file, count * dim * 4, "vectors"), "<f4").reshape(count, dim)
