"""The page-vector codec: keys, chunks, parity, void marks (documents/book.py)."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from scintirete_integrations.documents import book, pages, records
from scintirete_integrations.lite.index.hnsw import HnswGraph
from scintirete_integrations.models import Metric


def stored_bytes(size: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).bytes(size)


def read_back(seq: int, stored: bytes) -> dict[int, book.Chunk]:
    found = {}
    for index, row in enumerate(book.page_vectors(seq, stored)):
        assert book.is_chunk(row, seq, index, 0)
        chunk = book.read_chunk(row)
        assert chunk is not None
        found[index] = chunk
    return found


@pytest.mark.parametrize("size", [0, 1, 6_143, 6_144, 6_145, 32 * 6_144, 32 * 6_144 + 1, 700_000])
def test_every_page_size_round_trips_with_one_parity_chunk_per_32(size: int) -> None:
    stored = stored_bytes(size)
    rows = book.page_vectors(7, stored)
    chunks = book.data_chunks(stored)
    assert chunks == max(1, -(-size // book.CHUNK_BYTES))
    assert len(rows) == chunks + book.parity_count(chunks) == chunks + -(-chunks // 32)
    assert rows.dtype == np.float32 and rows.shape[1] == book.PAGE_DIMENSION == 2064
    assert rows[:, book.KEY_DIMENSION + book.HEADER :].max() < 2**24  # exact in float32
    assert book.assemble(read_back(7, stored)) == stored


@pytest.mark.parametrize("size", [0, 1, 6_143, 6_144, 6_145, 700_000])
def test_chunk_0_alone_names_the_page_as_its_whole_bytes_do(size: int) -> None:
    stored = stored_bytes(size)
    head = read_back(3, stored)[0]
    assert book.head_digest(head) == book.page_digest(stored)
    if size:  # another last byte (the first chunk's, for a one-chunk page) is another name
        changed = stored[:-1] + bytes([stored[-1] ^ 1])
        assert book.head_digest(read_back(3, changed)[0]) != book.page_digest(stored)


def test_pages_of_the_same_entries_open_with_a_nonce_of_their_own() -> None:
    first, second = (records.encode_page((), None, ["a", "b"]) for _ in range(2))
    assert book.page_digest(first) != book.page_digest(second)
    assert records.decode_page(first) == records.decode_page(second)  # the same content


def test_any_one_lost_chunk_of_each_parity_group_is_rebuilt() -> None:
    stored = stored_bytes(70 * book.CHUNK_BYTES - 100, seed=1)  # 70 data chunks: 3 parity groups
    found = read_back(3, stored)
    chunks, parity = 70, book.parity_count(70)
    for lost in range(chunks + parity):  # one data or parity chunk
        assert book.assemble({i: c for i, c in found.items() if i != lost}) == stored
    one_per_group = [0, 1, 2 + 3 * 22]  # groups 0, 1 and 2
    assert book.assemble({i: c for i, c in found.items() if i not in one_per_group}) == stored


def test_two_lost_chunks_of_one_group_leave_no_page() -> None:
    stored = stored_bytes(5 * book.CHUNK_BYTES, seed=2)
    found = read_back(1, stored)
    for pair in itertools.combinations(range(5), 2):
        assert book.assemble({i: c for i, c in found.items() if i not in pair}) is None


def test_a_one_chunk_page_keeps_a_copy_as_its_parity() -> None:
    stored = b"a small page"
    rows = book.page_vectors(1, stored)
    payload = book.KEY_DIMENSION + book.HEADER
    assert len(rows) == 2 and np.array_equal(rows[0, payload:], rows[1, payload:])
    parity_only = {1: book.read_chunk(rows[1])}
    assert book.assemble(parity_only) == stored  # type: ignore[arg-type]


def test_chunks_that_disagree_or_fail_their_crc_are_no_page() -> None:
    stored = stored_bytes(3 * book.CHUNK_BYTES, seed=3)
    found = read_back(1, stored)
    other = read_back(1, stored_bytes(3 * book.CHUNK_BYTES, seed=4))
    assert book.assemble({**found, 1: other[1]}) is None  # another page's chunk
    damaged = book.Chunk(found[2].length, found[2].chunks, found[2].crc, bytes(len(found[2].payload)))
    assert book.assemble({**found, 2: damaged}) is None  # same header, wrong bytes: the crc says so
    assert book.assemble({}) is None
    row = book.page_vectors(1, stored)[0].copy()
    row[-1] = 2**24  # not a 3-byte integer
    assert book.read_chunk(row) is None


def test_keys_lie_on_one_sphere_are_distinct_and_fixed() -> None:
    keys = np.array(
        [book.page_key(seq, chunk, copy) for seq in range(1, 200) for chunk in range(5) for copy in (0, 1)]
    )
    norms = np.linalg.norm(keys.astype(np.float64), axis=1)
    assert np.allclose(norms, book.KEY_RADIUS, rtol=1e-6)  # no point far out from the rest
    assert len({k.tobytes() for k in keys}) == len(keys)
    assert np.array_equal(book.page_key(5, 2, 1), book.page_key(5, 2, 1))
    probe = book.probe_vector(5, 2, 1)
    assert np.array_equal(probe[: book.KEY_DIMENSION], book.page_key(5, 2, 1)) and not probe[8:].any()


def test_a_chunk_is_its_payload_norm_from_its_probe_and_far_from_every_other() -> None:
    rows = book.page_vectors(9, stored_bytes(4 * book.CHUNK_BYTES, seed=5))
    for index, row in enumerate(rows):
        own = np.linalg.norm(row.astype(np.float64) - book.probe_vector(9, index, 0))
        assert own == pytest.approx(book.payload_distance(row), rel=1e-9)
        probe = book.probe_vector(9, index, 0)
        others = [np.linalg.norm(r.astype(np.float64) - probe) for i, r in enumerate(rows) if i != index]
        assert min(others) > 1e3 * own


def test_void_marks_are_recognised_only_for_their_page() -> None:
    mark = book.void_vector(12)[0]
    assert book.identify(mark) == (12, 0, book.VOID_COPY)
    assert not book.is_chunk(mark, 12, 0, 0)
    assert zlib.crc32(b"") == 0 and not mark[book.KEY_DIMENSION : book.KEY_DIMENSION + 4].any()
    assert not mark[book.KEY_DIMENSION + book.HEADER :].any()


@pytest.mark.parametrize("seq", [1, 2**24 - 1, 2**24, 3 * 2**24 + 5, 2**40])
def test_every_book_vector_says_whose_it_is_and_its_key_proves_it(seq: int) -> None:
    stored = stored_bytes(40 * book.CHUNK_BYTES, seed=6)
    for copy in (0, 2):
        for index, row in enumerate(book.page_vectors(seq, stored, copy)):
            assert book.identify(row) == (seq, index, copy)
    forged = book.page_vectors(seq, stored)[3].copy()
    forged[book.KEY_DIMENSION + 6] = 4  # claims to be chunk 4, but carries chunk 3's key
    assert book.identify(forged) is None
    assert book.identify(np.zeros(book.PAGE_DIMENSION, np.float32)) is None  # page 0 has no such key
    assert book.identify(np.ones(12, np.float32)) is None  # a journal or data vector


def test_the_servers_graph_reaches_every_key() -> None:
    """On the server's graph (Lite's model of it), a top-1 search at each key finds that chunk.

    The graph keeps each node's closest links only; Gaussian keys left about one point in a
    thousand so far out that no node kept a link to it.
    """
    keys = np.array([book.page_key(seq, chunk, 0) for seq in range(1, 201) for chunk in range(6)], np.float64)
    vectors = (keys / book.KEY_RADIUS).astype(np.float32)  # the graph ranks the same at any scale
    norms = (vectors.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    graph = HnswGraph(Metric.L2, pages.BOOK_M, pages.PAGE_EF_CONSTRUCTION, np.random.default_rng(0))
    for row in range(len(vectors)):
        graph.add(vectors[: row + 1], norms[: row + 1])
    lost = [
        row for row in range(len(vectors)) if graph.search(vectors, norms, None, vectors[row], 64)[0] != row
    ]
    assert lost == []


def test_the_page_a_vector_claims_is_read_from_two_elements() -> None:
    rows = book.page_vectors(2**30 + 7, stored_bytes(2 * book.CHUNK_BYTES, seed=7))
    assert [book.claimed_page(list(row)) for row in rows] == [2**30 + 7] * len(rows)
    assert book.claimed_page(book.void_vector(9)[0]) == 9
    assert book.claimed_page([1.0] * 12) is None  # not a book vector
    odd = rows[0].copy()
    odd[book.KEY_DIMENSION + 4] = 0.5
    assert book.claimed_page(odd) is None
