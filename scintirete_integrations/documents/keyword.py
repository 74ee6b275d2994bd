"""Keyword retrieval: an exact Okapi BM25 index over the records' texts, updated record by record.

Scintirete v1 has no text index, but a store holds every visible record's text, so the
index lives beside the view and follows it: :meth:`KeywordIndex.put` (insert or replace by
id), :meth:`KeywordIndex.remove`, :meth:`KeywordIndex.search`. Search is exact: every record
containing a query term is scored, and the collection statistics (number of records, average
length, document frequencies) are those of the records held now, whatever sequence of puts
and removes led there. The caller serialises calls (the view's lock).

Scoring (Okapi BM25), summed over the *distinct* terms ``t`` of the query::

    idf(t)      = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))
    score(d, q) = sum over t of idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))

``N`` records, ``n(t)`` of them containing ``t``, ``|d|`` the record's length in words,
``avgdl`` the mean length; ``k1 = 1.2`` and ``b = 0.75`` unless configured. This idf is
always positive, so every matching record scores above 0, and more is better. A term written
twice in the query counts once. Scores depend on the whole collection: they rank records for
one query and are not comparable across queries or collections.

Records and queries are split into terms by :func:`.terms.tokenize` (its rules are there).

Storage: each distinct term gets an integer id; postings (record slot, term frequency) are
kept in a few sorted numpy segments, merged as they grow, like a small log-structured
merge tree. A removed or replaced record only loses its slot: document frequencies are
counted from live postings at query time, and dead postings are dropped when segments merge,
or all at once when dead slots outnumber live ones. Postings take 6 bytes per (record,
distinct term) pair; ``docs/keyword-retrieval.md`` has measurements.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from .records import check_k
from .terms import analyze, tokenize

__all__ = ["DEFAULT_B", "DEFAULT_K1", "KeywordIndex", "analyze", "tokenize"]

DEFAULT_K1 = 1.2
DEFAULT_B = 0.75

_Ints = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class _Segment:
    """Postings sorted by term: ``slots[starts[i]:starts[i + 1]]`` hold term ``terms[i]``."""

    terms: np.ndarray  # distinct term ids, ascending (int32)
    starts: np.ndarray  # int64, len(terms) + 1
    slots: np.ndarray  # int32 record slots
    tfs: np.ndarray  # term frequencies (uint16, or uint32 when one exceeds 65,535)

    @classmethod
    def build(cls, terms: np.ndarray, slots: np.ndarray, tfs: np.ndarray) -> _Segment:
        order = np.argsort(terms, kind="stable")
        terms = terms[order]
        firsts = np.flatnonzero(np.diff(terms)) + 1 if len(terms) else np.zeros(0, np.int64)
        heads = np.concatenate([[0], firsts]).astype(np.int64) if len(terms) else firsts
        tf_type = np.uint16 if not len(tfs) or int(tfs.max()) <= 0xFFFF else np.uint32
        return cls(
            terms=terms[heads].astype(np.int32),
            starts=np.concatenate([heads, [len(terms)]]).astype(np.int64),
            slots=slots[order].astype(np.int32),
            tfs=tfs[order].astype(tf_type),
        )

    def __len__(self) -> int:
        return len(self.slots)

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray] | None:
        i = int(self.terms.searchsorted(np.int32(term)))  # same dtype: no copy of the array
        if i == len(self.terms) or self.terms[i] != term:
            return None
        start, stop = self.starts[i], self.starts[i + 1]
        return self.slots[start:stop], self.tfs[start:stop]

    def expanded_terms(self) -> np.ndarray:
        """The term id of every posting."""
        return np.repeat(self.terms, np.diff(self.starts))


def _merge(segments: Sequence[_Segment], slot_map: np.ndarray) -> _Segment:
    """One segment of the postings whose slot maps to a slot >= 0 (dead slots map to -1)."""
    terms = np.concatenate([s.expanded_terms() for s in segments])
    slots = slot_map[np.concatenate([s.slots for s in segments])]
    tfs = np.concatenate([s.tfs for s in segments])
    keep = slots >= 0
    return _Segment.build(terms[keep], slots[keep], tfs[keep])


class _Vocabulary(dict[str, int]):
    """Term -> id; looking up a new term gives it the next id (so lookups in bulk stay in C)."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self.terms: list[str] = []  # id -> term
        super().__init__()
        for term in terms:
            self[term]  # gives it the next id

    def __missing__(self, term: str) -> int:
        term_id = self[term] = len(self.terms)
        self.terms.append(term)
        return term_id


class KeywordIndex:
    """Exact BM25 search over texts by string id; see the module docstring for the rules.

    >>> index = KeywordIndex()
    >>> index.put(["a", "b", "c"], ["disk full: ERR_4031", "the disk is fine", "network down"])
    >>> [sid for sid, _ in index.search("err_4031 disk", k=3)]
    ['a', 'b']
    >>> index.remove(["a"])
    >>> [sid for sid, _ in index.search("disk", k=3, allowed={"a", "c"})]
    []
    """

    _MIN_DEAD = 1024  # dead slots tolerated before renumbering, however small the index

    def __init__(self, *, k1: float = DEFAULT_K1, b: float = DEFAULT_B) -> None:
        if not (math.isfinite(k1) and k1 >= 0):
            raise InvalidArgumentError(f"k1 must be a finite number >= 0, got {k1!r}")
        if not 0 <= b <= 1:
            raise InvalidArgumentError(f"b must be between 0 and 1, got {b!r}")
        self.k1 = float(k1)
        self.b = float(b)
        self._vocabulary = _Vocabulary()
        self._segments: list[_Segment] = []
        self._slot_of: dict[str, int] = {}  # live record id -> slot
        self._ids: list[str | None] = []  # slot -> id, None once dead
        self._lengths: _Ints = np.zeros(0, np.int64)
        self._live = np.zeros(0, bool)
        self._total_length = 0  # of live records; an int, so removing keeps it exact

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, sid: object) -> bool:
        return sid in self._slot_of

    # -- changes

    def put(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Index ``texts[i]`` as record ``ids[i]``, replacing what was indexed under that id."""
        if isinstance(ids, str) or isinstance(texts, str):
            raise InvalidArgumentError("ids and texts must be sequences of strings, not one string")
        if len(ids) != len(texts):
            raise InvalidArgumentError(f"got {len(ids)} ids but {len(texts)} texts")
        for sid, text in zip(ids, texts, strict=True):  # all checked before anything changes
            if not isinstance(sid, str) or not isinstance(text, str):
                raise InvalidArgumentError(
                    f"ids and texts must be strings, got {type(sid).__name__} {sid!r} and {type(text).__name__}"
                )
        term_ids: list[int] = []
        frequencies: list[int] = []
        distinct = np.zeros(len(ids), np.int64)  # terms per record
        first = len(self._ids)
        self._reserve(first + len(ids))
        for i, (sid, text) in enumerate(zip(ids, texts, strict=True)):
            self._drop(sid)
            counts, length = analyze(text)
            slot = first + i
            self._ids.append(sid)
            self._slot_of[sid] = slot
            self._lengths[slot] = length
            self._live[slot] = True
            self._total_length += length
            term_ids.extend(map(self._vocabulary.__getitem__, counts))  # new terms get the next id
            frequencies.extend(counts.values())
            distinct[i] = len(counts)
        if term_ids:
            slots = np.repeat(np.arange(first, first + len(ids), dtype=np.int32), distinct)
            self._add(_Segment.build(np.array(term_ids, np.int32), slots, np.array(frequencies, np.int64)))
        self._maybe_renumber()

    def remove(self, ids: Iterable[str]) -> None:
        """Forget these records; ids that are not indexed are ignored."""
        for sid in ids:
            self._drop(sid)
        self._maybe_renumber()

    def _drop(self, sid: str) -> None:
        slot = self._slot_of.pop(sid, None)
        if slot is not None:
            self._live[slot] = False
            self._ids[slot] = None
            self._total_length -= int(self._lengths[slot])

    def _reserve(self, size: int) -> None:
        if size > len(self._lengths):
            capacity = max(64, size, 2 * len(self._lengths))
            self._lengths = np.concatenate([self._lengths, np.zeros(capacity - len(self._lengths), np.int64)])
            self._live = np.concatenate([self._live, np.zeros(capacity - len(self._live), bool)])

    def _add(self, segment: _Segment) -> None:
        """Append a segment, then merge the newest two while the older is at most twice the newer."""
        self._segments.append(segment)
        while len(self._segments) > 1 and len(self._segments[-2]) <= 2 * len(self._segments[-1]):
            newer = self._segments.pop()
            older = self._segments.pop()
            keep_live = np.where(self._live[: len(self._ids)], np.arange(len(self._ids)), -1)
            self._segments.append(_merge([older, newer], keep_live))

    def _maybe_renumber(self) -> None:
        """Once dead slots outnumber live ones: renumber slots, drop dead postings and unused terms."""
        dead = len(self._ids) - len(self._slot_of)
        if dead <= max(self._MIN_DEAD, len(self._slot_of)):
            return
        live = self._live[: len(self._ids)]
        kept = np.flatnonzero(live)
        slot_map = np.full(len(self._ids), -1, np.int64)
        slot_map[kept] = np.arange(len(kept))
        segment = _merge(self._segments, slot_map) if self._segments else None
        term_map = None
        if segment is not None and len(segment.terms) < len(self._vocabulary) // 2:
            term_map = np.full(len(self._vocabulary), -1, np.int64)
            term_map[segment.terms] = np.arange(len(segment.terms))
            self._vocabulary = _Vocabulary(self._vocabulary.terms[t] for t in segment.terms.tolist())
            segment = _Segment(
                term_map[segment.terms].astype(np.int32), segment.starts, segment.slots, segment.tfs
            )
        self._segments = [segment] if segment is not None and len(segment) else []
        self._ids = [self._ids[slot] for slot in kept.tolist()]
        self._slot_of = {sid: slot for slot, sid in enumerate(self._ids) if sid is not None}
        self._lengths = self._lengths[kept]
        self._live = np.ones(len(kept), bool)

    # -- search

    def search(self, query: str, k: int, allowed: Collection[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` best records for ``query`` as ``(id, score)``, highest first; ties by id.

        Only records matching at least one query term are returned (so possibly fewer than
        ``k``). ``allowed`` restricts the result to those ids (e.g. the records passing a
        metadata filter); it does not change the statistics, so a record scores the same with
        or without it.
        """
        check_k(k)
        terms = self._query_terms(query)
        if not terms:
            return []
        slots, scores = self._score(terms)
        if allowed is not None:
            permitted = np.zeros(len(self._ids), bool)
            permitted[[slot for sid in allowed if (slot := self._slot_of.get(sid)) is not None]] = True
            keep = permitted[slots]
            slots, scores = slots[keep], scores[keep]
        if len(slots) > k:
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= kth  # everything tied with the k-th, so ties are broken by id below
            slots, scores = slots[keep], scores[keep]
        hits = sorted(
            zip(scores.tolist(), [self._ids[slot] or "" for slot in slots.tolist()], strict=True),
            key=lambda hit: (-hit[0], hit[1]),
        )
        return [(sid, score) for score, sid in hits[:k]]

    def max_score(self, query: str) -> float:
        """A bound no record's score for ``query`` reaches: ``sum of idf(t) * (k1 + 1)`` over its terms.

        Each term adds less than ``idf * (k1 + 1)`` (the limit as its frequency grows), so
        ``score / max_score(query)`` is in [0, 1): a relevance that, unlike raw BM25, does not
        grow with the number of query terms. 0.0 when no record holds a query term.
        """
        total = 0.0
        for term in self._query_terms(query):
            postings = self._live_postings(term)
            if postings is not None:
                total += self._idf(len(postings[0])) * (self.k1 + 1.0)
        return total

    def _query_terms(self, query: str) -> list[int]:
        if not self._slot_of:
            return []
        return [t for t in map(self._vocabulary.get, dict.fromkeys(tokenize(query))) if t is not None]

    def _live_postings(self, term: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(slots, term frequencies) of the live records holding ``term``; None when there are none."""
        found = [p for p in (s.postings(term) for s in self._segments) if p is not None]
        if not found:
            return None
        slots = np.concatenate([p[0] for p in found])
        keep = self._live[slots]
        if not keep.any():
            return None
        return slots[keep], np.concatenate([p[1] for p in found])[keep]

    def _idf(self, frequency: int) -> float:
        count = len(self._slot_of)
        return math.log(1.0 + (count - frequency + 0.5) / (frequency + 0.5))

    def _score(self, terms: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(matching live slots ascending, their BM25 scores), summing term by term in query order."""
        average = self._total_length / len(self._slot_of)  # > 0: a record holding a term has length >= 1
        k1, b = self.k1, self.b
        term_slots: list[np.ndarray] = []
        contributions: list[np.ndarray] = []
        for term in terms:
            postings = self._live_postings(term)
            if postings is None:
                continue
            slots, tf = postings[0], postings[1].astype(np.float64)
            idf = self._idf(len(slots))
            lengths = self._lengths[slots].astype(np.float64)
            term_slots.append(slots)
            contributions.append(idf * (tf * (k1 + 1.0)) / (tf + k1 * (1.0 - b + b * lengths / average)))
        if not term_slots:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        every = np.concatenate(term_slots)
        size = len(self._ids)
        totals = np.bincount(every, weights=np.concatenate(contributions), minlength=size)  # in term order
        matched = np.zeros(size, bool)
        matched[every] = True
        slots = np.flatnonzero(matched)
        return slots, totals[slots]
