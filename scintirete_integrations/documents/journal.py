"""The journal: how the layer knows exactly which records exist, proven complete by the server's counters.

Every write of the layer is a *page* (see :mod:`.records`). A writer first inserts one small
vector into the journal collection ``<name>.__sci_journal``: the server numbers the journal's
vectors 1, 2, 3, ... and never reuses a number, so ``vector_count + deleted_count`` tells a
reader exactly which pages exist. Then it stores the page's bytes in the *book*
``<name>.__sci_book``, in page vectors keyed by that number (:mod:`.book`): elements, which an
unmodified server keeps across a restart, where metadata comes back empty. A reader finds page
``n`` with one nearest-neighbour search per chunk at its fixed key; no enumeration, no
reachability of the whole collection needed. A writer checks that every chunk can be found and
stores another copy of any that cannot.

A page number no page answers for is *pending*: a write in flight, or one whose writer died
between numbering and storing it. A writer that needed longer than :data:`WRITE_DEADLINE` for
those two steps writes its records again as a new page instead of acknowledging, so after
:data:`PENDING_GRACE` a pending number can only be a dead writer's: the reader writes a *void
mark* for it, which every later reader finds at once, and skips it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from .._wire import hit_elements
from ..client import Call, Plan, Timeout
from ..errors import NotFoundError, ScintireteError, UnavailableError
from ..models import Metric
from . import book
from .records import Page, decode_page
from .vectors import VectorTable
from .view import Names, View

if TYPE_CHECKING:
    from ..client import _BaseClient

__all__ = ["IncompleteReadError", "OlderFormatError", "Refresher", "write_page_plan"]

logger = logging.getLogger(__name__)

BOOK_DIMENSION = 8  # journal, index and lock vectors: random points of a small space
BOOK_M = 32
BOOK_EF_CONSTRUCTION = 200
PAGE_EF_CONSTRUCTION = 64  # page vectors are, in effect, random 8-d points: an easy graph
MAX_COPIES = 3  # a writer stores copies of a chunk up to this many while a search cannot find one
WRITE_DEADLINE = 5.0  # seconds from numbering a page to storing it, past which a writer writes again
PENDING_GRACE = 15.0  # seconds a page number may stay unanswered before a reader voids it
PROBE_BATCH = 16  # look-ups sent at once: bounds a first read's transient memory
_PROBE_EF = 64
_APPLY_BATCH = 4 * PROBE_BATCH  # pages looked up, then applied, at a time
_INDEX_DIMENSION = BOOK_DIMENSION + 8


class IncompleteReadError(ScintireteError):
    """The layer cannot prove it has read every write of the collection, so it refuses to answer."""


class OlderFormatError(IncompleteReadError):
    """The collection was written by an older release whose pages this one cannot read."""


def _journal_vector() -> np.ndarray:
    return np.random.default_rng().standard_normal((1, BOOK_DIMENSION)).astype(np.float32)


class _Late(Exception):
    """A page was stored too long after its number was given out to be acknowledged."""


# -- reading pages -----------------------------------------------------------------------------------


def _lookups(
    client: _BaseClient, names: Names, wanted: list[tuple[int, int, int]], timeout: Timeout
) -> Plan[list[list[np.ndarray]]]:
    """For each (page, copy, how many), the elements of that many vectors nearest the page's key.

    :data:`PROBE_BATCH` searches go out at a time, which bounds a first read's transient memory.
    """
    found: list[list[np.ndarray]] = []
    for start in range(0, len(wanted), PROBE_BATCH):
        batch = wanted[start : start + PROBE_BATCH]
        calls = [
            Call(
                "Search",
                client._search_request(
                    names.db, names.book, book.probe_vector(seq, copy), n, max(n, _PROBE_EF), True
                ),
                timeout,
            )
            for seq, copy, n in batch
        ]
        answers = yield calls
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
            found.append([hit_elements(item) for item in answer.results])
    return found


def _chunks_of(
    client: _BaseClient, names: Names, wanted: dict[int, int], timeout: Timeout
) -> Plan[dict[int, dict[int, book.Chunk]]]:
    """Chunks of pages ``wanted`` (page -> how many to ask for), any copy, by chunk number."""
    got: dict[int, dict[int, book.Chunk]] = {seq: {} for seq in wanted}
    for copy in range(MAX_COPIES):
        todo = [(seq, copy, n) for seq, n in wanted.items() if len(got[seq]) < max(n, 1)]
        if not todo:
            break
        results = yield from _lookups(client, names, todo, timeout)
        for (seq, _, _), hits in zip(todo, results, strict=True):
            for elements in hits:
                number = book.chunk_number(elements, seq, copy)
                chunk = None if number is None else book.read_chunk(elements)
                if chunk is not None and number is not None:
                    got[seq].setdefault(number, chunk)
    return got


def read_pages_plan(
    client: _BaseClient, names: Names, seqs: list[int], timeout: Timeout
) -> Plan[dict[int, Page | None]]:
    """Pages ``seqs`` read from the book: a Page, or None for a void mark; absent when not found.

    One search per page finds chunk 0, which tells how many chunks the page has; a second
    search per longer page returns all of them (they are its key's nearest vectors). Later
    copies are asked for only where a chunk is still missing.
    """
    firsts = yield from _chunks_of(client, names, dict.fromkeys(seqs, 1), timeout)
    sizes = {seq: chunks[0].chunks for seq, chunks in firsts.items() if 0 in chunks}
    whole = yield from _chunks_of(client, names, {s: n for s, n in sizes.items() if n > 1}, timeout)
    pages: dict[int, Page | None] = {}
    for seq, n in sizes.items():
        chunks = firsts[seq] if n == 1 else whole[seq]
        parts = [chunks.get(c) for c in range(n)]
        stored = None if None in parts else book.assemble(parts)  # type: ignore[arg-type]
        if stored is None:
            continue
        try:
            pages[seq] = decode_page(stored)
        except ValueError:
            logger.warning("page %d of %r does not decode; it is looked for again", seq, names.name)
    absent = [seq for seq in seqs if seq not in pages]
    if absent:
        marks = yield from _lookups(client, names, [(seq, book.VOID_COPY, 1) for seq in absent], timeout)
        for seq, hits in zip(absent, marks, strict=True):
            if any(book.is_void(elements, seq) for elements in hits):
                pages[seq] = None
    return pages


def newest_checkpoint_plan(
    client: _BaseClient, names: Names, total: int, timeout: Timeout
) -> Plan[tuple[int, int, int, int] | None]:
    """The newest checkpoint in the index (parts first, last, as of, marker page), or None.

    The index only saves a new store from reading history: one it misses (or a marker page
    that turns out not to match) just means reading from an older checkpoint, or from page 1.
    """
    try:
        info = yield from client._get_collection_info_plan(names.db, names.index, timeout)
    except NotFoundError:
        return None
    if not info.vector_count:
        return None
    size = min(info.vector_count + 16, 2**31 - 1)
    request = client._search_request(
        names.db, names.index, np.zeros(_INDEX_DIMENSION, np.float32), size, size, True
    )
    response = yield Call("Search", request, timeout)
    best: tuple[int, int, int, int] | None = None
    for item in response.results:
        values = [int(v) for v in hit_elements(item)[BOOK_DIMENSION:]]
        if len(values) != 8:
            continue
        first, last, upto, seq = (values[i] | (values[i + 1] << 24) for i in range(0, 8, 2))
        if seq <= total and (best is None or upto > best[2]):
            best = (first, last, upto, seq)
    return best


def index_checkpoint_plan(
    client: _BaseClient, names: Names, marker: tuple[int, int, int], seq: int, timeout: Timeout
) -> Plan[None]:
    """Record a written checkpoint (marker page ``seq``) where new stores look for it first."""
    yield from client._ensure_collection_plan(
        names.db, names.index, Metric.L2, BOOK_M, BOOK_EF_CONSTRUCTION, timeout
    )
    row = np.zeros((1, _INDEX_DIMENSION), np.float32)
    row[0, :BOOK_DIMENSION] = _journal_vector()[0]
    for i, number in enumerate((*marker, seq)):
        row[0, BOOK_DIMENSION + 2 * i : BOOK_DIMENSION + 2 * i + 2] = [number & 0xFFFFFF, number >> 24]
    yield from client._insert_vectors_plan(names.db, names.index, row, None, timeout)


# -- writing pages -----------------------------------------------------------------------------------


def write_page_plan(client: _BaseClient, names: Names, text: str, timeout: Timeout) -> Plan[int]:
    """Number one page (JSON ``text``) in the journal, store it in the book; its number.

    The page is stored within :data:`WRITE_DEADLINE` of being numbered, or written again under a
    new number (a reader may have voided the old one meanwhile).
    """
    stored = book.pack(text)
    for _ in range(3):
        try:
            return (yield from _write_once_plan(client, names, stored, timeout))
        except _Late:
            logger.warning("a page of %r was stored late; writing it again under a new number", names.name)
    raise UnavailableError(
        f"the server took longer than {WRITE_DEADLINE:g} s to store each of three pages of collection "
        f"{names.name!r}; nothing was acknowledged. Retry when it is less loaded",
        code=None,
        rpc="InsertVectors",
    )


def _write_once_plan(client: _BaseClient, names: Names, stored: bytes, timeout: Timeout) -> Plan[int]:
    started = time.monotonic()
    ids = yield from client._insert_vectors_plan(names.db, names.journal, _journal_vector(), None, timeout)
    seq = int(ids[0])
    rows = book.page_vectors(seq, stored)
    yield from client._insert_vectors_plan(names.db, names.book, rows, None, timeout)
    if time.monotonic() - started > WRITE_DEADLINE:
        raise _Late
    yield from _ensure_findable_plan(client, names, seq, stored, timeout)
    return seq


def _ensure_findable_plan(
    client: _BaseClient, names: Names, seq: int, stored: bytes, timeout: Timeout
) -> Plan[None]:
    """Check every chunk of page ``seq`` can be found; store further copies of those that cannot."""
    rows = book.page_vectors(seq, stored)
    missing = list(range(len(rows)))
    for copy in range(MAX_COPIES):
        [hits] = yield from _lookups(client, names, [(seq, copy, len(rows))], timeout)
        present = {book.chunk_number(elements, seq, copy): elements for elements in hits}
        missing = [c for c in missing if not _same(present.get(c), rows[c], seq, c, copy)]
        if not missing or copy + 1 == MAX_COPIES:
            break
        logger.info("storing copy %d of %d chunks of page %d of %r", copy + 1, len(missing), seq, names.name)
        copies = book.page_vectors(seq, stored, copy + 1)[missing]
        yield from client._insert_vectors_plan(names.db, names.book, copies, None, timeout)


def _same(elements: np.ndarray | None, row: np.ndarray, seq: int, chunk: int, copy: int) -> bool:
    if elements is None:
        return False
    expected = row.copy()
    expected[: book.KEY_DIMENSION] = book.page_key(seq, chunk, copy)
    return bool(np.array_equal(elements, expected))


def ensure_books_plan(client: _BaseClient, names: Names, timeout: Timeout) -> Plan[None]:
    """Create the book, then the journal (its existence is what makes the collection exist)."""
    yield from client._ensure_collection_plan(
        names.db, names.book, Metric.L2, BOOK_M, PAGE_EF_CONSTRUCTION, timeout
    )
    yield from client._ensure_collection_plan(
        names.db, names.journal, Metric.L2, BOOK_M, BOOK_EF_CONSTRUCTION, timeout
    )


class Refresher:
    """Brings a view up to date with the journal; one per document collection, shared by its twins."""

    def __init__(self, names: Names, lock: threading.Lock) -> None:
        self.names = names
        self.lock = lock
        self.grace = PENDING_GRACE

    def refresh_plan(
        self, client: _BaseClient, view: View, timeout: Timeout, from_checkpoint: bool = True
    ) -> Plan[View]:
        """Apply every page the journal's counters say exists, voiding dead writers' numbers.

        A new view starts at the newest checkpoint (pages before it are restated by its parts);
        pages are looked up and applied in journal order, a few dozen at a time, so a first read
        holds little more than the view it builds.
        """
        with self.lock:
            newest = max(view.applied_upto, *view.applied_above, 0)
        info = yield from client._get_collection_info_plan(self.names.db, self.names.journal, timeout)
        total = info.total_inserted
        with self.lock:
            # Fewer pages than were applied before asking: dropped and made anew meanwhile (or a
            # restart lost the last writes). A page applied after asking (another thread's write)
            # may lawfully be newer than ``total``.
            dropped = total < newest
            fresh = view.applied_upto == 0 and not view.applied_above
        if dropped:
            return (yield from self._rebuild_plan(client, view, timeout, from_checkpoint))
        marker = None
        if fresh and from_checkpoint:
            marker = yield from newest_checkpoint_plan(client, self.names, total, timeout)
        with self.lock:
            if marker is not None and (
                view.applied_upto or min(view.applied_above, default=total) <= marker[2]
            ):
                marker = None  # another thread began applying pages the checkpoint restates: read them all
            if marker is not None:
                view.skip_upto(marker[2])
            missing = view.missing(total)
        found: set[int] = set()
        for start in range(0, len(missing), _APPLY_BATCH):
            try:
                pages = yield from read_pages_plan(
                    client, self.names, missing[start : start + _APPLY_BATCH], timeout
                )
            except NotFoundError:
                raise self._older_format(total) from None
            self._apply(view, pages)
            found |= pages.keys()
        if marker is not None and not all(
            seq in found for seq in (*range(marker[0], marker[1] + 1), marker[3])
        ):
            logger.warning("a checkpoint of %r cannot be read whole; reading every page", self.names.name)
            return (yield from self._rebuild_plan(client, view, timeout, from_checkpoint=False))
        still = [seq for seq in missing if seq not in found]
        if not still:
            return view
        now = time.monotonic()
        with self.lock:
            overdue = [seq for seq in still if now - view.pending.setdefault(seq, now) >= self.grace]
        if overdue:
            yield from self._void_plan(client, view, overdue, timeout)
        return view

    def _older_format(self, total: int) -> OlderFormatError:
        return OlderFormatError(
            f"collection {self.names.name!r} holds {total} journal pages but no page book: it was written by "
            "scintirete-integrations 0.2 or older, whose pages an unmodified server does not keep across a "
            "restart. Read it with the release that wrote it and add the documents again with this one, or "
            "drop it with ScintireteClient.drop_collection for each of its collections",
            code=None,
            rpc="Search",
        )

    def _rebuild_plan(
        self, client: _BaseClient, view: View, timeout: Timeout, from_checkpoint: bool
    ) -> Plan[View]:
        """Read the collection into a new view, then put it in place of ``view`` whole.

        Every holder of ``view`` sees the change, and none sees a half-built view meanwhile.
        """
        scratch = View(gen=self.names.name, vectors=VectorTable(view.vectors.metric))
        yield from self.refresh_plan(client, scratch, timeout, from_checkpoint)
        with self.lock:
            view.__dict__.update(scratch.__dict__)
        return view

    def _apply(self, view: View, pages: dict[int, Page | None]) -> None:
        with self.lock:
            for seq in sorted(pages):
                page = pages[seq]
                if page is None:
                    view.voided += 1
                view.apply(seq, page or Page())

    def _void_plan(self, client: _BaseClient, view: View, overdue: list[int], timeout: Timeout) -> Plan[None]:
        """Void page numbers unanswered past the grace period: their writers died before storing them.

        A live writer never acknowledges a page stored that late (it writes it again), so nothing
        acknowledged is skipped; the mark spares every later reader the wait.
        """
        pages = yield from read_pages_plan(client, self.names, overdue, timeout)  # one last look
        self._apply(view, pages)
        dead = [seq for seq in overdue if seq not in pages]
        if not dead:
            return
        logger.warning(
            "voiding %d page number(s) of %r (%s): their writers stopped before storing them",
            len(dead), self.names.name, dead[:5],
        )  # fmt: skip
        marks = np.concatenate([book.void_vector(seq) for seq in dead])
        yield from client._insert_vectors_plan(self.names.db, self.names.book, marks, None, timeout)
        self._apply(view, dict.fromkeys(dead))
