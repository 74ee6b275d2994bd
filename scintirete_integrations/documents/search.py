"""Search: on the client where that is cheap or the server cannot be trusted, the server's index for the rest.

With the ``[ann]`` extra, collections of ``approximate_search_from`` records or more (50,000 by
default) are searched on the client at every size: a graph index proposes candidates and the
matrix scores them exactly (``docs/graph-index.md``). Without it:

A store holds every visible record's vector (see :mod:`.vectors`), so a collection of up to
``exact_search_limit`` records (200,000 by default: about 8 ms of numpy at 100,000 x 384-d) is
searched exactly on the client: recall 1.0, where the unmodified server's HNSW graph reached
0.89 of the true neighbours of clustered data at 20,000 records and 0.79 at 100,000. Larger collections go to the current data
collection in growing rounds (beam :data:`DEFAULT_EF`), keeping the hits whose elements are a
visible record's vector (other hits are older versions or deleted records). Exact scoring still
takes over for:

- records whose vector is not in the current data collection (*strays*: written by a writer
  that had not yet seen a rebuild);
- a filter or id list that only a few records pass (at most :data:`EXACT_LIMIT`): the server
  would have to return a large part of the collection to find them, and may not reach them;
- a search the server answered with fewer matches than asked for although more exist (part of
  the graph unreachable): the answer is completed exactly, so ``k`` matches always come back
  when ``k`` exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..client import Call, as_vector
from ..errors import InvalidArgumentError, NotFoundError
from ..filters import Filter
from ..filters import compile as compile_filter
from .core import CollectionCore
from .records import Record, ScoredRecord, check_ids, check_k, relevance_score
from .vectors import EXACT_LIMIT
from .view import View, vector_digest

if TYPE_CHECKING:
    from ..client import Plan, Timeout, _BaseClient

DEFAULT_EF = 200  # beam sent with every search: recall@10 0.997 vs 0.979 at the server's 50 (real embeddings)
_SLACK = 1.5
_GROWTH = 4


def maximal_marginal_relevance(
    query: Sequence[float] | np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float = 0.5
) -> list[int]:
    """Indices of ``k`` candidates chosen by maximal marginal relevance (cosine similarities).

    Each step picks the candidate maximising ``lambda_mult * sim(query, c) - (1 - lambda_mult) *
    max sim(c, already chosen)``: 1.0 is pure relevance, 0.0 pure diversity.

    >>> maximal_marginal_relevance([1.0, 0.0], np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]]), 2, 0.3)
    [0, 2]
    """
    if not 0.0 <= lambda_mult <= 1.0:
        raise InvalidArgumentError(f"lambda_mult must be between 0 and 1, got {lambda_mult}")
    if k <= 0 or len(candidates) == 0:
        return []
    matrix = np.asarray(candidates, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1)
    unit = matrix / np.where(norms == 0, 1.0, norms)[:, None]
    q = np.asarray(query, dtype=np.float64)
    q_unit = q / (np.linalg.norm(q) or 1.0)
    relevance = unit @ q_unit
    chosen = [int(np.argmax(relevance))]
    redundancy = unit @ unit[chosen[0]]
    while len(chosen) < min(k, len(matrix)):
        gain = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
        gain[chosen] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        redundancy = np.maximum(redundancy, unit @ unit[best])
    return chosen


def _scored(core: CollectionCore, record: Record, distance: float, vector: np.ndarray | None) -> ScoredRecord:
    if vector is not None:
        record = replace(record, vector=vector)
    return ScoredRecord(record, float(distance), relevance_score(core.metric, float(distance)))


def _exact(
    core: CollectionCore,
    view: View,
    query: np.ndarray,
    sids: Iterable[str] | None,
    k: int,
    with_vectors: bool,
    approximate_from: int | None = None,
) -> list[ScoredRecord]:
    """The ``k`` nearest of ``sids`` (None: of every record), scored on the client (from the
    graph index's proposals when the view has ``approximate_from`` records or more)."""
    with core.lock:
        found = view.vectors.nearest(query, k, sids, approximate_from)
        return [
            _scored(core, view.records[sid], distance, view.vectors.get(sid) if with_vectors else None)
            for sid, distance in found
        ]


def search_plan(
    core: CollectionCore,
    client: _BaseClient,
    vector: Sequence[float] | np.ndarray,
    k: int,
    where: Filter | None,
    ids: Iterable[str] | None,
    include_vector: bool,
    ef_search: int | None,
    timeout: Timeout,
) -> Plan[list[ScoredRecord]]:
    """The k nearest visible records passing ``where`` (and within ``ids``), closest first."""
    check_k(k)
    query = as_vector(vector)
    compile_filter(where)
    allowed = set(check_ids(ids)) if ids is not None else None
    try:
        view = yield from core.view_plan(client, timeout)
    except NotFoundError:
        return []
    return (
        yield from search_view_plan(
            core, client, view, query, k, where, allowed, include_vector, ef_search, timeout
        )
    )


def search_view_plan(
    core: CollectionCore,
    client: _BaseClient,
    view: View,
    query: np.ndarray,
    k: int,
    where: Filter | None,
    allowed: set[str] | None,
    include_vector: bool,
    ef_search: int | None,
    timeout: Timeout,
) -> Plan[list[ScoredRecord]]:
    """:func:`search_plan` in a view already brought up to date, with arguments already checked."""
    predicate = compile_filter(where)
    core.check_dimension(view, int(query.shape[0]), "query vector")
    total = len(view.records)
    if total <= core.exact_search_limit or core.uses_graph(view):
        among = None if where is None and allowed is None else core.matching_ids(view, where, None, allowed)
        return _exact(core, view, query, among, k, include_vector, core.approximate_from)
    fraction = 1.0
    if allowed is not None or where is not None:
        estimate = core.estimate_matching(view, where)
        if allowed is not None or estimate * total <= 2 * EXACT_LIMIT:
            candidates = core.matching_ids(view, where, None, allowed)
            if len(candidates) <= EXACT_LIMIT:
                return _exact(core, view, query, candidates, k, include_vector)
            fraction = len(candidates) / max(total, 1)
        else:
            fraction = estimate

    def keep(sid: str, record: Record) -> bool:
        return (allowed is None or sid in allowed) and predicate(record.metadata)

    try:
        return (
            yield from _rounds_plan(
                core, client, view, query, k, keep, fraction, include_vector, ef_search, timeout
            )
        )
    except NotFoundError:  # the data collection was replaced by a rebuild: look again, once
        view = yield from core.view_plan(client, timeout)
        return (
            yield from _rounds_plan(
                core, client, view, query, k, keep, fraction, include_vector, ef_search, timeout
            )
        )


def _rounds_plan(
    core: CollectionCore,
    client: _BaseClient,
    view: View,
    query: np.ndarray,
    k: int,
    keep: Callable[[str, Record], bool],
    fraction: float,
    include_vector: bool,
    ef_search: int | None,
    timeout: Timeout,
) -> Plan[list[ScoredRecord]]:
    """Server search rounds over the current data collection, growing until ``k`` matches are found."""
    with core.lock:
        gen = view.gen
        strays = [sid for sid in view.strays if keep(sid, view.records[sid])]
        in_gen = len(view.records) - len(view.strays)
        stored = max(view.data_vectors.get(gen, 0), in_gen)  # vectors in gen, stale versions included
    want = min(k, max(1, math.ceil(fraction * len(view.records))))
    hits: list[ScoredRecord] = []
    if in_gen:
        share = max(fraction * in_gen, 1.0) / max(stored, 1)
        top_k = min(stored, max(want, math.ceil(want / share * _SLACK) + 4))
        while True:
            ef = min(max(top_k, ef_search or DEFAULT_EF), 2**31 - 1)
            request = client._search_request(core.db, gen, query, top_k, ef, True)
            response = yield Call("Search", request, timeout)
            hits = []
            digests = [
                vector_digest(np.asarray(item.vector.elements, np.float32)) for item in response.results
            ]
            with core.lock:
                seen: set[str] = set()
                for item, digest in zip(response.results, digests, strict=True):
                    for sid in view.records_for(digest) - seen:
                        if view.homes.get(sid) != gen:
                            continue  # a stray's old copy: scored exactly below
                        seen.add(sid)
                        record = view.records[sid]
                        if keep(sid, record):
                            vector = view.vectors.get(sid) if include_vector else None
                            hits.append(_scored(core, record, item.distance, vector))
            exhausted = len(response.results) < top_k or top_k >= stored
            if len(hits) >= want or exhausted:
                break
            top_k = min(stored, top_k * _GROWTH)
    hits += _exact(core, view, query, strays, k, include_vector)
    if len(hits) < want:  # the server could not reach enough matches: complete the answer exactly
        with core.lock:
            everyone = [sid for sid, record in view.records.items() if keep(sid, record)]
        return _exact(core, view, query, everyone, k, include_vector)
    hits.sort(key=lambda hit: hit.distance)
    return hits[:k]


def search_text_plan(
    core: CollectionCore,
    client: _BaseClient,
    text: str,
    k: int,
    where: Filter | None,
    model: str | None,
    timeout: Timeout,
) -> Plan[list[ScoredRecord]]:
    check_k(k)
    compile_filter(where)  # refuse a bad filter before paying for an embedding
    vectors = yield from client._embed_text_plan([text], model, timeout)
    return (yield from search_plan(core, client, vectors[0], k, where, None, False, None, timeout))


def mmr_plan(
    core: CollectionCore,
    client: _BaseClient,
    vector: Sequence[float] | np.ndarray,
    k: int,
    fetch_k: int,
    lambda_mult: float,
    where: Filter | None,
    timeout: Timeout,
    ids: Iterable[str] | None = None,
) -> Plan[list[ScoredRecord]]:
    """Maximal marginal relevance over the ``fetch_k`` nearest matches (among ``ids``)."""
    check_k(k)
    if not 0.0 <= lambda_mult <= 1.0:
        raise InvalidArgumentError(f"lambda_mult must be between 0 and 1, got {lambda_mult}")
    candidates = yield from search_plan(
        core, client, vector, max(fetch_k, k), where, ids, True, None, timeout
    )
    if not candidates:
        return []
    matrix = np.stack([np.asarray(c.record.vector, dtype=np.float32) for c in candidates])
    order = maximal_marginal_relevance(as_vector(vector), matrix, k, lambda_mult)
    return [candidates[i] for i in order]
