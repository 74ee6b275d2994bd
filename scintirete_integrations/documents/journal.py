"""The journal: how the layer knows exactly which records exist, proven complete by the server's counters.

Every write of the layer is a *page* (see :mod:`.records`) inserted into the journal
collection ``<name>.__sci_journal``. The server numbers the journal's vectors 1, 2, 3, ...
and never reuses a number, so ``vector_count + deleted_count`` of the journal tells a reader
exactly which pages exist: a read is complete when every one of them has been applied.

Search is v1's only read, and a vector can be lost to search, so a page is kept once more in
the *mirror* ``<name>.__sci_pages``, at vectors that are a pure function of its journal number
(:func:`mirror_vector`). A reader finds page ``n`` with one nearest-neighbour search for
``mirror_vector(n, copy)``: no enumeration, no reachability of the whole collection needed.
Bookkeeping vectors are random points of a small space (8-d, L2, m=32): the kind of data an
HNSW graph reaches best. A writer checks that its copy can be found and adds more when not.

A page number that no copy answers for is *pending*: a write still in flight (its writer
inserts the journal vector first, then the mirror copy), or one whose copies were all lost, or whose writer died between the
two. After :data:`PENDING_GRACE` seconds a reader scans the journal itself for it and, when it
is there, writes the missing copies; when it is nowhere, the read raises
:class:`IncompleteReadError` rather than answer from a view it cannot prove complete.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..client import Call, Plan, Timeout
from ..errors import NotFoundError, ScintireteError
from ..models import Metric
from .records import PAGE_KEY, SEQ_KEY, Entry, Page, Record, decode_page, pack_page, struct_bytes
from .vectors import VectorTable

if TYPE_CHECKING:
    from ..client import _BaseClient

__all__ = ["IncompleteReadError", "View", "mirror_vector"]

logger = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".__sci_journal"
MIRROR_SUFFIX = ".__sci_pages"
CHECKPOINTS_SUFFIX = ".__sci_checkpoints"
RESERVED_INFIX = ".__sci_"
BOOK_DIMENSION = 8
BOOK_M = 32
BOOK_EF_CONSTRUCTION = 200
MIRROR_COPIES = 1  # written with every page (the journal holds another)
MAX_COPIES = 3  # a writer adds copies up to this many when a search cannot find one
PENDING_GRACE = 15.0  # seconds a page may stay unreadable before a reader looks harder, then fails
PROBE_BATCH = 16  # mirror look-ups sent at once: bounds a first read's transient memory
_PROBE_EF = 64
_APPLY_BATCH = 4 * PROBE_BATCH  # pages looked up, then applied, at a time


class IncompleteReadError(ScintireteError):
    """The layer cannot prove it has read every write of the collection, so it refuses to answer.

    Raised when a journal page stays unreadable (no copy is found by search, and the journal
    itself does not return it) for longer than a write takes, or lost its contents in a server
    restart without a snapshot.
    """


def mirror_vector(seq: int, copy: int) -> np.ndarray:
    """Where copy ``copy`` of journal page ``seq`` lives in the mirror: a fixed pseudo-random point."""
    rng = np.random.default_rng([seq, copy, 0x5C1])
    return rng.standard_normal(BOOK_DIMENSION).astype(np.float32)


def _journal_vector() -> np.ndarray:
    return np.random.default_rng().standard_normal((1, BOOK_DIMENSION)).astype(np.float32)


@dataclass
class View:
    """What a store knows of its collection: every applied page folded into the visible records.

    Mutated only with the owning core's lock held; every field is derived from pages alone, so
    two stores that applied the same pages hold equal views.
    """

    gen: str  # the data collection searches go to
    dimension: int = 0
    switch_seq: int = 0  # the marker that made ``gen`` current (0: the base collection)
    switches: int = 0  # rebuilds applied
    checkpoint_seq: int = 0  # the newest checkpoint marker applied
    since_checkpoint: int = 0  # entries (upserts and deletes) applied since then
    records: dict[str, Record] = field(default_factory=dict)
    vectors: VectorTable = field(default_factory=lambda: VectorTable(Metric.COSINE))
    fingerprints: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # string id -> token of its visible version
    by_token: dict[str, str] = field(default_factory=dict)
    homes: dict[str, str] = field(default_factory=dict)  # string id -> data collection holding its vector
    strays: set[str] = field(default_factory=set)  # visible records whose vector is not in ``gen``
    versions: dict[str, int] = field(default_factory=dict)  # string id -> page of its newest write
    data_vectors: dict[str, int] = field(default_factory=dict)  # data collection -> vectors written
    applied_upto: int = 0  # every page up to here is applied
    applied_above: set[int] = field(default_factory=set)
    pending: dict[int, float] = field(default_factory=dict)  # page -> when first found missing
    match_cache: dict[str, list[str]] = field(default_factory=dict)  # filter -> matching ids, until a write

    def missing(self, total: int) -> list[int]:
        """Pages 1..``total`` not applied yet, oldest first."""
        start = self.applied_upto + 1
        return [seq for seq in range(start, total + 1) if seq not in self.applied_above]

    def apply(self, seq: int, page: Page) -> None:
        """Fold page ``seq`` in; pages may come in any order, and twice (the second time is a no-op)."""
        if seq <= self.applied_upto or seq in self.applied_above:
            return
        self.applied_above.add(seq)
        while self.applied_upto + 1 in self.applied_above:
            self.applied_upto += 1
            self.applied_above.discard(self.applied_upto)
        self.pending.pop(seq, None)
        self.match_cache.clear()
        version = page.as_of or seq  # a checkpoint part restates records as they were at as_of
        adopted = [e for e in page.upserts if self.versions.get(e.id, 0) <= version]  # else a newer write won
        for entry in adopted:
            self._forget(entry.id)
            self.versions[entry.id] = version
            self._adopt(entry)
        if adopted:
            self.vectors.put([e.id for e in adopted], np.stack([e.vector for e in adopted]))
        for sid in page.deletes:
            if self.versions.get(sid, 0) > version:
                continue
            self._forget(sid)
            self.versions[sid] = version
        if page.as_of == 0:
            self.since_checkpoint += len(page.upserts) + len(page.deletes)
        if page.checkpoint is not None and seq > self.checkpoint_seq:
            self.checkpoint_seq, self.since_checkpoint = seq, 0
        if page.switch_to is not None and seq > self.switch_seq:
            self.switch_seq, self.gen = seq, page.switch_to
            self.switches += 1
            self.strays = {sid for sid in self.records if self.homes[sid] != self.gen}

    def skip_upto(self, seq: int) -> None:
        """Treat pages 1..``seq`` as applied: a checkpoint this (new) view starts from restates them."""
        self.applied_upto = max(self.applied_upto, seq)
        self.applied_above = {s for s in self.applied_above if s > self.applied_upto}
        while self.applied_upto + 1 in self.applied_above:
            self.applied_upto += 1
            self.applied_above.discard(self.applied_upto)
        self.pending = {s: t for s, t in self.pending.items() if s > self.applied_upto}

    def _adopt(self, entry: Entry) -> None:
        sid = entry.id
        self.records[sid] = entry.record()
        self.fingerprints[sid] = entry.fingerprint
        self.tokens[sid] = entry.token
        self.by_token[entry.token] = sid
        self.homes[sid] = entry.home
        if entry.home != self.gen:
            self.strays.add(sid)
        self.data_vectors[entry.home] = self.data_vectors.get(entry.home, 0) + 1
        self.dimension = self.dimension or int(entry.vector.shape[0])

    def _forget(self, sid: str) -> None:
        if sid not in self.records:
            return
        del self.records[sid], self.fingerprints[sid], self.homes[sid]
        self.vectors.remove(sid)
        self.by_token.pop(self.tokens.pop(sid), None)
        self.strays.discard(sid)


@dataclass
class Names:
    """The collections behind one document collection."""

    db: str
    name: str

    @property
    def journal(self) -> str:
        return self.name + JOURNAL_SUFFIX

    @property
    def mirror(self) -> str:
        return self.name + MIRROR_SUFFIX

    @property
    def checkpoints(self) -> str:
        return self.name + CHECKPOINTS_SUFFIX

    def is_generation(self, collection: str) -> bool:
        return collection == self.name or collection.startswith(self.name + RESERVED_INFIX + "g")


# -- reading pages -----------------------------------------------------------------------------------


def _page_of(item: object) -> Page | None:
    fields = item.metadata.fields  # type: ignore[attr-defined]
    if PAGE_KEY not in fields:
        return None
    try:
        return decode_page(fields[PAGE_KEY].string_value)
    except (ValueError, KeyError, TypeError):
        return None


def scan_journal_plan(
    client: _BaseClient, names: Names, total: int, timeout: Timeout
) -> Plan[tuple[dict[int, tuple[Page, str]], set[int]]]:
    """Every journal page one search reaches (most, usually all) with its text, and the blank ones."""
    size = min(total + 16, 2**31 - 1)
    request = client._search_request(
        names.db, names.journal, np.zeros(BOOK_DIMENSION, np.float32), size, size, False
    )
    response = yield Call("Search", request, timeout)
    pages: dict[int, tuple[Page, str]] = {}
    blank: set[int] = set()
    for item in response.results:
        page = _page_of(item)
        if page is None:
            blank.add(int(item.id))
        else:
            pages[int(item.id)] = (page, item.metadata.fields[PAGE_KEY].string_value)
    return pages, blank


def probe_mirror_plan(
    client: _BaseClient, names: Names, seqs: list[int], timeout: Timeout, copies: range = range(MAX_COPIES)
) -> Plan[dict[int, Page]]:
    """Pages ``seqs`` looked up in the mirror by their fixed vectors: one top-1 search per page.

    Copy 0 is asked for first; later copies only for the pages still missing, so each page
    crosses the wire once. Look-ups go out :data:`PROBE_BATCH` at a time, which also bounds the
    memory a first read of a large collection needs.
    """
    found: dict[int, Page] = {}
    for copy in copies:
        missing = [seq for seq in seqs if seq not in found]
        for start in range(0, len(missing), PROBE_BATCH):
            chunk = missing[start : start + PROBE_BATCH]
            calls = [
                Call(
                    "Search",
                    client._search_request(
                        names.db, names.mirror, mirror_vector(seq, copy), 1, _PROBE_EF, False
                    ),
                    timeout,
                )
                for seq in chunk
            ]
            answers = yield calls
            for seq, answer in zip(chunk, answers, strict=True):
                if isinstance(answer, NotFoundError):
                    return found  # no mirror yet: every page is still in flight
                if isinstance(answer, Exception):
                    raise answer
                for item in answer.results:
                    seq_field = item.metadata.fields.get(SEQ_KEY)
                    if seq_field is None or seq_field.string_value != str(seq) or item.distance > 1e-6:
                        continue
                    page = _page_of(item)
                    if page is not None:
                        found[seq] = page
        if len(found) == len(seqs):
            break
    return found


def newest_checkpoint_plan(
    client: _BaseClient, names: Names, total: int, timeout: Timeout
) -> Plan[tuple[int, int, int, int] | None]:
    """The newest checkpoint in the index (parts first, last, as of, marker page), or None.

    The index only saves a new store from reading history: one it misses (or a marker page
    that turns out not to match) just means reading from an older checkpoint, or from page 1.
    """
    try:
        info = yield from client._get_collection_info_plan(names.db, names.checkpoints, timeout)
    except NotFoundError:
        return None
    if not info.vector_count:
        return None
    size = min(info.vector_count + 16, 2**31 - 1)
    request = client._search_request(
        names.db, names.checkpoints, np.zeros(BOOK_DIMENSION, np.float32), size, size, False
    )
    response = yield Call("Search", request, timeout)
    best: tuple[int, int, int, int] | None = None
    for item in response.results:
        try:
            first, last, upto, seq = (int(n) for n in json.loads(item.metadata.fields[PAGE_KEY].string_value))
        except (KeyError, ValueError, TypeError):
            continue
        if seq <= total and (best is None or upto > best[2]):
            best = (first, last, upto, seq)
    return best


def index_checkpoint_plan(
    client: _BaseClient, names: Names, marker: tuple[int, int, int], seq: int, timeout: Timeout
) -> Plan[None]:
    """Record a written checkpoint (marker page ``seq``) where new stores look for it first."""
    yield from client._ensure_collection_plan(
        names.db, names.checkpoints, Metric.L2, BOOK_M, BOOK_EF_CONSTRUCTION, timeout
    )
    yield from client._insert_vectors_plan(
        names.db,
        names.checkpoints,
        _journal_vector(),
        [struct_bytes({PAGE_KEY: json.dumps([*marker, seq])})],
        timeout,
    )


# -- writing pages -----------------------------------------------------------------------------------


def write_page_plan(client: _BaseClient, names: Names, text: str, timeout: Timeout) -> Plan[int]:
    """Insert one page (JSON ``text``): journal first (that numbers it), then its mirror copy."""
    stored = pack_page(text)
    ids = yield from client._insert_vectors_plan(
        names.db, names.journal, _journal_vector(), [struct_bytes({PAGE_KEY: stored})], timeout
    )
    seq = int(ids[0])
    try:
        yield from write_copies_plan(client, names, seq, stored, range(MIRROR_COPIES), timeout)
    except ScintireteError as exc:  # stored in the journal: readers find it there after the grace period
        logger.warning("journal page %d of %r has no mirror copy yet: %s", seq, names.name, exc)
    return seq


def write_copies_plan(
    client: _BaseClient, names: Names, seq: int, stored: str, copies: range, timeout: Timeout
) -> Plan[None]:
    """Write mirror copies of page ``seq`` (as stored), then check search finds one; add copies while none is."""
    payload = struct_bytes({PAGE_KEY: stored, SEQ_KEY: str(seq)})
    for copy in copies:
        yield from client._insert_vectors_plan(
            names.db, names.mirror, mirror_vector(seq, copy)[None, :], [payload], timeout
        )
    if (
        not (yield from _findable_plan(client, names, seq, range(copies.stop), timeout))
        and copies.stop < MAX_COPIES
    ):
        # no copy can be found: one more
        yield from write_copies_plan(client, names, seq, stored, range(copies.stop, copies.stop + 1), timeout)


def _findable_plan(
    client: _BaseClient, names: Names, seq: int, copies: range, timeout: Timeout
) -> Plan[bool]:
    """Whether a look-up finds a copy of page ``seq`` (without decoding it)."""
    for copy in copies:
        request = client._search_request(
            names.db, names.mirror, mirror_vector(seq, copy), 1, _PROBE_EF, False
        )
        response = yield Call("Search", request, timeout)
        for item in response.results:
            seq_field = item.metadata.fields.get(SEQ_KEY)
            if seq_field is not None and seq_field.string_value == str(seq) and item.distance <= 1e-6:
                return True
    return False


def ensure_books_plan(client: _BaseClient, names: Names, timeout: Timeout) -> Plan[None]:
    """Create the mirror, then the journal (its existence is what makes the collection exist)."""
    for collection in (names.mirror, names.journal):
        yield from client._ensure_collection_plan(
            names.db, collection, Metric.L2, BOOK_M, BOOK_EF_CONSTRUCTION, timeout
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
        """Apply every page the journal's counters say exists; raise when one stays unreadable.

        A new view starts at the newest checkpoint (pages before it are restated by its parts);
        pages are looked up and applied in journal order, a few dozen at a time, so a first read
        holds little more than the view it builds.
        """
        with self.lock:
            newest = max(view.applied_upto, *view.applied_above, 0)
        info = yield from client._get_collection_info_plan(self.names.db, self.names.journal, timeout)
        total = info.total_inserted
        with self.lock:
            # Fewer pages than were applied before asking: dropped and made anew meanwhile. A page
            # applied after asking (another thread's write) may lawfully be newer than ``total``.
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
            pages = yield from probe_mirror_plan(
                client, self.names, missing[start : start + _APPLY_BATCH], timeout
            )
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
            yield from self._recover_plan(client, view, overdue, total, timeout)
        return view

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

    def _apply(self, view: View, pages: dict[int, Page]) -> None:
        with self.lock:
            for seq in sorted(pages):
                view.apply(seq, pages[seq])

    def _recover_plan(
        self, client: _BaseClient, view: View, overdue: list[int], total: int, timeout: Timeout
    ) -> Plan[None]:
        """Look for overdue pages in the journal itself; write the mirror copies they lack, or fail."""
        scan, blank = yield from scan_journal_plan(client, self.names, total, timeout)
        found = {seq: scan[seq] for seq in overdue if seq in scan}
        self._apply(view, {seq: page for seq, (page, _) in found.items()})
        for seq, (_, stored) in found.items():  # its writer died before the mirror copies: write them
            logger.warning("writing the missing mirror copies of journal page %d of %r", seq, self.names.name)
            try:
                yield from write_copies_plan(client, self.names, seq, stored, range(MIRROR_COPIES), timeout)
            except ScintireteError as exc:  # a repair for later readers; this read is complete anyway
                logger.warning("could not repair journal page %d of %r: %s", seq, self.names.name, exc)
        with self.lock:
            lost = sorted(seq for seq in overdue if seq in view.pending)
        if not lost:
            return
        if any(seq in blank for seq in lost):
            raise IncompleteReadError(
                f"journal pages {lost[:5]} of collection {self.names.name!r} lost their contents: the server "
                "restarted without a snapshot of metadata. Re-ingest the documents written since the last "
                "save(), and call save() after ingesting"
            )
        raise IncompleteReadError(
            f"cannot prove this read of collection {self.names.name!r} complete: journal pages {lost[:5]} "
            f"({len(lost)} in all) have existed for over {self.grace:g} s but no search finds them. "
            "A writer may have died mid-write; retry, and if it persists, re-ingest the affected documents"
        )
