"""Pages on the server: numbered in the journal, their bytes stored in a book, found by key.

A writer inserts one small vector into the journal ``<name>.__sci_journal``: the server
numbers the journal's vectors 1, 2, 3, ... and never reuses a number. Then it stores the
page's bytes in the current *book* in page vectors keyed by that number (:mod:`.book`). A
reader finds each chunk of page ``n`` with one search at the chunk's key, and rebuilds a chunk
the server's graph stopped reaching from the page's parity.

Books have generations (``<name>.__sci_book``, ``.1``, ``.2``, ...): each checkpoint writes
into the next one, *seals* the old one, carries the pages written since it began, and drops
the old book once its marker is written, so the server keeps one restatement of the
records plus what came after it, not the history. A writer that finds the book it stored
into sealed also stores the page in the next generation; a page is looked up in every book
that exists, newest first.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .._wire import hit_elements
from ..client import Call, Plan, Timeout
from ..errors import NotFoundError, UnavailableError
from ..models import Metric
from . import book
from .records import Page, decode_page
from .view import Names

if TYPE_CHECKING:
    from ..client import _BaseClient

logger = logging.getLogger(__name__)

BOOK_DIMENSION = 8  # journal, index and lock vectors: random points of a small space
BOOK_M = 32
BOOK_EF_CONSTRUCTION = 200
# The journal is never searched: only its numbering and counters are read. It is the one
# collection no checkpoint rotates, so its vectors are made as small as the server allows
# links to be: 254 bytes of snapshot each on the unmodified server, against 1,487 at m=32.
JOURNAL_M = 2
JOURNAL_EF_CONSTRUCTION = 2
# Page vectors are, in effect, random 8-d points on a sphere: an easy graph. Each insert costs
# the server about ef_construction distances of 2,064 elements; at 64 storing a page took as
# long as inserting its records' vectors, at 16 a fifth of that, and a model of the server's
# graph (Lite's) still reaches every key of 102,000 chunks, built with two level seeds.
PAGE_EF_CONSTRUCTION = 16
MAX_COPIES = 3  # a writer stores copies of a chunk up to this many while a search cannot find one
WRITE_DEADLINE = 5.0  # seconds from numbering a page to storing it, past which a writer writes again
PROBE_BATCH = 16  # look-ups sent at once: bounds a first read's transient memory
HARVEST_TOP_K = 48  # hits per look-up kept by a read of many pages (a search costs little more)
_PROBE_EF = 64

#: What a book holds for a page number: its stored bytes, or None for a void mark.
Stored = bytes | None


class _Late(Exception):
    """A page was stored too long after its number was given out to be acknowledged."""


def journal_vector() -> np.ndarray:
    return np.random.default_rng().standard_normal((1, BOOK_DIMENSION)).astype(np.float32)


# -- finding books -----------------------------------------------------------------------------------


def books_plan(client: _BaseClient, names: Names, timeout: Timeout) -> Plan[list[int]]:
    """The book generations that exist, newest first."""
    try:
        collections = yield from client._list_collections_plan(names.db, timeout)
    except NotFoundError:
        return []
    found = (names.book_generation(info.name) for info in collections)
    return sorted((g for g in found if g is not None), reverse=True)


def ensure_book_plan(client: _BaseClient, names: Names, generation: int, timeout: Timeout) -> Plan[None]:
    yield from client._ensure_collection_plan(
        names.db, names.book(generation), Metric.L2, BOOK_M, PAGE_EF_CONSTRUCTION, timeout
    )


def ensure_books_plan(client: _BaseClient, names: Names, timeout: Timeout) -> Plan[None]:
    """Create the first book, then the journal (its existence is what makes the collection exist)."""
    yield from ensure_book_plan(client, names, 0, timeout)
    yield from client._ensure_collection_plan(
        names.db, names.journal, Metric.L2, JOURNAL_M, JOURNAL_EF_CONSTRUCTION, timeout
    )


def sealed_plan(client: _BaseClient, names: Names, generation: int, timeout: Timeout) -> Plan[bool]:
    """Whether book ``generation`` is sealed: a checkpoint is moving to the next one.

    The seal is a collection of its own: created atomically, listed, and never lost to search.
    """
    try:
        yield from client._get_collection_info_plan(names.db, names.seal(generation), timeout)
    except NotFoundError:
        return False
    return True


def seal_plan(client: _BaseClient, names: Names, generation: int, timeout: Timeout) -> Plan[None]:
    yield from client._ensure_collection_plan(
        names.db, names.seal(generation), Metric.L2, None, None, timeout
    )


# -- reading -----------------------------------------------------------------------------------------


class _Pool:
    """The book vectors a read's searches returned, for the pages it wants, by (page, chunk, copy).

    A search for one key answers with its neighbours too; every vector says whose it is
    (:func:`.book.identify`), so a read that wants many pages keeps them all: keys are random
    points, so the neighbours are as likely to be wanted chunks as any others. A chunk taken
    from the pool needs no search of its own.
    """

    def __init__(self, seqs: list[int], wide: bool = False) -> None:
        self.seqs = set(seqs)
        self.top_k = HARVEST_TOP_K if wide or len(seqs) >= PROBE_BATCH else 1
        self.vectors: dict[tuple[int, int, int], np.ndarray] = {}
        self._seen: set[int] = set()

    def keep(self, answer: Any) -> None:
        for rank, item in enumerate(answer.results):
            if rank and item.id in self._seen:
                continue  # the nearest hit is always read: it is the one searched for
            self._seen.add(item.id)
            if book.claimed_page(item.vector.elements) not in self.seqs:
                continue  # read two elements, not the whole vector
            elements = hit_elements(item)
            key = book.identify(elements)
            if key is not None and key[0] in self.seqs:
                self.vectors[key] = elements


def _lookups(
    client: _BaseClient,
    names: Names,
    generation: int,
    keys: list[tuple[int, int, int]],
    pool: _Pool,
    timeout: Timeout,
) -> Plan[dict[tuple[int, int, int], np.ndarray]]:
    """The elements of the vector at each (page, chunk, copy) key, from the pool or where a
    search finds it.

    :data:`PROBE_BATCH` searches go out at a time, which bounds a first read's transient memory.
    """
    found: dict[tuple[int, int, int], np.ndarray] = {}
    collection = names.book(generation)
    todo = list(keys)
    while todo:
        for key in [key for key in todo if key in pool.vectors]:
            found[key] = pool.vectors.pop(key)
        todo = [key for key in todo if key not in found]
        batch, todo = todo[:PROBE_BATCH], todo[PROBE_BATCH:]
        calls = [
            Call(
                "Search",
                client._search_request(
                    names.db, collection, book.probe_vector(*key), pool.top_k, _PROBE_EF, True
                ),
                timeout,
            )
            for key in batch
        ]
        answers = yield calls
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
            pool.keep(answer)
        for key in batch:
            if key in pool.vectors:
                found[key] = pool.vectors.pop(key)
    return found


def _chunks_of(
    client: _BaseClient,
    names: Names,
    generation: int,
    wanted: list[tuple[int, int]],
    pool: _Pool,
    timeout: Timeout,
) -> Plan[dict[tuple[int, int], book.Chunk]]:
    """Chunks (page, chunk) of book ``generation``; a later copy only where an earlier is not found."""
    got: dict[tuple[int, int], book.Chunk] = {}
    for copy in range(MAX_COPIES):
        todo = [(seq, chunk, copy) for seq, chunk in wanted if (seq, chunk) not in got]
        if not todo:
            break
        found = yield from _lookups(client, names, generation, todo, pool, timeout)
        for (seq, chunk, _), elements in found.items():
            parsed = book.read_chunk(elements)
            if parsed is not None:
                got[seq, chunk] = parsed
    return got


def read_stored_plan(
    client: _BaseClient, names: Names, generation: int, seqs: list[int], timeout: Timeout, wide: bool = False
) -> Plan[tuple[dict[int, Stored], set[int]]]:
    """What book ``generation`` holds for pages ``seqs`` (bytes, or None for a void mark), and
    the pages of which it holds chunks that do not make a page (yet: a write in flight; or a
    graph that lost more than parity rebuilds).

    Chunk 0 of each page first (its header tells how many chunks the page has; chunk 1 tells
    where chunk 0 is not found), then the other data chunks, then parity only for pages that
    miss one. Each lookup is one search at the chunk's key (``wide``: for its 48 nearest, as for
    many pages, where the server's graph may not lead a top-1 search to it). NotFoundError: no
    such book.
    """
    pool = _Pool(seqs, wide)
    heads = yield from _chunks_of(client, names, generation, [(seq, 0) for seq in seqs], pool, timeout)
    headless = [seq for seq in seqs if (seq, 0) not in heads]
    if headless:
        heads |= yield from _chunks_of(
            client, names, generation, [(seq, 1) for seq in headless], pool, timeout
        )
    sizes = {seq: chunk.chunks for (seq, _), chunk in heads.items()}
    data = [(seq, c) for seq, n in sizes.items() for c in range(n) if (seq, c) not in heads]
    chunks = heads | (yield from _chunks_of(client, names, generation, data, pool, timeout))
    short = [seq for seq, n in sizes.items() if any((seq, c) not in chunks for c in range(n))]
    if short:
        parity = [(seq, sizes[seq] + j) for seq in short for j in range(book.parity_count(sizes[seq]))]
        chunks |= yield from _chunks_of(client, names, generation, parity, pool, timeout)
    by_page: dict[int, dict[int, book.Chunk]] = {}
    for (seq, index), chunk in chunks.items():
        by_page.setdefault(seq, {})[index] = chunk
    found: dict[int, Stored] = {}
    partial: set[int] = set()
    for seq, parts in by_page.items():
        stored = book.assemble(parts)
        if stored is None:
            partial.add(seq)
        else:
            found[seq] = stored
    absent = [seq for seq in seqs if seq not in by_page]
    if absent:
        marks = yield from _lookups(
            client, names, generation, [(seq, 0, book.VOID_COPY) for seq in absent], pool, timeout
        )
        for seq, _, _ in marks:
            found[seq] = None
    return found, partial


def read_head_plan(
    client: _BaseClient, names: Names, generation: int, seq: int, timeout: Timeout
) -> Plan[book.Chunk | None]:
    """Chunk 0 of page ``seq`` in book ``generation`` (a search for its 48 nearest, per copy),
    or None when no search finds it. Enough to tell which page a number holds
    (:func:`.book.head_digest`) without reading the rest. NotFoundError: no such book."""
    heads = yield from _chunks_of(client, names, generation, [(seq, 0)], _Pool([seq], wide=True), timeout)
    return heads.get((seq, 0))


def read_pages_plan(
    client: _BaseClient, names: Names, books: list[int], seqs: list[int], timeout: Timeout
) -> Plan[tuple[dict[int, Page | None], set[int], list[int]]]:
    """Pages ``seqs`` from the ``books`` given (newest first): a Page, or None for a void mark;
    absent when no book holds it whole. Also the pages some book holds only in part, and the
    books that turned out not to exist."""
    pages: dict[int, Page | None] = {}
    partial: set[int] = set()
    gone: list[int] = []
    for generation in books:
        wanted = [seq for seq in seqs if seq not in pages]
        if not wanted:
            break
        try:
            stored, torn = yield from read_stored_plan(client, names, generation, wanted, timeout)
        except NotFoundError:
            gone.append(generation)
            continue
        partial |= torn
        for seq, data in stored.items():
            if data is None:
                pages[seq] = None
                continue
            try:
                pages[seq] = decode_page(data)
            except ValueError:
                logger.warning("page %d of %r does not decode; it is looked for again", seq, names.name)
    return pages, partial - pages.keys(), gone


# -- writing -----------------------------------------------------------------------------------------


def write_page_plan(
    client: _BaseClient, names: Names, stored: bytes, generation: int, timeout: Timeout
) -> Plan[tuple[int, int]]:
    """Number one page (``stored``: :func:`.records.encode_page`) in the journal and store it;
    its number and the newest book generation it is stored in.

    The page is stored within :data:`WRITE_DEADLINE` of being numbered, or written again under a
    new number (a reader may have voided the old one meanwhile).
    """
    for _ in range(3):
        try:
            return (yield from _write_once_plan(client, names, stored, generation, timeout))
        except _Late:
            logger.warning("a page of %r was stored late; writing it again under a new number", names.name)
    raise UnavailableError(
        f"the server took longer than {WRITE_DEADLINE:g} s to store each of three pages of collection "
        f"{names.name!r}; nothing was acknowledged. Retry when it is less loaded",
        rpc="InsertVectors",
    )


def _write_once_plan(
    client: _BaseClient, names: Names, stored: bytes, generation: int, timeout: Timeout
) -> Plan[tuple[int, int]]:
    started = time.monotonic()
    ids = yield from client._insert_vectors_plan(names.db, names.journal, journal_vector(), None, timeout)
    seq = int(ids[0])
    generation = yield from store_plan(client, names, seq, stored, generation, timeout)
    if time.monotonic() - started > WRITE_DEADLINE:
        raise _Late
    return seq, (yield from _follow_seals_plan(client, names, seq, stored, generation, timeout))


def store_plan(
    client: _BaseClient, names: Names, seq: int, stored: Stored, generation: int, timeout: Timeout
) -> Plan[int]:
    """Store page ``seq`` (bytes, or None for a void mark) in book ``generation``, or in the newest
    book when that one was dropped; the generation it went to."""
    rows = book.void_vector(seq) if stored is None else book.page_vectors(seq, stored)
    for _ in range(3):
        try:
            yield from client._insert_vectors_plan(names.db, names.book(generation), rows, None, timeout)
            break
        except NotFoundError:
            books = yield from books_plan(client, names, timeout)
            if not books:
                raise
            generation = books[0]
    if stored is not None:
        yield from _ensure_findable_plan(client, names, generation, seq, stored, timeout)
    return generation


def _follow_seals_plan(
    client: _BaseClient, names: Names, seq: int, stored: bytes, generation: int, timeout: Timeout
) -> Plan[int]:
    """While the book holding page ``seq`` is sealed, store the page in the next one too.

    A checkpoint seals its book before it carries the pages written since it began into the
    next, so a page stored before the seal is carried, and one stored after it is copied here.
    """
    while (yield from sealed_plan(client, names, generation, timeout)):
        generation += 1
        try:
            present, _ = yield from read_stored_plan(client, names, generation, [seq], timeout)
        except NotFoundError:
            present = {}
        if present.get(seq) != stored:
            generation = yield from store_plan(client, names, seq, stored, generation, timeout)
    return generation


def _ensure_findable_plan(
    client: _BaseClient, names: Names, generation: int, seq: int, stored: bytes, timeout: Timeout
) -> Plan[None]:
    """Check every chunk of page ``seq`` can be found; store further copies of those that cannot.

    A search from a chunk's key reports the chunk at exactly its payload's norm (any other
    vector is ~1e12 away), so the check needs no elements back.
    """
    rows = book.page_vectors(seq, stored)
    missing = list(range(len(rows)))
    for copy in range(MAX_COPIES):
        calls = [
            Call(
                "Search",
                client._search_request(
                    names.db, names.book(generation), book.probe_vector(seq, c, copy), 1, _PROBE_EF, False
                ),
                timeout,
            )
            for c in missing
        ]
        answers = yield calls
        still = []
        for chunk, answer in zip(missing, answers, strict=True):
            if isinstance(answer, Exception):
                raise answer
            expected = book.payload_distance(rows[chunk])
            if not any(abs(item.distance - expected) <= 1e-3 * expected + 1.0 for item in answer.results):
                still.append(chunk)
        missing = still
        if not missing:
            return
        if copy + 1 == MAX_COPIES:
            break
        logger.info("storing copy %d of %d chunks of page %d of %r", copy + 1, len(missing), seq, names.name)
        rows = book.page_vectors(seq, stored, copy + 1)
        yield from client._insert_vectors_plan(names.db, names.book(generation), rows[missing], None, timeout)
    logger.warning(
        "%d chunks of page %d of %r cannot be found after %d copies; readers will look for them again",
        len(missing), seq, names.name, MAX_COPIES,
    )  # fmt: skip
