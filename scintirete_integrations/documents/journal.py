"""The refresher: how a view learns exactly which records exist, proven complete by the journal's counters.

The journal's ``vector_count + deleted_count`` names every page 1..N that exists
(:mod:`.pages`); a read is complete when each is applied, or known to be in flight. A page
number no book answers for is *pending*: a write in flight, or one whose writer died between
numbering and storing it. A writer that needed longer than :data:`.pages.WRITE_DEADLINE` for
those two steps writes its records again as a new page instead of acknowledging, so after
:data:`PENDING_GRACE` a pending number can only be a dead writer's: the reader writes a *void
mark* for it, which every later reader finds at once, and skips it. A number at or below the
newest checkpoint that no book holds was in a book a checkpoint has dropped: the reader reads
the collection anew from that checkpoint, and never voids it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from .._wire import hit_elements
from ..client import Call, Pause, Plan, Timeout
from ..errors import NotFoundError, ScintireteError
from ..models import Metric
from .pages import (
    BOOK_DIMENSION,
    BOOK_EF_CONSTRUCTION,
    BOOK_M,
    PROBE_BATCH,
    WRITE_DEADLINE,
    books_plan,
    journal_vector,
    read_pages_plan,
    store_plan,
)
from .records import Page
from .vectors import VectorTable
from .view import Names, View

if TYPE_CHECKING:
    from ..client import _BaseClient

__all__ = ["IncompleteReadError", "OlderFormatError", "Refresher"]

logger = logging.getLogger(__name__)

PENDING_GRACE = 15.0  # seconds a page number may stay unanswered before a reader voids it
_SETTLE_POLL = 0.25  # seconds between looks at a page found in part
# Pages looked up, then applied, at a time. A read keeps the search hits that belong to the
# pages of its batch, so a wide batch needs fewer searches: opening 50,000 records on Lite
# took 2,546 searches (12 s) in batches of 64 pages and 859 (7 s) in batches of 256, at a
# peak memory 3% higher.
_APPLY_BATCH = 16 * PROBE_BATCH
_INDEX_DIMENSION = BOOK_DIMENSION + 8


class IncompleteReadError(ScintireteError):
    """The layer cannot prove it has read every write of the collection, so it refuses to answer."""


class OlderFormatError(IncompleteReadError):
    """The collection was written by an older release whose pages this one cannot read."""


# -- the checkpoint index ----------------------------------------------------------------------------


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
    row[0, :BOOK_DIMENSION] = journal_vector()[0]
    for i, number in enumerate((*marker, seq)):
        row[0, BOOK_DIMENSION + 2 * i : BOOK_DIMENSION + 2 * i + 2] = [number & 0xFFFFFF, number >> 24]
    yield from client._insert_vectors_plan(names.db, names.index, row, None, timeout)


class Refresher:
    """Brings a view up to date with the journal; one per document collection, shared by its twins."""

    def __init__(self, names: Names, lock: threading.Lock) -> None:
        self.names = names
        self.lock = lock
        self.grace = PENDING_GRACE

    def refresh_plan(
        self,
        client: _BaseClient,
        view: View,
        timeout: Timeout,
        from_checkpoint: bool = True,
        new_view: bool = False,
    ) -> Plan[View]:
        """Apply every page the journal's counters say exists, voiding dead writers' numbers.

        A new view starts at the newest checkpoint (pages before it are restated by its parts);
        pages are looked up and applied in journal order, a few hundred at a time, so a first read
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
            books = list(view.books)
        if not books or (missing and fresh):
            books = yield from self._books_plan(client, view, total, timeout)
        found, partial = yield from self._read_plan(client, view, books, missing, timeout)
        if partial:
            found |= yield from self._settle_plan(client, view, books, sorted(partial), timeout)
        if marker is not None and not all(
            seq in found for seq in (*range(marker[0], marker[1] + 1), marker[3])
        ):
            logger.warning("a checkpoint of %r cannot be read whole; reading every page", self.names.name)
            return (yield from self._rebuild_plan(client, view, timeout, from_checkpoint=False))
        still = [seq for seq in missing if seq not in found]
        if still:  # perhaps in a book this view has not heard of yet (a checkpoint moved on)
            newer = yield from self._books_plan(client, view, total, timeout)
            if newer != books:
                more, partial = yield from self._read_plan(client, view, newer, still, timeout)
                if partial:
                    more |= yield from self._settle_plan(client, view, newer, sorted(partial), timeout)
                found |= more
                still = [seq for seq in still if seq not in found]
        if not still:
            return view
        with self.lock:
            lagging = any(seq <= view.checkpoint_upto for seq in still)
            if lagging and new_view:  # a view read afresh holds nothing older: the parts restate them
                view.skip_upto(view.checkpoint_upto)
                still = [seq for seq in still if seq > view.checkpoint_upto]
                lagging = False
        if lagging:  # in a book a checkpoint dropped, and this view may hold what they changed
            return (yield from self._rebuild_plan(client, view, timeout, from_checkpoint=True))
        if not still:
            return view
        now = time.monotonic()
        with self.lock:
            overdue = [seq for seq in still if now - view.pending.setdefault(seq, now) >= self.grace]
        if overdue:
            yield from self._void_plan(client, view, overdue, timeout)
        return view

    def _books_plan(self, client: _BaseClient, view: View, total: int, timeout: Timeout) -> Plan[list[int]]:
        """The books that exist, noted in the view; OlderFormatError when pages exist but no book."""
        books = yield from books_plan(client, self.names, timeout)
        if not books and total:
            raise self._older_format(total)
        with self.lock:
            view.books = list(books)
        return books

    def _read_plan(
        self, client: _BaseClient, view: View, books: list[int], seqs: list[int], timeout: Timeout
    ) -> Plan[tuple[set[int], set[int]]]:
        """Look pages up and apply them in journal order, a few hundred at a time; the ones found,
        and the ones found only in part."""
        found: set[int] = set()
        partial: set[int] = set()
        for start in range(0, len(seqs), _APPLY_BATCH):
            pages, torn, gone = yield from read_pages_plan(
                client, self.names, books, seqs[start : start + _APPLY_BATCH], timeout
            )
            if gone:
                books = [g for g in books if g not in gone]
                with self.lock:
                    view.books = [g for g in view.books if g not in gone]
            self._apply(view, pages)
            found |= pages.keys()
            partial |= torn
        return found, partial

    def _settle_plan(
        self, client: _BaseClient, view: View, books: list[int], seqs: list[int], timeout: Timeout
    ) -> Plan[set[int]]:
        """Pages found in part, looked at again until whole; the ones applied.

        A writer that could not find a chunk stores more copies of it before it acknowledges, and
        gives up on a page it has not stored within :data:`WRITE_DEADLINE`; a page still in part
        after that lost chunks to the server's graph (it may have been acknowledged): this read
        raises instead of answering without it.
        """
        settled: set[int] = set()
        deadline = time.monotonic() + WRITE_DEADLINE
        while seqs:
            if time.monotonic() >= deadline:
                raise self._unreadable(seqs)
            yield Pause(_SETTLE_POLL)
            pages, partial, _ = yield from read_pages_plan(client, self.names, books, seqs, timeout)
            self._apply(view, pages)
            settled |= pages.keys()
            seqs = [seq for seq in seqs if seq in partial]  # the rest are whole, or gone with a dropped book
        return settled

    def _older_format(self, total: int) -> OlderFormatError:
        return OlderFormatError(
            f"collection {self.names.name!r} holds {total} journal pages but no page book: it was written by "
            "scintirete-integrations 0.2 or older, whose pages an unmodified server does not keep across a "
            "restart, and this release cannot read them. Read it with the release that wrote it and add the "
            "documents again with this one; or call clear() on it (LangChain: store.delete(); LlamaIndex: "
            "clear()), which keeps the collection, empty and writable, from any process",
            rpc="Search",
        )

    def _unreadable(self, seqs: list[int]) -> IncompleteReadError:
        return IncompleteReadError(
            f"page(s) {seqs[:5]} of collection {self.names.name!r} are on the server, but more of their "
            "chunks cannot be found by search than their parity rebuilds (the server's HNSW graph lost "
            "its links to them, as it can when a restart rebuilds it). Their records cannot be read, and "
            "this store will not answer as if they did not exist. Write the records you still have again "
            "into a new collection, or call clear() on this one (LangChain: store.delete(); LlamaIndex: "
            "clear()), which keeps it, empty and writable, from any process",
            rpc="Search",
        )

    def _rebuild_plan(
        self, client: _BaseClient, view: View, timeout: Timeout, from_checkpoint: bool
    ) -> Plan[View]:
        """Read the collection into a new view, then put it in place of ``view`` whole.

        Every holder of ``view`` sees the change, and none sees a half-built view meanwhile.
        """
        scratch = View(gen=self.names.name, vectors=VectorTable(view.vectors.metric))
        yield from self.refresh_plan(client, scratch, timeout, from_checkpoint, new_view=True)
        with self.lock:
            view.become(scratch)
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
        with self.lock:
            books = list(view.books)
        pages, partial, _ = yield from read_pages_plan(client, self.names, books, overdue, timeout)
        self._apply(view, pages)
        if partial:  # stored, so perhaps acknowledged: never voided
            raise self._unreadable(sorted(partial))
        dead = [seq for seq in overdue if seq not in pages]
        if not dead:
            return
        logger.warning(
            "voiding %d page number(s) of %r (%s): their writers stopped before storing them",
            len(dead), self.names.name, dead[:5],
        )  # fmt: skip
        for seq in dead:
            yield from store_plan(client, self.names, seq, None, books[0] if books else 0, timeout)
        self._apply(view, dict.fromkeys(dead))
