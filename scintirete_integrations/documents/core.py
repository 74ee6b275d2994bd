"""The state one document collection shares between its sync and async facades, and its read plans."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import secrets
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, NotFoundError
from ..filters import Filter
from ..filters import compile as compile_filter
from ..models import HnswConfig, Metric
from .cached_texts import record_labels
from .graph import AVAILABLE as GRAPH_AVAILABLE
from .journal import Refresher
from .pages import ensure_books_plan
from .records import Record, check_ids
from .vectors import VectorTable
from .view import RESERVED_INFIX, Names, View
from .view_cache import SAVE_AFTER_READ, ViewCache

if TYPE_CHECKING:
    from ..client import Plan, Timeout, _BaseClient

logger = logging.getLogger(__name__)

# Collections up to this many records are searched exactly from the store's own matrix: about
# 8 ms at 100,000 x 384-d on 2 cores, recall 1.0. The unmodified server's index reached recall@10
# 0.79 at 100,000 clustered embeddings, and neither a larger beam nor more candidates raised it.
EXACT_SEARCH_LIMIT = 200_000
# From this many records on, a store with the [ann] extra (usearch) takes its candidates from a
# graph index and scores them exactly (documents/graph.py): 0.2-0.5 ms instead of 4-8 ms.
APPROXIMATE_SEARCH_FROM = 50_000
_SAMPLE = 1024  # records looked at to tell a common filter from a rare one


class CollectionCore:
    """Names, settings, the view and its lock: everything but I/O, written once for both facades."""

    def __init__(
        self,
        name: str,
        *,
        db: str,
        metric: Metric | str,
        hnsw: HnswConfig,
        auto_compact: bool,
        compact_min_hidden: int,
        exact_search_limit: int = EXACT_SEARCH_LIMIT,
        view_cache: str | os.PathLike[str] | None = None,
        approximate_search_from: int | None = APPROXIMATE_SEARCH_FROM,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"collection name must be a non-empty string, got {name!r}")
        if RESERVED_INFIX in name:
            raise InvalidArgumentError(
                f"collection names containing {RESERVED_INFIX!r} are reserved for the layer's own collections"
            )
        self.names = Names(db, name)
        self.metric = Metric.parse(metric)
        self.hnsw = hnsw
        self.auto_compact = auto_compact
        self.compact_min_hidden = compact_min_hidden
        self.exact_search_limit = exact_search_limit
        self.approximate_from = _check_approximate_from(approximate_search_from)
        self.lock = threading.Lock()
        self.refresher = Refresher(self.names, self.lock)
        self.view = self.new_view()
        self._metric_checked = False
        self._writer = secrets.token_hex(4)  # tokens are <writer><counter>: unique without coordination
        self._counter = itertools.count(1)
        self.compacting = False
        self.timeless_lock_since: float | None = None  # when a compaction lock without a time was first seen
        self.view_cache = None if view_cache is None else ViewCache(view_cache, self.names, self.metric)
        self._cache_untried = self.view_cache is not None
        self._save_after_read = False
        self._saved_anchor: tuple[int, bytes] | None = None
        self._saved_graph = False  # the last save held the graph index
        self.opened_from_cache = False  # the view started from the cache (it matched the server)
        if self.view_cache is not None:
            atexit.register(_save_at_exit, weakref.ref(self))

    @property
    def name(self) -> str:
        return self.names.name

    @property
    def db(self) -> str:
        return self.names.db

    def new_view(self) -> View:
        return View(gen=self.name, vectors=VectorTable(self.metric))

    def book(self) -> int:
        """The newest book generation this store knows of: where its pages go."""
        with self.lock:
            return self.view.books[0] if self.view.books else 0

    def new_token(self) -> str:
        return f"{self._writer}{next(self._counter):x}"

    # -- lifecycle

    def ensure_plan(self, client: _BaseClient, dimension: int | None, timeout: Timeout) -> Plan[None]:
        """Create the data collection and the bookkeeping collections unless they exist."""
        info = yield from client._ensure_collection_plan(
            self.db,
            self.view.gen,
            self.metric,
            self.hnsw.m or None,
            self.hnsw.ef_construction or None,
            timeout,
        )
        yield from ensure_books_plan(client, self.names, timeout)
        known = self.view.dimension or info.dimension
        if dimension is not None and known and known != dimension:
            raise InvalidArgumentError(
                f"collection {self.name!r} holds {known}-dimensional vectors, but these have dimension {dimension}"
            )

    def drop_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[bool]:
        """Drop the journal first (then the collection no longer exists for any reader), then the rest."""
        with self.lock:
            self.view = self.new_view()
            self._metric_checked = False
        if self.view_cache is not None:
            self._saved_anchor = None
            with contextlib.suppress(OSError):
                self.view_cache.path.unlink(missing_ok=True)
        existed = True
        try:
            yield from client._drop_collection_plan(self.db, self.names.journal, timeout)
        except NotFoundError:
            existed = False
        try:
            collections = yield from client._list_collections_plan(self.db, timeout)
        except NotFoundError:
            return False
        for info in collections:
            if info.name.startswith(self.name + RESERVED_INFIX) or info.name == self.name:
                with contextlib.suppress(NotFoundError):
                    yield from client._drop_collection_plan(self.db, info.name, timeout)
        return existed

    def clear_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[None]:
        yield from self.drop_plan(client, timeout)
        yield from self.ensure_plan(client, None, timeout)

    # -- the view

    def view_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[View]:
        """The view, brought up to date; NotFoundError when the collection does not exist."""
        if self._cache_untried:
            yield from self._restore_plan(client, timeout)
        try:
            view = yield from self.refresher.refresh_plan(client, self.view, timeout)
        except NotFoundError:
            with self.lock:
                if self.view.applied_upto or self.view.applied_above:
                    self.view = self.new_view()  # dropped by someone: start again
            yield from self._refuse_foreign_plan(client, timeout)
            raise
        if not self._metric_checked:
            yield from self._check_metric_plan(client, view, timeout)
        if self._save_after_read:
            self._save_after_read = False
            if len(view.records) >= SAVE_AFTER_READ:
                self.save_view_cache()
        return view

    # -- the view cache (docs/view-cache.md)

    def _restore_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[None]:
        """Start from the cached view when it is proven to be this collection's; else read it all."""
        assert self.view_cache is not None
        self._cache_untried = False
        with self.lock:
            fresh = self.view.applied_upto == 0 and not self.view.applied_above
        if not fresh:
            return
        restored = yield from self.view_cache.restore_plan(client, timeout)
        with self.lock:
            if restored is not None and self.view.applied_upto == 0 and not self.view.applied_above:
                self.view.become(restored)
                # An older file is saved again in the current version at the next save.
                self._saved_anchor = None if self.view_cache.loaded_outdated else restored.anchor
                self._saved_graph = restored.vectors.graph is not None
                self.opened_from_cache = True
            else:
                self._save_after_read = True  # a long first read: keep its result for the next process

    def stop_graph(self) -> None:
        """End a background build of the graph index (the store is closing)."""
        graph = self.view.vectors.graph
        if graph is not None and graph.building:
            graph.stop()

    def view_cache_saved(self) -> bool:
        """Whether this store has written (or opened from) its view cache."""
        return self._saved_anchor is not None

    def uses_graph(self, view: View) -> bool:
        """Whether searches of ``view`` take their candidates from the graph index."""
        return (
            GRAPH_AVAILABLE
            and self.approximate_from is not None
            and len(view.records) >= self.approximate_from
        )

    def save_view_cache(self, final: bool = False) -> bool:
        """Write the view to the cache when it moved since the last save; whether it was written.

        Called when a store closes and at exit (``final``: the graph index, when the view uses one,
        is finished first so that the next process opens with it), after a long first read and
        after a checkpoint; an error only costs the next process a slow open.
        """
        if self.view_cache is None:
            return False
        with self.lock:
            anchor = self.view.anchor
            graph = self.view.vectors.ready_graph(wait=final) if self.uses_graph(self.view) else None
            if anchor is None or (anchor == self._saved_anchor and (self._saved_graph or graph is None)):
                return False
            parts = self.view_cache.encode(self.view, graph)
        if parts is None:
            return False
        try:
            self.view_cache.write(parts)
        except OSError as exc:
            logger.warning("could not write the view cache %s: %s", self.view_cache.path, exc)
            return False
        self._saved_anchor = anchor
        self._saved_graph = graph is not None
        return True

    def _refuse_foreign_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[None]:
        """A collection of this name with vectors but no journal was not written by this layer."""
        try:
            info = yield from client._get_collection_info_plan(self.db, self.name, timeout)
        except NotFoundError:
            return
        if info.vector_count:
            raise InvalidArgumentError(
                f"collection {self.name!r} in database {self.db!r} holds {info.vector_count} vectors but no "
                f"journal ({self.names.journal!r}): it was not written by this document layer (or by "
                "version 0.1). Read it with ScintireteClient, store documents under another name, or call "
                "clear() on it (LangChain: store.delete(); LlamaIndex: clear()) to make it an empty "
                "collection of this layer, dropping those vectors"
            )

    def _check_metric_plan(self, client: _BaseClient, view: View, timeout: Timeout) -> Plan[None]:
        try:
            info = yield from client._get_collection_info_plan(self.db, view.gen, timeout)
        except NotFoundError:
            return  # replaced by a rebuild meanwhile: checked next time
        if info.metric is not None and info.metric is not self.metric:
            raise InvalidArgumentError(
                f"collection {self.name!r} in database {self.db!r} uses metric {info.metric.value!r}, "
                f"but this store was opened with {self.metric.value!r}; pass metric={info.metric.value!r}"
            )
        self._metric_checked = True

    def check_dimension(self, view: View, dimension: int, what: str) -> None:
        if view.dimension and view.dimension != dimension:
            raise InvalidArgumentError(
                f"{what} has dimension {dimension}, but collection {self.name!r} holds "
                f"{view.dimension}-dimensional vectors"
            )

    def matching_ids(
        self,
        view: View,
        where: Filter | None,
        group: str | None,
        allowed: set[str] | None,
        limit: int | None = None,
    ) -> list[str]:
        """Ids of visible records passing the filter, in write order (the caller holds no lock)."""
        predicate = compile_filter(where)
        key = None if where is None and group is None and allowed is None else _filter_key(where, group)
        with self.lock:
            if allowed is not None:
                return [
                    sid
                    for sid in allowed
                    if sid in view.records
                    and _passes(view.records[sid].metadata, view.records[sid].group, predicate, group)
                ]
            if key is None:
                return list(itertools.islice(view.records, limit))
            cached = view.match_cache.get(key)
            if cached is None:
                cached = [
                    sid
                    for sid, metadata, record_group in record_labels(view.records)
                    if _passes(metadata, record_group, predicate, group)
                ]
                view.match_cache[key] = cached
            return cached[:limit] if limit is not None else list(cached)

    def estimate_matching(self, view: View, where: Filter | None) -> float:
        """The fraction of visible records passing ``where``, from a sample (exact for small views)."""
        predicate = compile_filter(where)
        with self.lock:
            sample = [metadata for _, metadata, _ in itertools.islice(record_labels(view.records), _SAMPLE)]
        if not sample:
            return 0.0
        return sum(1 for metadata in sample if predicate(metadata)) / len(sample)

    # -- reads

    def get_plan(self, client: _BaseClient, ids: Iterable[str], timeout: Timeout) -> Plan[list[Record]]:
        wanted = check_ids(ids)
        try:
            view = yield from self.view_plan(client, timeout)
        except NotFoundError:
            return []
        with self.lock:
            return [view.records[sid] for sid in wanted if sid in view.records]

    def scan_plan(
        self,
        client: _BaseClient,
        where: Filter | None,
        group: str | None,
        limit: int | None,
        timeout: Timeout,
    ) -> Plan[list[Record]]:
        compile_filter(where)
        try:
            view = yield from self.view_plan(client, timeout)
        except NotFoundError:
            return []
        sids = self.matching_ids(view, where, group, None, limit)
        with self.lock:
            return [view.records[sid] for sid in sids if sid in view.records]

    def count_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[int]:
        try:
            view = yield from self.view_plan(client, timeout)
        except NotFoundError:
            return 0
        return len(view.records)


def _save_at_exit(core: weakref.ref[CollectionCore]) -> None:
    alive = core()
    if alive is not None:
        alive.save_view_cache(final=True)


def _check_approximate_from(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidArgumentError(
            f"approximate_search_from must be a positive number of records or None (always exact), got {value!r}"
        )
    return value


def _passes(
    metadata: Mapping[str, Any],
    record_group: str | None,
    predicate: Callable[[Mapping[str, Any]], bool],
    group: str | None,
) -> bool:
    return (group is None or record_group == group) and predicate(metadata)


def _filter_key(where: Filter | None, group: str | None) -> str:
    return json.dumps([where, group], sort_keys=True, default=repr)
