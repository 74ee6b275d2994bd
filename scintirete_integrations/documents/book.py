"""Pages as vector elements: the only place the layer's durable bytes are encoded.

An unmodified server logs every vector's metadata as ``{}`` and keeps only elements across a
restart without a snapshot, so a page's bytes travel in the elements of *page vectors*
(``docs/on-server-format.md``): an 8-d key that a reader searches for, a 4-element header,
and 6,144 payload bytes packed three to an element as integers below 2^24, which float32
holds exactly. Pure functions; the reads and writes that use them live in :mod:`.journal`.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import numpy as np

KEY_DIMENSION = 8
KEY_SCALE = 1e14  # pages ~1e12 apart at a million pages; a chunk's payload is < 8e8 from its key
CHUNK_STEP = (
    4e9  # chunk c of a page sits c steps along the first axis from chunk 0: one search reads them all
)
HEADER = 4  # stored length, chunks, crc low 24 bits, crc high 8 bits
PAYLOAD_ELEMENTS = 2048
CHUNK_BYTES = 3 * PAYLOAD_ELEMENTS
PAGE_DIMENSION = KEY_DIMENSION + HEADER + PAYLOAD_ELEMENTS  # 8,240 bytes: flushes the server's log buffer
VOID_COPY = 255  # the copy number whose chunk 0 is a page number's void mark
SEAL_COPY = 254  # chunk 0 of page 0 at this copy: the book is sealed, its successor takes copies
_KEY_SEED = 0x5C13
_F32 = np.dtype("<f4")


@functools.lru_cache(maxsize=4096)
def _base(seq: int, copy: int) -> tuple[float, ...]:
    return tuple(np.random.default_rng([seq, copy, _KEY_SEED]).standard_normal(KEY_DIMENSION) * KEY_SCALE)


def page_key(seq: int, chunk: int, copy: int) -> np.ndarray:
    """The fixed point where copy ``copy`` of chunk ``chunk`` of page ``seq`` is stored."""
    key = np.array(_base(seq, copy))
    key[0] += chunk * CHUNK_STEP
    return key.astype(_F32)


def probe_vector(seq: int, copy: int) -> np.ndarray:
    """The query that finds copy ``copy`` of page ``seq``: chunk 0's key, zeros elsewhere.

    The page's other chunks are its next nearest vectors, one step apart each, so a search for
    ``n`` results from here returns all ``n`` chunks.
    """
    query = np.zeros(PAGE_DIMENSION, _F32)
    query[:KEY_DIMENSION] = page_key(seq, 0, copy)
    return query


def page_vectors(seq: int, stored: bytes, copy: int = 0) -> np.ndarray:
    """The page vectors holding ``stored`` for page ``seq``, one row per chunk."""
    chunks = max(1, -(-len(stored) // CHUNK_BYTES))
    crc = zlib.crc32(stored)
    rows = np.zeros((chunks, PAGE_DIMENSION), _F32)
    padded = stored + bytes(chunks * CHUNK_BYTES - len(stored))
    triples = np.frombuffer(padded, np.uint8).reshape(-1, 3).astype(np.uint32)
    payload = (triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)).astype(_F32)
    rows[:, KEY_DIMENSION + HEADER :] = payload.reshape(chunks, PAYLOAD_ELEMENTS)
    rows[:, KEY_DIMENSION : KEY_DIMENSION + HEADER] = [len(stored), chunks, crc & 0xFFFFFF, crc >> 24]
    for chunk in range(chunks):
        rows[chunk, :KEY_DIMENSION] = page_key(seq, chunk, copy)
    return rows


def void_vector(seq: int) -> np.ndarray:
    """The void mark of page ``seq``: its number was given out, and no page will ever hold it."""
    row = np.zeros((1, PAGE_DIMENSION), _F32)
    row[0, :KEY_DIMENSION] = page_key(seq, 0, VOID_COPY)
    return row


def distances(rows: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Each page vector's L2 distance from ``probe``, as the server reports it (float64 here)."""
    diff = rows.astype(np.float64) - probe.astype(np.float64)
    squares: np.ndarray = np.einsum("ij,ij->i", diff, diff)
    result: np.ndarray = np.sqrt(squares)
    return result


def matching_chunks(reported: list[float], expected: np.ndarray) -> set[int]:
    """The chunks whose distance the server reported: found by a search, so stored and reachable.

    A page's chunks sit ``CHUNK_STEP`` apart from one another and ~1e12 from any other page's,
    so a distance within a thousandth of chunk c's (float32 sums on the server) is chunk c.
    """
    found: set[int] = set()
    for distance in reported:
        chunk = int(np.argmin(np.abs(expected - distance)))
        if abs(expected[chunk] - distance) <= 1e-3 * expected[chunk] + 1.0:
            found.add(chunk)
    return found


def seal_vector() -> np.ndarray:
    """The mark that seals a book: a checkpoint is moving to the next generation."""
    row = np.zeros((1, PAGE_DIMENSION), _F32)
    row[0, :KEY_DIMENSION] = page_key(0, 0, SEAL_COPY)
    return row


def is_seal(elements: np.ndarray) -> bool:
    return elements.shape[0] == PAGE_DIMENSION and np.array_equal(
        elements[:KEY_DIMENSION], page_key(0, 0, SEAL_COPY)
    )


@dataclass(frozen=True)
class Chunk:
    """One page vector read back: its header and payload bytes."""

    length: int
    chunks: int
    crc: int
    payload: bytes


def chunk_number(elements: np.ndarray, seq: int, copy: int) -> int | None:
    """Which chunk of copy ``copy`` of page ``seq`` these elements are, or None when none."""
    if elements.shape[0] != PAGE_DIMENSION:
        return None
    chunk = round((float(elements[0]) - float(page_key(seq, 0, copy)[0])) / CHUNK_STEP)
    if not 0 <= chunk < 2**16 or not np.array_equal(elements[:KEY_DIMENSION], page_key(seq, chunk, copy)):
        return None
    return chunk


def read_chunk(elements: np.ndarray) -> Chunk | None:
    """The header and payload of a page vector (:func:`chunk_number` says whose it is)."""
    header = elements[KEY_DIMENSION : KEY_DIMENSION + HEADER]
    values = elements[KEY_DIMENSION + HEADER :]
    if not (np.all(header >= 0) and np.all(values >= 0) and np.all(values < 2**24)):
        return None
    ints = values.astype(np.uint32)
    triples = np.stack([ints & 0xFF, (ints >> 8) & 0xFF, ints >> 16], axis=1).astype(np.uint8)
    length, chunks, low, high = (int(v) for v in header)
    return Chunk(length, chunks, low | (high << 24), triples.tobytes())


def assemble(chunks: list[Chunk]) -> bytes | None:
    """A page's stored bytes from all its chunks in order; None when they do not add up."""
    first = chunks[0]
    if first.chunks != len(chunks) or any(
        (c.length, c.chunks, c.crc) != (first.length, first.chunks, first.crc) for c in chunks
    ):
        return None
    stored = b"".join(c.payload for c in chunks)[: first.length]
    if len(stored) != first.length or zlib.crc32(stored) != first.crc:
        return None
    return stored


def is_void(elements: np.ndarray, seq: int) -> bool:
    """Whether these elements are the void mark of page ``seq``."""
    return elements.shape[0] == PAGE_DIMENSION and np.array_equal(
        elements[:KEY_DIMENSION], page_key(seq, 0, VOID_COPY)
    )
