"""The view: every applied journal page folded into the visible records, and the names behind them."""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping
from dataclasses import dataclass, field

import numpy as np

from ..models import Metric
from .keyword import KeywordIndex
from .records import Entry, Page, Record
from .vectors import VectorTable

JOURNAL_SUFFIX = ".__sci_journal"
BOOK_SUFFIX = ".__sci_book"
INDEX_SUFFIX = ".__sci_index"
RESERVED_INFIX = ".__sci_"
FORMAT_2_MIRROR_SUFFIX = ".__sci_pages"  # only format 2 (0.2) had it: its pages live in metadata


def vector_digest(vector: np.ndarray) -> bytes:
    """What recognises a data vector in a search hit: a digest of its float32 bytes.

    Data vectors carry no metadata (a restart without a snapshot empties it), so a hit is
    matched to the visible records whose vector has exactly these bytes.
    """
    return hashlib.blake2b(np.ascontiguousarray(vector, dtype="<f4").tobytes(), digest_size=16).digest()


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
    # These five are dicts, or (loaded from a view cache) CachedRecords and DeferredDicts.
    records: MutableMapping[str, Record] = field(default_factory=dict)
    vectors: VectorTable = field(default_factory=lambda: VectorTable(Metric.COSINE))
    fingerprints: MutableMapping[str, str] = field(default_factory=dict)
    digests: MutableMapping[str, bytes] = field(default_factory=dict)  # string id -> digest of its vector
    # digest -> the visible record with that vector; a set only for the rare vector shared by several.
    # Built from ``digests`` by the first search the server answers (None until then): a store
    # that searches on the client never needs it, and a load need not pay for it.
    by_digest: dict[bytes, str | set[str]] | None = field(default=None, compare=False, repr=False)
    homes: MutableMapping[str, str] = field(
        default_factory=dict
    )  # string id -> data collection of its vector
    strays: set[str] = field(default_factory=set)  # visible records whose vector is not in ``gen``
    versions: MutableMapping[str, int] = field(default_factory=dict)  # string id -> page of its newest write
    data_vectors: dict[str, int] = field(default_factory=dict)  # data collection -> vectors written
    applied_upto: int = 0  # every page up to here is applied (or void)
    applied_above: set[int] = field(default_factory=set)
    pending: dict[int, float] = field(default_factory=dict)  # page -> when first found missing
    voided: int = 0  # page numbers skipped as void: writers that died before storing their page
    books: list[int] = field(default_factory=list)  # book generations known to exist, newest first
    checkpoint_upto: int = 0  # the newest applied checkpoint restates pages 1..this
    book_entries: int = 0  # entries the newest checkpoint restated (they sit in the current book)
    anchor: tuple[int, bytes] | None = None  # the newest applied page with bytes, and their digest
    match_cache: dict[str, list[str]] = field(default_factory=dict)  # filter -> matching ids, until a write
    # BM25 over the texts, built by the first keyword query (derived from ``records``, so not compared)
    keywords: KeywordIndex | None = field(default=None, compare=False, repr=False)

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index of the visible records' texts, built on first use and kept by :meth:`apply`.

        Built lazily so that stores searched by vector only pay nothing for it; the caller holds
        the owning core's lock.
        """
        if self.keywords is None:
            index = KeywordIndex()
            index.put(list(self.records), [record.text for record in self.records.values()])
            self.keywords = index
        return self.keywords

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
        if page.digest and (self.anchor is None or seq > self.anchor[0]):
            self.anchor = (seq, page.digest)
        version = page.as_of or seq  # a checkpoint part restates records as they were at as_of
        adopted = [e for e in page.upserts if self.versions.get(e.id, 0) <= version]  # else a newer write won
        for entry in adopted:
            digest = vector_digest(entry.vector)
            # A checkpoint part restating a record this view holds, in the same place, adds no
            # vector to the data collection: counting it would make the next write rebuild.
            restated = bool(page.as_of) and (self.homes.get(entry.id), self.digests.get(entry.id)) == (
                entry.home,
                digest,
            )
            self._forget(entry.id)
            self.versions[entry.id] = version
            self._adopt(entry, digest, counted=not restated)
        if adopted:
            self.vectors.put([e.id for e in adopted], np.stack([e.vector for e in adopted]))
            if self.keywords is not None:
                self.keywords.put([e.id for e in adopted], [e.text for e in adopted])
        for sid in page.deletes:
            if self.versions.get(sid, 0) > version:
                continue
            self._forget(sid)
            self.versions[sid] = version
        if page.as_of == 0:
            self.since_checkpoint += len(page.upserts) + len(page.deletes)
        if page.checkpoint is not None and seq > self.checkpoint_seq:
            self.checkpoint_seq, self.since_checkpoint = seq, 0
            self.checkpoint_upto, self.book_entries = page.checkpoint[2], len(self.records)
        if page.book is not None:
            self.know_book(page.book)
        if page.switch_to is not None and seq > self.switch_seq:
            self.switch_seq, self.gen = seq, page.switch_to
            self.switches += 1
            self.strays = {sid for sid in self.records if self.homes[sid] != self.gen}

    def become(self, other: View) -> None:
        """Take ``other``'s state whole: every holder of this view sees the change at once (the
        caller holds the owning core's lock, so none sees half of it)."""
        self.__dict__.update(other.__dict__)

    def skip_upto(self, seq: int) -> None:
        """Treat pages 1..``seq`` as applied: a checkpoint this (new) view starts from restates them."""
        self.applied_upto = max(self.applied_upto, seq)
        self.applied_above = {s for s in self.applied_above if s > self.applied_upto}
        while self.applied_upto + 1 in self.applied_above:
            self.applied_upto += 1
            self.applied_above.discard(self.applied_upto)
        self.pending = {s: t for s, t in self.pending.items() if s > self.applied_upto}

    def know_book(self, generation: int) -> None:
        """Note that book ``generation`` exists (pages may be looked up in it)."""
        if generation not in self.books:
            self.books = sorted({*self.books, generation}, reverse=True)

    def book_garbage(self) -> int:
        """Entries in the current book that no visible record needs: superseded, deleted, or deletes."""
        return max(self.book_entries + self.since_checkpoint - len(self.records), 0)

    def records_for(self, digest: bytes) -> set[str]:
        """The visible records whose vector has this digest (a search hit's elements)."""
        if self.by_digest is None:
            self.by_digest = {}
            for sid, held_digest in self.digests.items():
                self._hold_digest(held_digest, sid)
        held = self.by_digest.get(digest)
        if held is None:
            return set()
        return {held} if isinstance(held, str) else held

    def _hold_digest(self, digest: bytes, sid: str) -> None:
        if self.by_digest is None:
            return  # built whole when first asked for
        held = self.by_digest.get(digest)
        if held is None:
            self.by_digest[digest] = sid
        elif isinstance(held, str):
            if held != sid:
                self.by_digest[digest] = {held, sid}
        else:
            held.add(sid)

    def _release_digest(self, digest: bytes, sid: str) -> None:
        if self.by_digest is None:
            return
        held = self.by_digest[digest]
        if isinstance(held, str):
            if held == sid:
                del self.by_digest[digest]
            return
        held.discard(sid)
        if len(held) == 1:
            self.by_digest[digest] = next(iter(held))  # one shape per content, as a build makes it

    def _adopt(self, entry: Entry, digest: bytes, counted: bool) -> None:
        sid = entry.id
        self.records[sid] = entry.record()
        self.fingerprints[sid] = entry.fingerprint
        self.digests[sid] = digest
        self._hold_digest(digest, sid)
        self.homes[sid] = entry.home
        if entry.home != self.gen:
            self.strays.add(sid)
        if counted:
            self.data_vectors[entry.home] = self.data_vectors.get(entry.home, 0) + 1
        self.dimension = self.dimension or int(entry.vector.shape[0])

    def _forget(self, sid: str) -> None:
        if sid not in self.records:
            return
        del self.records[sid], self.fingerprints[sid], self.homes[sid]
        self.vectors.remove(sid)
        if self.keywords is not None:
            self.keywords.remove((sid,))
        self._release_digest(self.digests.pop(sid), sid)
        self.strays.discard(sid)


@dataclass
class Names:
    """The collections behind one document collection."""

    db: str
    name: str

    @property
    def journal(self) -> str:
        return self.name + JOURNAL_SUFFIX

    def book(self, generation: int) -> str:
        """Book ``generation``: each checkpoint writes into the next one and drops the older."""
        return self.name + BOOK_SUFFIX + (f".{generation}" if generation else "")

    def seal(self, generation: int) -> str:
        """Exists once book ``generation`` is sealed: a checkpoint is moving to the next book."""
        return self.name + RESERVED_INFIX + f"seal.{generation}"

    def book_generation(self, collection: str) -> int | None:
        """The generation of a book collection of this name, or None when it is not one."""
        prefix = self.name + BOOK_SUFFIX
        if collection == prefix:
            return 0
        if collection.startswith(prefix + ".") and collection[len(prefix) + 1 :].isdigit():
            return int(collection[len(prefix) + 1 :])
        return None

    @property
    def index(self) -> str:
        return self.name + INDEX_SUFFIX

    @property
    def format_2_mirror(self) -> str:
        return self.name + FORMAT_2_MIRROR_SUFFIX

    def is_generation(self, collection: str) -> bool:
        return collection == self.name or collection.startswith(self.name + RESERVED_INFIX + "g")
