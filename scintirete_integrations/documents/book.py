"""Pages as vector elements: the only place the layer's durable bytes are encoded.

An unmodified server logs every vector's metadata as ``{}`` and keeps only elements across a
restart without a snapshot, so a page's bytes travel in the elements of *page vectors*
(``docs/on-server-format.md``): an 8-d key that a reader searches for, an 8-element header,
and 6,144 payload bytes packed three to an element as integers below 2^24, which float32
holds exactly; parity chunks rebuild a chunk the server's graph stopped reaching. Pure
functions; the reads and writes that use them live in :mod:`.pages`.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KEY_DIMENSION = 8
KEY_RADIUS = 3e14  # keys ~4e13 apart at a million chunks; a chunk's payload is < 8e8 from its key
#: stored length, chunks, crc low 24 bits, crc high 8 bits, then whose vector it is: page number
#: low 24 bits, high 24 bits, chunk, copy (so any search hit says what it is: see :func:`identify`)
HEADER = 8
PAYLOAD_ELEMENTS = 2048
CHUNK_BYTES = 3 * PAYLOAD_ELEMENTS
PAGE_DIMENSION = KEY_DIMENSION + HEADER + PAYLOAD_ELEMENTS  # 8,256 bytes: flushes the server's log buffer
VOID_COPY = 255  # the copy number whose chunk 0 is a page number's void mark
PARITY_GROUP = 32  # data chunks per parity chunk: one lost chunk in each group is rebuilt
_KEY_SEED = 0x5C13
_F32 = np.dtype("<f4")


@functools.lru_cache(maxsize=1 << 16)  # a first read identifies every chunk, often more than once
def _key(seq: int, chunk: int, copy: int) -> bytes:
    direction = np.random.default_rng([seq, chunk, copy, _KEY_SEED]).standard_normal(KEY_DIMENSION)
    point = direction / np.linalg.norm(direction) * KEY_RADIUS
    return point.astype(_F32).tobytes()


def page_key(seq: int, chunk: int, copy: int) -> np.ndarray:
    """The fixed point where copy ``copy`` of chunk ``chunk`` of page ``seq`` is stored.

    Every chunk gets its own random point on a sphere, so the book is one even cloud with no
    outliers. The server's graph keeps each node's closest links only, so a point far out
    from the rest (Gaussian keys had a few) can lose every link to it when a restart rebuilds
    the graph; chunks of a page kept close together formed islands it never linked to.
    """
    return np.frombuffer(_key(seq, chunk, copy), dtype=_F32).copy()


def probe_vector(seq: int, chunk: int, copy: int) -> np.ndarray:
    """The query that finds that page vector: its key, zeros elsewhere."""
    query = np.zeros(PAGE_DIMENSION, _F32)
    query[:KEY_DIMENSION] = page_key(seq, chunk, copy)
    return query


def parity_count(chunks: int) -> int:
    """How many parity chunks follow a page's ``chunks`` data chunks."""
    return -(-chunks // PARITY_GROUP)


def data_chunks(stored: bytes) -> int:
    return max(1, -(-len(stored) // CHUNK_BYTES))


def page_vectors(seq: int, stored: bytes, copy: int = 0) -> np.ndarray:
    """The page vectors holding ``stored`` for page ``seq``: its data chunks, then its parity.

    Parity chunk ``j`` holds the XOR of the payloads of data chunks ``c`` with
    ``c % parity_count == j``, so a reader rebuilds any one chunk of a group the server's
    graph no longer reaches. Every row carries the same header.
    """
    chunks = data_chunks(stored)
    parity = parity_count(chunks)
    crc = zlib.crc32(stored)
    rows = np.zeros((chunks + parity, PAGE_DIMENSION), _F32)
    padded = stored + bytes(chunks * CHUNK_BYTES - len(stored))
    triples = np.frombuffer(padded, np.uint8).reshape(-1, 3).astype(np.uint32)
    payload = (triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)).reshape(chunks, PAYLOAD_ELEMENTS)
    groups = np.zeros((parity, PAYLOAD_ELEMENTS), np.uint32)
    for chunk in range(chunks):
        groups[chunk % parity] ^= payload[chunk]
    rows[:, KEY_DIMENSION + HEADER :] = np.concatenate([payload, groups]).astype(_F32)
    rows[:, KEY_DIMENSION : KEY_DIMENSION + 4] = [len(stored), chunks, crc & 0xFFFFFF, crc >> 24]
    for chunk in range(chunks + parity):
        rows[chunk, :KEY_DIMENSION] = page_key(seq, chunk, copy)
        rows[chunk, KEY_DIMENSION + 4 : KEY_DIMENSION + HEADER] = _whose(seq, chunk, copy)
    return rows


def _whose(seq: int, chunk: int, copy: int) -> list[int]:
    return [seq & 0xFFFFFF, seq >> 24, chunk, copy]


def void_vector(seq: int) -> np.ndarray:
    """The void mark of page ``seq``: its number was given out, and no page will ever hold it."""
    row = np.zeros((1, PAGE_DIMENSION), _F32)
    row[0, :KEY_DIMENSION] = page_key(seq, 0, VOID_COPY)
    row[0, KEY_DIMENSION + 4 : KEY_DIMENSION + HEADER] = _whose(seq, 0, VOID_COPY)
    return row


def claimed_page(elements: Sequence[float]) -> int | None:
    """The page number a book vector's header claims (unproven: :func:`identify` checks the key).

    Reads two elements, so a reader can pass over hits of pages it does not want cheaply.
    """
    if len(elements) != PAGE_DIMENSION:
        return None
    low, high = elements[KEY_DIMENSION + 4], elements[KEY_DIMENSION + 5]
    if not (0 <= low < 2**24 and 0 <= high < 2**24 and low == int(low) and high == int(high)):
        return None
    return int(low) | (int(high) << 24)


def identify(elements: np.ndarray) -> tuple[int, int, int] | None:
    """Which (page, chunk, copy) a book vector is, read from its header and proven by its key;
    None for anything else. A void mark is copy :data:`VOID_COPY` of chunk 0.

    Lets a reader keep every hit a search returns, not only the one it searched for.
    """
    if elements.shape[0] != PAGE_DIMENSION:
        return None
    whose = elements[KEY_DIMENSION + 4 : KEY_DIMENSION + HEADER]
    if not (np.all(whose >= 0) and np.all(whose < 2**24) and np.all(whose == np.floor(whose))):
        return None
    low, high, chunk, copy = (int(v) for v in whose)
    seq = low | (high << 24)
    if not np.array_equal(elements[:KEY_DIMENSION], page_key(seq, chunk, copy)):
        return None
    return seq, chunk, copy


def payload_distance(row: np.ndarray) -> float:
    """A page vector's L2 distance from its own probe: the norm of everything but its key."""
    rest = row[KEY_DIMENSION:].astype(np.float64)
    return float(np.sqrt(rest @ rest))


@dataclass(frozen=True)
class Chunk:
    """One page vector read back: its header and payload bytes."""

    length: int
    chunks: int
    crc: int
    payload: bytes


def page_digest(stored: bytes) -> bytes:
    """What names a page's stored bytes (a view cache's anchor): their length, CRC-32 and first
    chunk, which chunk 0 alone shows (:func:`head_digest`). Every page opens with a random
    nonce, so no other page has the same first chunk."""
    return _name(len(stored), zlib.crc32(stored), stored[:CHUNK_BYTES])


def head_digest(head: Chunk) -> bytes:
    """:func:`page_digest` of the page whose chunk 0 is ``head``."""
    return _name(head.length, head.crc, head.payload[: min(head.length, CHUNK_BYTES)])


def _name(length: int, crc: int, first: bytes) -> bytes:
    named = hashlib.blake2b(length.to_bytes(8, "little") + crc.to_bytes(4, "little"), digest_size=16)
    named.update(first)
    return named.digest()


def is_chunk(elements: np.ndarray, seq: int, chunk: int, copy: int) -> bool:
    """Whether these elements are that page vector (its key, exactly)."""
    return elements.shape[0] == PAGE_DIMENSION and np.array_equal(
        elements[:KEY_DIMENSION], page_key(seq, chunk, copy)
    )


def read_chunk(elements: np.ndarray) -> Chunk | None:
    """The header and payload of a page vector (:func:`is_chunk` says whose it is)."""
    header = elements[KEY_DIMENSION : KEY_DIMENSION + 4]
    values = elements[KEY_DIMENSION + HEADER :]
    if not (np.all(header >= 0) and np.all(values >= 0) and np.all(values < 2**24)):
        return None
    ints = values.astype(np.uint32)
    triples = np.stack([ints & 0xFF, (ints >> 8) & 0xFF, ints >> 16], axis=1).astype(np.uint8)
    length, chunks, low, high = (int(v) for v in header)
    return Chunk(length, chunks, low | (high << 24), triples.tobytes())


def assemble(found: dict[int, Chunk]) -> bytes | None:
    """A page's stored bytes from the chunks found (by index: data chunks, then parity), with
    any one missing data chunk per parity group rebuilt; None when they do not add up."""
    if not found:
        return None
    first = next(iter(found.values()))
    chunks, parity = first.chunks, parity_count(first.chunks)
    if chunks < 1 or any(
        (c.length, c.chunks, c.crc) != (first.length, chunks, first.crc) for c in found.values()
    ):
        return None
    payloads = {index: np.frombuffer(c.payload, np.uint8) for index, c in found.items()}
    for group in range(parity):
        members = range(group, chunks, parity)
        lost = [c for c in members if c not in payloads]
        if len(lost) == 1 and chunks + group in payloads:
            rebuilt = payloads[chunks + group].copy()
            for c in members:
                if c != lost[0]:
                    rebuilt ^= payloads[c]
            payloads[lost[0]] = rebuilt
    if any(c not in payloads for c in range(chunks)):
        return None
    stored = b"".join(payloads[c].tobytes() for c in range(chunks))[: first.length]
    if len(stored) != first.length or zlib.crc32(stored) != first.crc:
        return None
    return stored
