"""Compaction: rebuild the data collection without old versions, safely beside other writers.

Old versions and deleted records stay in the data collection (they keep its graph connected)
until they outnumber the visible records; then one store rebuilds it:

1. take the lock: create ``<name>.__sci_lock`` (CreateCollection succeeds for exactly one
   caller) and write the time into it, again every tenth of :data:`LOCK_TTL` while working; a
   lock whose newest time is older than that belonged to a process that died and is broken;
   before its marker, a holder checks the lock is still its own;
2. refresh: pages 1..upto applied, later ones perhaps in flight (one missing past the grace
   period raises);
3. copy every visible record's vector into a new generation
   ``<name>.__sci_g<random>``;
4. write a switch page naming it and the last page the copy covers;
5. drop the other generations, and the lock.

Readers never depend on a generation for get, scan or counts, only for search, and until the
switch page they search the old one, which is complete. Records written meanwhile into the old
generation are *strays* that searches score exactly from the journal until the next compaction
copies them (searches recognise a hit by its elements, so copies need no tag). A crash before step 4 leaves an unused generation that the next compaction
drops; after it, nothing is lost. Writers whose generation disappears (step 5) refresh and
write again into the new one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AlreadyExistsError, NotFoundError, ScintireteError
from ..models import Metric
from .core import CollectionCore
from .journal import index_checkpoint_plan
from .pages import (
    BOOK_DIMENSION,
    books_plan,
    ensure_book_plan,
    read_stored_plan,
    seal_plan,
    sealed_plan,
    store_plan,
    write_page_plan,
)
from .records import Entry, check_metadata, decode_page, encode_page, entry_json, page_limit, split_pages
from .view import RESERVED_INFIX

if TYPE_CHECKING:
    from ..client import Plan, Timeout, _BaseClient

logger = logging.getLogger(__name__)

GARBAGE_SHARE = 4  # a book or data collection is rebuilt once a 1/GARBAGE_SHARE of it is not needed
LOCK_TTL = 600.0  # seconds after which a compaction lock is taken to belong to a dead process
_COPY_BATCH = 256
_TIME_KEY = "taken"
_HOLDER_KEY = "holder"


def stale_vectors(core: CollectionCore) -> tuple[int, int]:
    """(old versions and deleted records in the current generation, visible records in it)."""
    with core.lock:
        view = core.view
        in_gen = len(view.records) - len(view.strays)
        return max(view.data_vectors.get(view.gen, 0) - in_gen, 0), in_gen


def maybe_compact_plan(core: CollectionCore, client: _BaseClient, timeout: Timeout) -> Plan[None]:
    """Checkpoint into a new book when the current one holds a quarter more than the records need,
    rebuilding the data collection too when its old versions reach a quarter of the records.

    So the server keeps at most about 1.25 times what the visible records take, whatever the
    write history (and ``compact_min_hidden`` more, which keeps small collections from
    checkpointing at every write).
    """
    if not core.auto_compact:
        return
    stale, _ = stale_vectors(core)
    view = core.view
    enough = max(core.compact_min_hidden, len(view.records) // GARBAGE_SHARE)
    rebuild = stale >= enough or len(view.strays) >= 1000
    checkpoint = view.book_garbage() >= enough
    if not (rebuild or checkpoint):
        return
    try:
        yield from compact_plan(core, client, timeout, rebuild=rebuild)
    except ScintireteError as exc:  # the write that asked for it is stored; compact another time
        logger.warning("automatic compaction of collection %r was abandoned: %s", core.name, exc)


def compact_plan(
    core: CollectionCore, client: _BaseClient, timeout: Timeout, rebuild: bool = True
) -> Plan[bool]:
    """Checkpoint the journal (and with ``rebuild``, the data collection); False when another
    process holds the lock (or this store is compacting already)."""
    with core.lock:
        if core.compacting:  # this store is compacting already (another thread, or its twin)
            return False
        core.compacting = True
    try:
        lease = yield from _lock_plan(core, client, timeout)
        if lease is None:
            return False
        try:
            done = yield from _checkpoint_plan(core, client, timeout, rebuild, lease)
        except _LockLost:  # the lock is another store's now: leave it, and the marker unwritten
            logger.warning(
                "compaction of %r stopped: its lock was broken and taken by another store", core.name
            )
            return False
        except Exception:  # not GeneratorExit: a plan abandoned mid-way is a crash, and keeps its lock
            yield from _unlock_plan(core, client, timeout)
            raise
        yield from _unlock_plan(core, client, timeout)
        if done and core.view_cache_saved():
            core.save_view_cache()  # the saved one's anchor went with the old book: the next open would read all
        return done
    finally:
        core.compacting = False


def _unlock_plan(core: CollectionCore, client: _BaseClient, timeout: Timeout) -> Plan[None]:
    with contextlib.suppress(NotFoundError):
        yield from client._drop_collection_plan(core.db, _lock_name(core), timeout)


def _lock_name(core: CollectionCore) -> str:
    return core.name + RESERVED_INFIX + "lock"


class _Lease:
    """A held compaction lock. Its holder writes the time again every tenth of :data:`LOCK_TTL`
    while it works, so a compaction that takes longer than that (100,000 vectors to copy on a
    busy server) is not mistaken for a dead one and run twice."""

    def __init__(self, core: CollectionCore) -> None:
        self.core = core
        self.holder = uuid.uuid4().hex[:12]
        self.written = -math.inf

    def renew_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[None]:
        if time.monotonic() - self.written < LOCK_TTL / 10:
            return
        point = np.random.default_rng().standard_normal((1, BOOK_DIMENSION)).astype(np.float32)
        yield from client._insert_vectors_plan(
            self.core.db,
            _lock_name(self.core),
            point,
            [{_TIME_KEY: time.time(), _HOLDER_KEY: self.holder}],
            timeout,
        )
        self.written = time.monotonic()

    def confirm_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[None]:
        """Raise ``_LockLost`` unless the lock is still this holder's (checked before the marker)."""
        entries = yield from _lock_entries_plan(self.core, client, timeout)
        holders = {e.get(_HOLDER_KEY) for e in (entries or ())}
        if holders != {self.holder}:
            raise _LockLost


class _LockLost(Exception):
    """A compaction's lock was broken as abandoned, and perhaps taken by another store."""


def _lock_plan(core: CollectionCore, client: _BaseClient, timeout: Timeout) -> Plan[_Lease | None]:
    name = _lock_name(core)
    for _ in range(2):
        try:
            yield from client._create_collection_plan(core.db, name, Metric.L2, None, None, timeout)
        except AlreadyExistsError:
            entries = yield from _lock_entries_plan(core, client, timeout)
            if entries is None:  # released meanwhile
                continue
            times = [float(e[_TIME_KEY]) for e in entries if isinstance(e.get(_TIME_KEY), (int, float))]
            if not _abandoned(core, max(times, default=None)):
                return None
            logger.warning("breaking the compaction lock of %r left by a process that stopped", core.name)
            with contextlib.suppress(NotFoundError):
                yield from client._drop_collection_plan(core.db, name, timeout)
            continue
        lease = _Lease(core)
        yield from lease.renew_plan(client, timeout)
        return lease
    return None


def _fresh_book_plan(
    core: CollectionCore, client: _BaseClient, old: int, new: int, timeout: Timeout
) -> Plan[None]:
    """Create book ``new``; one a dead compaction left before sealing ``old`` holds only its parts."""
    if not (yield from sealed_plan(client, core.names, old, timeout)):
        with contextlib.suppress(NotFoundError):
            yield from client._drop_collection_plan(core.db, core.names.book(new), timeout)
    yield from ensure_book_plan(client, core.names, new, timeout)


def _carry_plan(
    core: CollectionCore,
    client: _BaseClient,
    lease: _Lease,
    upto: int,
    old: int,
    new: int,
    written: set[int],
    timeout: Timeout,
) -> Plan[None]:
    """Copy pages after ``upto`` from the sealed book ``old`` into ``new``, where not there yet.

    ``written``: pages this checkpoint stored in ``new`` itself (and checked findable).
    """
    info = yield from client._get_collection_info_plan(core.db, core.names.journal, timeout)
    seqs = [seq for seq in range(upto + 1, info.total_inserted + 1) if seq not in written]
    for start in range(0, len(seqs), _COPY_BATCH):
        yield from lease.renew_plan(client, timeout)
        batch = seqs[start : start + _COPY_BATCH]
        there, _ = yield from read_stored_plan(client, core.names, new, batch, timeout)
        wanted = [seq for seq in batch if seq not in there]
        stored, _ = yield from read_stored_plan(client, core.names, old, wanted, timeout)
        for seq, data in stored.items():  # a page missing from both is in flight: its writer carries it
            yield from store_plan(client, core.names, seq, data, new, timeout)


def _abandoned(core: CollectionCore, taken: float | None) -> bool:
    """Whether a lock taken at ``taken`` (None: no time written yet) belongs to a dead holder.

    A lock is created first and given its time next, so a lock without a time is usually one
    being taken right now; it counts as abandoned only once this store has seen it without a
    time for :data:`LOCK_TTL` (its holder died between the two steps).
    """
    if taken is not None:
        core.timeless_lock_since = None
        return time.time() - taken >= LOCK_TTL
    now = time.monotonic()
    if core.timeless_lock_since is None:
        core.timeless_lock_since = now
    return now - core.timeless_lock_since >= LOCK_TTL


_LEASE_READ = 1000  # lock entries read back: one per renewal, so a compaction of 16 hours


def _lock_entries_plan(
    core: CollectionCore, client: _BaseClient, timeout: Timeout
) -> Plan[list[dict[str, Any]] | None]:
    """The lock's entries (time written, holder), none while it is being taken; None: no lock."""
    try:
        hits = yield from client._search_plan(
            core.db, _lock_name(core), np.zeros(BOOK_DIMENSION), _LEASE_READ, _LEASE_READ, False, timeout
        )
    except NotFoundError:
        return None
    return [dict(hit.metadata) for hit in hits]


def _checkpoint_plan(
    core: CollectionCore, client: _BaseClient, timeout: Timeout, rebuild: bool, lease: _Lease
) -> Plan[bool]:
    """Restate every visible record in checkpoint parts (copying vectors into a new generation
    first, with ``rebuild``), then write the marker; the marker makes it count."""
    view = yield from core.view_plan(client, timeout)
    with core.lock:
        # The refresh proved pages 1..upto applied (a page missing for too long raised). Pages
        # above may still be in flight: the parts restate what the view holds, as of upto or
        # later, and every reader applies each page after upto itself, whichever way it starts.
        # So steady writers, who never leave a moment without a page in flight, do not keep
        # compaction from happening.
        upto, old = view.applied_upto, view.gen
        gen = f"{core.name}{RESERVED_INFIX}g{uuid.uuid4().hex[:10]}" if rebuild else None
        entries = [
            Entry(
                sid,
                record.text,
                check_metadata(record.metadata),
                record.group,
                view.fingerprints[sid],
                view.vectors.get(sid),
                core.new_token(),
                gen or view.homes[sid],
            )
            for sid, record in view.records.items()
        ]
    if gen is not None:
        logger.info("compacting %r: copying %d records into %r", core.name, len(entries), gen)
        yield from client._create_collection_plan(
            core.db, gen, core.metric, core.hnsw.m or None, core.hnsw.ef_construction or None, timeout
        )
        for start in range(0, len(entries), _COPY_BATCH):
            batch = entries[start : start + _COPY_BATCH]
            yield from lease.renew_plan(client, timeout)
            yield from client._insert_vectors_plan(
                core.db,
                gen,
                np.stack([e.vector for e in batch]),
                None,
                timeout,
            )
    old_book = core.book()
    new_book = old_book + 1
    yield from _fresh_book_plan(core, client, old_book, new_book, timeout)
    parts: list[int] = []
    offset = 0
    for rows in split_pages([entry_json(e) for e in entries], page_limit(client.max_message_bytes)):
        yield from lease.renew_plan(client, timeout)
        vectors = np.stack([e.vector for e in entries[offset : offset + len(rows)]])
        offset += len(rows)
        stored = encode_page(rows, vectors, (), as_of=upto)
        seq, book = yield from write_page_plan(client, core.names, stored, new_book, timeout)
        parts.append(seq)
        with core.lock:  # as any reader would apply it; spares reading every part back below
            core.view.know_book(book)
            core.view.apply(seq, decode_page(stored))
    # Seal the old book, then carry what it got since ``upto``: a writer that stored a page
    # there before the seal is carried here; one that stores after it sees the seal and
    # stores the page in the new book itself (pages.py).
    yield from seal_plan(client, core.names, old_book, timeout)
    yield from _carry_plan(core, client, lease, upto, old_book, new_book, set(parts), timeout)
    marker = (parts[0], parts[-1], upto) if parts else (upto, upto, upto)
    yield from lease.confirm_plan(client, timeout)  # a marker and the drops below need the lock
    page = encode_page((), None, (), checkpoint=marker, switch_to=gen, book=new_book)
    seq, _ = yield from write_page_plan(client, core.names, page, new_book, timeout)
    with core.lock:
        core.view.apply(seq, decode_page(page))
    yield from index_checkpoint_plan(client, core.names, marker, seq, timeout)
    yield from core.view_plan(client, timeout)  # applies other writers' pages
    logger.info("checkpointed %r at page %d (%d records, as of page %d)", core.name, seq, len(entries), upto)
    for generation in (yield from books_plan(client, core.names, timeout)):
        if generation < new_book:  # nobody needs it: new stores start at the marker, old ones read anew
            for collection in (core.names.book(generation), core.names.seal(generation)):
                with contextlib.suppress(NotFoundError):
                    yield from client._drop_collection_plan(core.db, collection, timeout)
    with core.lock:
        core.view.books = [g for g in core.view.books if g >= new_book]
    if gen is None:
        return True
    current = core.view.gen
    collections = yield from client._list_collections_plan(core.db, timeout)
    for info in collections:
        if info.name != current and core.names.is_generation(info.name):
            with contextlib.suppress(NotFoundError):
                yield from client._drop_collection_plan(core.db, info.name, timeout)
    logger.info("compacted %r: searches moved from %r to %r", core.name, old, current)
    return current == gen
