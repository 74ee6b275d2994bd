"""The document layer: string ids, upsert, get, delete and complete filtered search over Scintirete v1.

Scintirete v1 assigns its own uint64 ids, has no get-by-id, update, listing or
metadata filter, and searching is its only read. This module closes that gap
once, for every adapter::

    from scintirete_integrations.documents import DocumentCollection, Record

    docs = DocumentCollection.connect("notes")              # embedded Lite server, in memory
    docs.upsert([Record("a", "the cat sat", [0.1, 0.9], {"year": 2024})])
    docs.get(["a"])                                          # [Record(id='a', ...)]
    docs.search([0.1, 0.8], k=3, filter={"year": {"$gte": 2020}})

How records are stored
    Each record is one server vector. User metadata sits as plain top-level fields
    of its Struct; the layer's own fields (string id, text, group, fingerprint,
    type hints) use the reserved ``_sci_`` prefix and never reach the caller.

How writes work, and why deletes never delete
    The server soft-deletes, and its HNSW search does not walk through deleted
    nodes: delete-heavy use makes live vectors unreachable. So the layer never
    deletes a data vector in ordinary use. An upsert inserts the new version;
    the newest server id of a string id wins, which hides older versions. A
    delete inserts a small tombstone record (a distinct random vector) that wins
    the same way. Hidden versions stay in the graph and keep it connected. When
    hidden records outnumber live ones, :meth:`DocumentCollection.compact`
    (automatic by default) rebuilds the collection through a staging copy.
    A crash between steps leaves both versions; reads show only the newest.
    While it runs, other calls on the same collection object (and its twin) get
    UnavailableError ("try again"), and it does not start while one of their
    writes is in flight. Writers elsewhere cannot be coordinated with: when
    several processes write, turn ``auto_compact`` off and compact when one writes.

How reads stay correct
    The layer keeps a view of the collection (string id -> newest record) built
    by one full scan (a Search with top_k above the live count; a scan that comes
    back full may have been overtaken by writes, and is repeated). Every read
    first asks GetCollectionInfo: live + deleted counts only grow with writes, so
    a change by any other writer is seen at once and triggers a rescan. The view
    counts this process's own writes only while their ids directly follow it;
    otherwise another writer's ids came in between and it rescans. Each search
    hit is also checked against the view by string id.

Scores
    ``score`` is a relevance in [0, 1], higher is closer, from the distance:
    cosine ``1 - d / 2``; inner product ``(1 - d) / 2`` clipped to [0, 1]
    (exact for unit vectors); L2 ``1 / (1 + d)``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
from google.protobuf import struct_pb2

from ._convert import metadata_to_pb
from ._metadata import RESERVED_PREFIX, decode_metadata, encode_metadata
from .client import (
    USE_CLIENT_DEFAULT,
    AsyncScintireteClient,
    Call,
    Plan,
    ScintireteClient,
    Timeout,
    as_matrix,
    as_vector,
    check_unicode,
)
from .errors import InvalidArgumentError, NotFoundError, ScintireteError, UnavailableError
from .filters import Filter
from .filters import compile as compile_filter
from .models import CollectionInfo, HnswConfig, Metric

from ._proto.scintirete.v1 import scintirete_pb2 as pb  # isort: skip

__all__ = [
    "AsyncDocumentCollection",
    "DocumentCollection",
    "Record",
    "ScoredRecord",
    "maximal_marginal_relevance",
    "new_id",
    "relevance_score",
    "resolve_clients",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Reserved Struct keys. Short, because they are stored with every record.
ID_KEY = RESERVED_PREFIX + "id"
TEXT_KEY = RESERVED_PREFIX + "text"
GROUP_KEY = RESERVED_PREFIX + "g"
HASH_KEY = RESERVED_PREFIX + "h"
KIND_KEY = RESERVED_PREFIX + "k"
TOMBSTONE = "x"
STAGING_DONE = "done"
STAGING_COMMIT = "commit"
STAGING_SUFFIX = ".__sci_staging"

_DEFAULT_EF = 50
_FIRST_ROUND_SLACK = 1.5  # over-fetch factor for the first filtered round
_GROWTH = 4  # top_k multiplier between rounds
_FIRST_ROUND_EXTRA = 4  # absolute slack on top of the proportional guess, for small k
_SAMPLE = 1024  # records looked at to estimate how common a filter's matches are
_SAMPLE_HITS_FOR_ESTIMATE = 32
_F32 = np.dtype("<f4")
_CATCH_UP_CHECKS = 4  # counter checks while own writes in flight may explain a gap
_SCAN_ATTEMPTS = 5  # full scans overtaken by concurrent writes before giving up


@dataclass(frozen=True)
class Record:
    """A document: caller-chosen string id, text, metadata, optional group (e.g. a source document id).

    ``vector`` is given when writing; records read back carry it only when a call asked for vectors.
    """

    id: str
    text: str = ""
    vector: Sequence[float] | np.ndarray | None = field(default=None, repr=False, compare=False)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    group: str | None = None


@dataclass(frozen=True)
class ScoredRecord:
    """A search result: the record, its distance (lower is closer) and relevance score in [0, 1]."""

    record: Record
    distance: float
    score: float


def relevance_score(metric: Metric | str, distance: float) -> float:
    """Map a server distance to a relevance score in [0, 1], higher is closer (formulas in the module doc).

    >>> relevance_score("cosine", 0.0), relevance_score("l2", 1.0), relevance_score("inner_product", -1.0)
    (1.0, 0.5, 1.0)
    """
    metric = Metric.parse(metric)
    if not math.isfinite(distance):
        return 0.0
    if metric is Metric.COSINE:
        score = 1.0 - distance / 2.0
    elif metric is Metric.INNER_PRODUCT:
        score = (1.0 - distance) / 2.0
    else:
        score = 1.0 / (1.0 + max(distance, 0.0))
    return min(1.0, max(0.0, score))


def maximal_marginal_relevance(
    query: Sequence[float] | np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float = 0.5
) -> list[int]:
    """Indices of ``k`` candidates chosen by maximal marginal relevance (cosine similarities).

    Each step picks the candidate maximising ``lambda_mult * sim(query, c) - (1 - lambda_mult) *
    max sim(c, already chosen)``: 1.0 is pure relevance, 0.0 pure diversity.
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


# -- connection resolution --------------------------------------------------------------------------

_embedded_servers: dict[str | None, Any] = {}
_embedded_clients: weakref.WeakSet[ScintireteClient] = weakref.WeakSet()
_embedded_lock = threading.Lock()


def _embedded_server(data_dir: str | os.PathLike[str] | None) -> Any:
    """The process-wide Lite server for ``data_dir`` (None: in memory), started on first use."""
    from .lite import LiteServer

    key = os.path.abspath(os.fspath(data_dir)) if data_dir is not None else None
    with _embedded_lock:
        server = _embedded_servers.get(key)
        if server is None:
            server = LiteServer(data_dir=key)
            server.start()
            if not _embedded_servers:
                atexit.register(_stop_embedded_servers)
            _embedded_servers[key] = server
        return server


def _stop_embedded_servers() -> None:
    with _embedded_lock:
        for client in _embedded_clients:  # close channels first: a server leaving under them is noisy
            client.close()
        _embedded_clients.clear()
        for server in _embedded_servers.values():
            server.stop()
        _embedded_servers.clear()


def resolve_clients(
    *,
    address: str | None = None,
    password: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    client: ScintireteClient | None = None,
    async_client: AsyncScintireteClient | None = None,
    **client_options: Any,
) -> tuple[ScintireteClient, AsyncScintireteClient]:
    """The one place that turns connection arguments into a sync and an async client.

    Precedence: given clients (the missing twin is built from the other's settings);
    then ``address``/``password``; then ``$SCINTIRETE_ADDRESS``/``$SCINTIRETE_PASSWORD``; and
    with none of those, an embedded Scintirete Lite server, in memory or persisted at
    ``data_dir``, shared by every store of this process that names the same ``data_dir``.
    """
    if client is not None or async_client is not None:
        if data_dir is not None or address is not None:
            raise InvalidArgumentError("pass either client/async_client or address/data_dir, not both")
        if client is None:
            client = ScintireteClient(**async_client._settings())  # type: ignore[union-attr]
        if async_client is None:
            async_client = AsyncScintireteClient(**client._settings())
        return client, async_client
    if address is None and data_dir is None and os.environ.get("SCINTIRETE_ADDRESS"):
        address = os.environ["SCINTIRETE_ADDRESS"]
        password = password or os.environ.get("SCINTIRETE_PASSWORD")
    if address is not None and data_dir is not None:
        raise InvalidArgumentError("data_dir is for the embedded Lite server; do not combine it with address")
    embedded = address is None
    if embedded:
        server = _embedded_server(data_dir)
        address, password = server.address, server.password
    settings = {"address": address, "password": password, **client_options}
    sync_client = ScintireteClient(**settings)
    if embedded:
        _embedded_clients.add(sync_client)
    return sync_client, AsyncScintireteClient(**settings)


# -- the view ----------------------------------------------------------------------------------------


class _Stale(Exception):
    """The view no longer matches the server; look again (``rebuilt``: rescan whatever the counters say)."""

    def __init__(self, rebuilt: bool = False) -> None:
        super().__init__()
        self.rebuilt = rebuilt


@dataclass
class _View:
    """What this process knows of the collection, valid while the server's counters match."""

    total: int  # live + deleted server vectors when last checked
    deleted: int
    dimension: int
    owner: dict[int, str | None] = field(default_factory=dict)  # server id -> string id (None: not ours)
    latest: dict[str, int] = field(default_factory=dict)  # string id -> newest server id
    records: dict[str, Record] = field(default_factory=dict)  # visible records by string id
    fingerprints: dict[str, str] = field(default_factory=dict)
    match_counts: dict[str, int] = field(default_factory=dict)  # filter -> matching records, until a write
    orphans: int = 0  # vectors without the layer's fields, e.g. metadata lost in a restart

    @property
    def live_vectors(self) -> int:
        return self.total - self.deleted

    @property
    def hidden(self) -> int:
        """Superseded versions and tombstones: server vectors that are not visible records."""
        return self.live_vectors - len(self.records) - self.orphans

    def count_matching(
        self, where_key: str | None, predicate: Callable[[Mapping[str, Any]], bool], allowed: set[str] | None
    ) -> int:
        """How many visible records pass the filter: exact, or estimated from a sample when common.

        It only sizes the first search round, so an estimate is enough when matches are
        plentiful; rare filters are counted exactly (and remembered until the next write)
        so that a search for more matches than exist stops without a full scan.
        """
        if allowed is not None:
            return sum(1 for sid in allowed if sid in self.records and predicate(self.records[sid].metadata))
        if where_key is None:
            return len(self.records)
        cached = self.match_counts.get(where_key)
        if cached is not None:
            return cached
        sample = list(itertools.islice(self.records.values(), _SAMPLE))
        hits = sum(1 for record in sample if predicate(record.metadata))
        if len(sample) == len(self.records):
            count = hits
        elif hits >= _SAMPLE_HITS_FOR_ESTIMATE:
            count = round(hits * len(self.records) / len(sample))
        else:
            count = sum(1 for record in self.records.values() if predicate(record.metadata))
        self.match_counts[where_key] = count
        return count

    def is_current(self, info: pb.CollectionInfo) -> bool:
        """Whether the server's counters (raw CollectionInfo) still match this view."""
        return self.total == info.vector_count + info.deleted_count and self.deleted == info.deleted_count

    def count_own(self, server_ids: Sequence[int]) -> None:
        """Count vectors this process just wrote (call with the lock held).

        The server numbers vectors 1, 2, ... and the view's ``total`` only advances over ids it
        knows, so equal totals mean nothing is missing. Ids that do not follow on (another
        writer's vectors came in between, unseen) leave ``total`` behind the server's, and the
        next read rescans. Batches of this process answered out of order still join up.
        """
        written = set(server_ids)
        while self.total + 1 in written or self.total + 1 in self.owner:
            self.total += 1

    def adopt_newer(self, previous: _View) -> None:
        """Take over what ``previous`` learnt past this view's scan (writes applied while it ran)."""
        for server_id, sid in previous.owner.items():
            if server_id > self.total and server_id not in self.owner and sid is not None:
                record = previous.visible_record(server_id)
                self.apply(sid, server_id, record, previous.fingerprints.get(sid) if record else None)
        self.count_own(())

    def visible_record(self, server_id: int) -> Record | None:
        sid = self.owner.get(server_id)
        if sid is None or self.latest.get(sid) != server_id:
            return None
        return self.records.get(sid)

    def apply(self, sid: str, server_id: int, record: Record | None, fingerprint: str | None) -> None:
        """Record that ``server_id`` now holds the newest version of ``sid`` (None: a tombstone)."""
        self.owner[server_id] = sid
        self.match_counts.clear()
        previous = self.latest.get(sid)
        if previous is not None and previous > server_id:
            return  # an older write reported late; the newer one stands
        self.latest[sid] = server_id
        self.records.pop(sid, None)  # re-insert so iteration follows write order
        self.fingerprints.pop(sid, None)
        if record is not None and fingerprint is not None:
            self.records[sid] = record
            self.fingerprints[sid] = fingerprint


def _fingerprint(text: str, group: str | None, user_struct: bytes, vector: np.ndarray) -> str:
    """Content hash of a record; ``user_struct`` is its deterministic Struct serialization."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (text.encode(), (group or "").encode(), user_struct):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    digest.update(b"\x01" if group is not None else b"\x00")
    digest.update(vector.tobytes() if vector.dtype == _F32 else np.asarray(vector, dtype=_F32).tobytes())
    return digest.hexdigest()


def _stored_fields(struct: Any) -> dict[str, Any]:
    from ._convert import metadata_from_pb

    return metadata_from_pb(struct)


def _record_from_stored(stored: Mapping[str, Any], vector: Sequence[float] | None = None) -> Record:
    group = stored.get(GROUP_KEY)
    return Record(
        id=str(stored[ID_KEY]),
        text=str(stored.get(TEXT_KEY, "")),
        vector=vector,
        metadata=decode_metadata(stored),
        group=None if group is None else str(group),
    )


def _record_vectors(batch: Sequence[Record]) -> np.ndarray:
    """The records' vectors as one validated matrix; an error names the record at fault."""
    try:
        matrix: np.ndarray = as_matrix([r.vector for r in batch], "record vectors")  # type: ignore[misc]
        return matrix
    except InvalidArgumentError:
        for record in batch:  # find the culprit to name it
            as_vector(record.vector, f"vector of record {record.id!r}")  # type: ignore[arg-type]
        raise


def _tombstone_bytes(sid: str) -> bytes:
    """The serialized metadata of a tombstone for ``sid`` (built directly: deletes come in thousands)."""
    struct = struct_pb2.Struct()
    struct.fields[ID_KEY].string_value = sid
    struct.fields[KIND_KEY].string_value = TOMBSTONE
    return struct.SerializeToString()


def _random_unit_vectors(count: int, dimension: int) -> np.ndarray:
    """Distinct bookkeeping vectors: identical vectors hide each other in an HNSW graph."""
    rng = np.random.default_rng()
    vectors = rng.standard_normal((count, dimension), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def _scan_size(info: CollectionInfo) -> int:
    """top_k of a full scan: room for every live vector plus writes that land while it runs.

    A scan that returns fewer results than this saw every live vector; one that fills it may
    have been cut short by concurrent writes (the server returns the nearest top_k).
    """
    return min(info.vector_count + 64 + info.vector_count // 8, 2**31 - 1)


def _probe(dimension: int) -> np.ndarray:
    return np.full(dimension, 1.0 / math.sqrt(dimension), dtype=np.float32)


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")


def _check_ids(ids: Iterable[str], what: str = "ids") -> list[str]:
    if isinstance(ids, str):
        raise InvalidArgumentError(f"{what} must be a list of strings, not a single string")
    id_list = list(ids)
    for index, sid in enumerate(id_list):
        if not isinstance(sid, str) or not sid:
            raise InvalidArgumentError(f"{what}[{index}] must be a non-empty string, got {sid!r}")
        check_unicode(sid, f"{what}[{index}]")
    return id_list


# -- the shared core: every operation written once as a plan ------------------------------------------------


class _CollectionCore:
    """State and plans shared by :class:`DocumentCollection` and :class:`AsyncDocumentCollection`."""

    def __init__(
        self,
        name: str,
        *,
        db: str,
        metric: Metric | str,
        hnsw: HnswConfig,
        auto_compact: bool,
        compact_min_hidden: int,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"collection name must be a non-empty string, got {name!r}")
        if name.endswith(STAGING_SUFFIX):
            raise InvalidArgumentError(f"collection names ending in {STAGING_SUFFIX!r} are reserved")
        self.name = name
        self.db = db
        self.metric = Metric.parse(metric)
        self.hnsw = hnsw
        self.auto_compact = auto_compact
        self.compact_min_hidden = compact_min_hidden
        self._view: _View | None = None
        self._lock = threading.Lock()
        self._warned_orphans = 0
        # A compaction drops and rebuilds the collection: in this process, no write may be in
        # flight meanwhile, and reads and writes that start meanwhile are refused (UnavailableError).
        self._compacting = False
        self._inserting = 0
        self._inflight_vectors = 0  # written by this process, not yet applied to the view

    def _start_insert(self, vectors: int) -> None:
        with self._lock:
            if self._compacting:
                raise UnavailableError(f"collection {self.name!r} is being compacted; try again")
            self._inserting += 1
            self._inflight_vectors += vectors

    def _end_insert(self, vectors: int) -> None:
        with self._lock:
            self._inserting -= 1
            self._inflight_vectors -= vectors

    # -- collection lifecycle

    def ensure_plan(self, client: Any, dimension: int | None, timeout: Timeout) -> Plan[None]:
        info = yield from client._ensure_collection_plan(
            self.db, self.name, self.metric, self.hnsw.m or None, self.hnsw.ef_construction or None, timeout
        )
        if dimension is not None and info.dimension and info.dimension != dimension:
            raise InvalidArgumentError(
                f"collection {self.name!r} holds {info.dimension}-dimensional vectors, "
                f"but these have dimension {dimension}"
            )

    def drop_plan(self, client: Any, timeout: Timeout) -> Plan[bool]:
        with self._lock:
            self._view = None
        try:
            yield from client._drop_collection_plan(self.db, self.name, timeout)
        except NotFoundError:
            return False
        return True

    def clear_plan(self, client: Any, timeout: Timeout) -> Plan[None]:
        yield from self.drop_plan(client, timeout)
        yield from self.ensure_plan(client, None, timeout)

    # -- keeping the view fresh

    def fresh_view_plan(self, client: Any, timeout: Timeout, force: bool = False) -> Plan[_View]:
        """The view, rescanned when another writer changed the collection (or ``force``)."""
        if self._compacting:
            raise UnavailableError(f"collection {self.name!r} is being compacted; try again")
        try:
            info = yield from client._get_collection_info_plan(self.db, self.name, timeout)
        except NotFoundError:
            recovered = yield from self._recover_plan(client, timeout)
            if not recovered:
                raise
            info = yield from client._get_collection_info_plan(self.db, self.name, timeout)
        if info.metric is not None and info.metric is not self.metric:
            raise InvalidArgumentError(
                f"collection {self.name!r} in database {self.db!r} uses metric {info.metric.value!r}, "
                f"but this store was opened with {self.metric.value!r}; pass metric={info.metric.value!r}"
            )
        for _ in range(_CATCH_UP_CHECKS):
            with self._lock:
                view, inflight = self._view, self._inflight_vectors
            if force or view is None or view.deleted != info.deleted_count:
                break
            if view.total >= info.total_inserted:  # it knows every id the server had (and maybe newer)
                return view
            if not 0 < info.total_inserted - view.total <= inflight:
                break
            # The server is ahead by no more than this process has in flight: most likely our
            # own writes, whose answers are being applied. Look again before paying for a scan.
            info = yield from client._get_collection_info_plan(self.db, self.name, timeout)
        # First look in this process: finish a compaction that a crash interrupted.
        if self._view is None and (yield from self._recover_plan(client, timeout)):
            info = yield from client._get_collection_info_plan(self.db, self.name, timeout)
        for _ in range(_SCAN_ATTEMPTS):
            view = _View(total=info.total_inserted, deleted=info.deleted_count, dimension=info.dimension)
            if info.vector_count == 0:
                break
            response = yield from self._scan_plan(client, info, False, timeout)
            self._fill_view(view, response.results)
            if len(response.results) < _scan_size(info):  # every live vector as the scan ran
                view.total = max([view.total, *view.owner])  # with writes that landed since info
                break
            # More vectors landed during the scan than it had room for: some may be missing.
            info = yield from client._get_collection_info_plan(self.db, self.name, timeout)
        else:
            raise UnavailableError(f"collection {self.name!r} kept growing during a full scan; try again")
        with self._lock:
            previous, self._view = self._view, view
            if previous is not None:
                view.adopt_newer(previous)
        self._warn_orphans(view)
        return view

    def _scan_plan(
        self, client: Any, info: Any, include_vector: bool, timeout: Timeout
    ) -> Plan[pb.SearchResponse]:
        """Every reachable vector of the collection ``info`` describes: one Search, top_k = live count, ef >= all nodes."""
        request = client._search_request(
            self.db,
            info.name,
            _probe(info.dimension),
            _scan_size(info),
            min(max(info.total_inserted, _DEFAULT_EF) + _scan_size(info) - info.vector_count, 2**31 - 1),
            include_vector,
        )
        response: pb.SearchResponse = yield Call("Search", request, timeout)
        return response

    @staticmethod
    def _fill_view(view: _View, items: Iterable[Any]) -> None:
        for item in sorted(items, key=lambda it: it.id):
            stored = _stored_fields(item.metadata)
            sid = stored.get(ID_KEY)
            if not isinstance(sid, str):
                view.owner[item.id] = None
                if stored.get(KIND_KEY) is None:
                    view.orphans += 1
                continue
            if stored.get(KIND_KEY) == TOMBSTONE:
                view.apply(sid, item.id, None, None)
                continue
            view.apply(sid, item.id, _record_from_stored(stored), str(stored.get(HASH_KEY, "")))

    def _warn_orphans(self, view: _View) -> None:
        if view.orphans and view.orphans != self._warned_orphans:
            self._warned_orphans = view.orphans
            logger.warning(
                "collection %r holds %d vectors without their metadata (the server restarted without a "
                "snapshot); they are skipped by every read. Re-ingest those documents, and call save() "
                "after ingesting so the server snapshots metadata.",
                self.name,
                view.orphans,
            )

    def _check_dimension(self, view: _View, dimension: int, what: str) -> None:
        if view.dimension and view.dimension != dimension:
            raise InvalidArgumentError(
                f"{what} has dimension {dimension}, but collection {self.name!r} holds "
                f"{view.dimension}-dimensional vectors"
            )

    # -- writes

    def upsert_plan(
        self, client: Any, records: Iterable[Record], timeout: Timeout, vectors: np.ndarray | None = None
    ) -> Plan[list[str]]:
        """Write records, replacing earlier versions of the same ids; returns every id, in input order."""
        batch = list(records)
        ids = _check_ids([r.id for r in batch], "record ids")
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            duplicate = next(sid for sid in ids if sid in seen or seen.add(sid))  # type: ignore[func-returns-value]
            raise InvalidArgumentError(
                f"record id {duplicate!r} appears twice in one upsert; ids must be unique"
            )
        if not batch:
            return []
        if vectors is None:
            missing = next((r.id for r in batch if r.vector is None), None)
            if missing is not None:
                raise InvalidArgumentError(f"record {missing!r} has no vector")
            vectors = _record_vectors(batch)
        payloads: list[bytes] = []
        stored_metadata: list[dict[str, Any]] = []
        fingerprints: list[str] = []
        for record, vector in zip(batch, vectors, strict=True):
            if not isinstance(record.text, str):
                raise InvalidArgumentError(f"text of record {record.id!r} must be a string")
            if record.group is not None and not isinstance(record.group, str):
                raise InvalidArgumentError(f"group of record {record.id!r} must be a string or None")
            check_unicode(record.text, f"text of record {record.id!r}")
            check_unicode(record.group or "", f"group of record {record.id!r}")
            encoded = encode_metadata(record.metadata)
            struct = metadata_to_pb(encoded, checked=True)  # encode_metadata refused non-JSON already
            fingerprint = _fingerprint(
                record.text, record.group, struct.SerializeToString(deterministic=True), vector
            )
            fields = struct.fields
            fields[ID_KEY].string_value = record.id
            fields[TEXT_KEY].string_value = record.text
            fields[HASH_KEY].string_value = fingerprint
            if record.group is not None:
                fields[GROUP_KEY].string_value = record.group
            payloads.append(struct.SerializeToString())
            stored_metadata.append(encoded)
            fingerprints.append(fingerprint)

        try:
            view = yield from self.fresh_view_plan(client, timeout)
        except NotFoundError:  # first write: create the collection
            yield from self.ensure_plan(client, int(vectors.shape[1]), timeout)
            view = yield from self.fresh_view_plan(client, timeout)
        self._check_dimension(view, int(vectors.shape[1]), f"vector of record {batch[0].id!r}")
        changed = [i for i, sid in enumerate(ids) if view.fingerprints.get(sid) != fingerprints[i]]
        if changed:
            self._start_insert(len(changed))
            try:
                server_ids = yield from client._insert_vectors_plan(
                    self.db, self.name, vectors[changed], [payloads[i] for i in changed], timeout
                )
                with self._lock:
                    # The current view: a rescan may have replaced the one this write started from.
                    view = self._view or view
                    view.dimension = view.dimension or int(vectors.shape[1])
                    for i, server_id in zip(changed, server_ids, strict=True):
                        record = batch[i]
                        stored = Record(
                            record.id, record.text, None, decode_metadata(stored_metadata[i]), record.group
                        )
                        view.apply(record.id, server_id, stored, fingerprints[i])
                    view.count_own(server_ids)
            except Exception:
                with self._lock:
                    self._view = None  # part may be stored: rescan next time
                raise
            finally:
                self._end_insert(len(changed))
            yield from self._maybe_compact_plan(client, view, timeout)
        return ids

    def delete_plan(self, client: Any, ids: Iterable[str], timeout: Timeout) -> Plan[int]:
        """Hide records by id (tombstones, never server deletes); returns how many existed."""
        wanted = list(dict.fromkeys(_check_ids(ids)))
        try:
            view = yield from self.fresh_view_plan(client, timeout)
        except NotFoundError:
            return 0
        targets = [sid for sid in wanted if sid in view.records]
        if not targets:
            return 0
        payloads = [_tombstone_bytes(sid) for sid in targets]
        self._start_insert(len(targets))
        try:
            server_ids = yield from client._insert_vectors_plan(
                self.db, self.name, _random_unit_vectors(len(targets), view.dimension), payloads, timeout
            )
            with self._lock:
                view = self._view or view  # the current view, as in upsert_plan
                for sid, server_id in zip(targets, server_ids, strict=True):
                    view.apply(sid, server_id, None, None)
                view.count_own(server_ids)
        except Exception:
            with self._lock:
                self._view = None
            raise
        finally:
            self._end_insert(len(targets))
        yield from self._maybe_compact_plan(client, view, timeout)
        return len(targets)

    def delete_where_plan(
        self, client: Any, where: Filter | None, group: str | None, timeout: Timeout
    ) -> Plan[int]:
        predicate = compile_filter(where)
        try:
            view = yield from self.fresh_view_plan(client, timeout)
        except NotFoundError:
            return 0
        targets = [
            sid
            for sid, record in view.records.items()
            if (group is None or record.group == group) and predicate(record.metadata)
        ]
        if not targets:
            return 0
        return (yield from self.delete_plan(client, targets, timeout))

    # -- reads

    def get_plan(self, client: Any, ids: Iterable[str], timeout: Timeout) -> Plan[list[Record]]:
        wanted = _check_ids(ids)
        try:
            view = yield from self.fresh_view_plan(client, timeout)
        except NotFoundError:
            return []
        return [view.records[sid] for sid in wanted if sid in view.records]

    def scan_plan(
        self, client: Any, where: Filter | None, group: str | None, limit: int | None, timeout: Timeout
    ) -> Plan[list[Record]]:
        predicate = compile_filter(where)
        try:
            view = yield from self.fresh_view_plan(client, timeout)
        except NotFoundError:
            return []
        out: list[Record] = []
        for record in view.records.values():
            if (group is None or record.group == group) and predicate(record.metadata):
                out.append(record)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def count_plan(self, client: Any, timeout: Timeout) -> Plan[int]:
        try:
            view = yield from self.fresh_view_plan(client, timeout)
        except NotFoundError:
            return 0
        return len(view.records)

    def search_plan(
        self,
        client: Any,
        vector: Sequence[float] | np.ndarray,
        k: int,
        where: Filter | None,
        ids: Iterable[str] | None,
        include_vector: bool,
        ef_search: int | None,
        timeout: Timeout,
    ) -> Plan[list[ScoredRecord]]:
        """The k nearest visible records passing ``where`` (and within ``ids``), closest first.

        Complete: over-fetches in growing rounds until k matches are found or the server
        has returned everything it can reach.
        """
        _check_k(k)
        query = as_vector(vector)
        predicate = compile_filter(where)
        allowed = set(_check_ids(ids)) if ids is not None else None
        where_key = None if where is None else json.dumps(where, sort_keys=True, default=repr)
        force = False
        for attempt in range(3):
            # With a view in hand, its freshness is checked alongside the first search round.
            view = self._view if attempt == 0 else None
            verify = view is not None
            if view is None:
                try:
                    view = yield from self.fresh_view_plan(client, timeout, force=force)
                except NotFoundError:
                    return []
            self._check_dimension(view, int(query.shape[0]), "query vector")
            try:
                return (
                    yield from self._search_rounds_plan(
                        client,
                        view,
                        query,
                        k,
                        predicate,
                        where_key,
                        allowed,
                        include_vector,
                        ef_search,
                        verify,
                        timeout,
                    )
                )
            except _Stale as stale:
                force = stale.rebuilt
        raise UnavailableError(f"collection {self.name!r} kept changing during the search; try again")

    def _search_rounds_plan(
        self,
        client: Any,
        view: _View,
        query: np.ndarray,
        k: int,
        predicate: Callable[[Mapping[str, Any]], bool],
        where_key: str | None,
        allowed: set[str] | None,
        include_vector: bool,
        ef_search: int | None,
        verify: bool,
        timeout: Timeout,
    ) -> Plan[list[ScoredRecord]]:
        """Search rounds against ``view``; with ``verify``, the first also checks that it is current."""
        matching = view.count_matching(where_key, predicate, allowed)
        if matching == 0:
            return []
        want = min(k, matching)
        live = view.live_vectors
        if matching == live:  # every server vector is a match: nothing to skip
            top_k = want
        else:
            # Matches are a fraction matching/live of the server's vectors (hidden versions and
            # tombstones included); ask for enough that want of them are likely in the first
            # round. Later rounds grow until want are found, so this is a guess, never a cap.
            top_k = math.ceil(want * live / matching * _FIRST_ROUND_SLACK) + _FIRST_ROUND_EXTRA
        top_k = max(want, min(live, top_k))
        while True:
            ef = min(max(top_k, ef_search or 0, _DEFAULT_EF), 2**31 - 1)
            request = client._search_request(self.db, self.name, query, top_k, ef, include_vector)
            if verify:
                verify = False
                info_call = Call(
                    "GetCollectionInfo", client._collection_info_request(self.db, self.name), timeout
                )
                info, response = yield [info_call, Call("Search", request, timeout)]
                for result in (info, response):
                    if isinstance(result, NotFoundError):
                        raise _Stale(rebuilt=True)  # dropped, perhaps recreated: look again from scratch
                    if isinstance(result, Exception):
                        raise result
                if not view.is_current(info):
                    raise _Stale()
            else:
                response = yield Call("Search", request, timeout)
            hits: list[ScoredRecord] = []
            for item in response.results:
                if item.id not in view.owner:
                    if item.id > view.total:
                        continue  # written while this search ran: concurrent, so leaving it out is correct
                    raise _Stale(rebuilt=True)  # an old id the view never saw: the collection was rebuilt
                record = view.visible_record(item.id)
                if record is None:
                    continue
                if item.metadata.fields[ID_KEY].string_value != record.id:
                    raise _Stale(rebuilt=True)  # the server's id now names another record: rebuilt
                if allowed is not None and record.id not in allowed:
                    continue
                if not predicate(record.metadata):
                    continue
                if include_vector:
                    record = replace(record, vector=np.asarray(item.vector.elements, dtype=np.float32))
                hits.append(ScoredRecord(record, item.distance, relevance_score(self.metric, item.distance)))
            exhausted = len(response.results) < top_k or top_k >= live
            if len(hits) >= want or exhausted:
                return hits[:k]
            top_k = min(live, top_k * _GROWTH)

    def search_text_plan(
        self,
        client: Any,
        text: str,
        k: int,
        where: Filter | None,
        model: str | None,
        timeout: Timeout,
    ) -> Plan[list[ScoredRecord]]:
        _check_k(k)
        compile_filter(where)  # refuse a bad filter before paying for an embedding
        vectors = yield from client._embed_text_plan([text], model, timeout)
        return (yield from self.search_plan(client, vectors[0], k, where, None, False, None, timeout))

    def upsert_texts_plan(
        self, client: Any, records: Iterable[Record], model: str | None, batch_size: int, timeout: Timeout
    ) -> Plan[list[str]]:
        """Upsert records whose vectors the server computes from their text (EmbedText)."""
        batch = list(records)
        ids: list[str] = []
        for start in range(0, len(batch), batch_size):
            chunk = batch[start : start + batch_size]
            embedded = yield from client._embed_text_plan([r.text for r in chunk], model, timeout)
            vectors = np.asarray(embedded, dtype=np.float32)
            ids += yield from self.upsert_plan(client, chunk, timeout, vectors=vectors)
        return ids

    def mmr_plan(
        self,
        client: Any,
        vector: Sequence[float] | np.ndarray,
        k: int,
        fetch_k: int,
        lambda_mult: float,
        where: Filter | None,
        timeout: Timeout,
        ids: Iterable[str] | None = None,
    ) -> Plan[list[ScoredRecord]]:
        """Maximal marginal relevance over the ``fetch_k`` nearest matches (among ``ids``)."""
        _check_k(k)
        if not 0.0 <= lambda_mult <= 1.0:
            raise InvalidArgumentError(f"lambda_mult must be between 0 and 1, got {lambda_mult}")
        candidates = yield from self.search_plan(
            client, vector, max(fetch_k, k), where, ids, True, None, timeout
        )
        if not candidates:
            return []
        matrix = np.stack([np.asarray(c.record.vector, dtype=np.float32) for c in candidates])
        order = maximal_marginal_relevance(as_vector(vector), matrix, k, lambda_mult)
        return [candidates[i] for i in order]

    # -- compaction

    def _maybe_compact_plan(self, client: Any, view: _View, timeout: Timeout) -> Plan[None]:
        if self.auto_compact and view.hidden >= self.compact_min_hidden and view.hidden > len(view.records):
            try:
                yield from self.compact_plan(client, timeout)
            except ScintireteError as exc:  # the write that asked for it is stored; compact another time
                logger.warning("automatic compaction of collection %r was abandoned: %s", self.name, exc)

    def compact_plan(self, client: Any, timeout: Timeout) -> Plan[bool]:
        """Compact unless a compaction or a write of this process is under way (then False)."""
        with self._lock:
            if self._compacting or self._inserting:
                return False
            self._compacting = True
        try:
            return (yield from self._compact_plan(client, timeout))
        finally:
            with self._lock:
                self._compacting = False

    def _compact_plan(self, client: Any, timeout: Timeout) -> Plan[bool]:
        """Rebuild the collection from its visible records (and orphans), dropping hidden versions.

        Steps: copy into a staging collection, mark it complete, check nobody wrote
        meanwhile, mark it committed, then replace the collection and drop the staging
        copy. A crash before the commit mark leaves the collection untouched; after
        it, the next reader finishes the copy from staging. Returns False when another
        writer changed the collection during the copy (nothing is replaced then).
        """
        info = yield from client._get_collection_info_plan(self.db, self.name, timeout)
        if info.vector_count == 0:
            return False
        response = yield from self._scan_plan(client, info, True, timeout)
        view = _View(total=info.total_inserted, deleted=info.deleted_count, dimension=info.dimension)
        self._fill_view(view, response.results)
        keep: list[tuple[np.ndarray, dict[str, Any]]] = []
        for item in response.results:
            visible = view.visible_record(item.id) is not None
            stored = _stored_fields(item.metadata)
            orphan = ID_KEY not in stored and KIND_KEY not in stored
            if visible or orphan:  # orphans are kept: their vectors are still the user's data
                keep.append((np.asarray(item.vector.elements, dtype=np.float32), stored))
        staging = self.name + STAGING_SUFFIX
        with contextlib.suppress(NotFoundError):
            yield from client._drop_collection_plan(self.db, staging, timeout)
        yield from client._create_collection_plan(
            self.db, staging, self.metric, self.hnsw.m or None, self.hnsw.ef_construction or None, timeout
        )
        if keep:
            yield from client._insert_vectors_plan(
                self.db, staging, np.stack([v for v, _ in keep]), [m for _, m in keep], timeout
            )
        yield from self._mark_plan(client, staging, STAGING_DONE, info.dimension, timeout)
        now = yield from client._get_collection_info_plan(self.db, self.name, timeout)
        if now.total_inserted != info.total_inserted or now.deleted_count != info.deleted_count:
            yield from client._drop_collection_plan(self.db, staging, timeout)
            return False
        yield from self._mark_plan(client, staging, STAGING_COMMIT, info.dimension, timeout)
        yield from self._replace_from_plan(client, keep, timeout)
        yield from client._drop_collection_plan(self.db, staging, timeout)
        return True

    def _mark_plan(
        self, client: Any, staging: str, kind: str, dimension: int, timeout: Timeout
    ) -> Plan[None]:
        yield from client._insert_vectors_plan(
            self.db, staging, _random_unit_vectors(1, dimension), [{KIND_KEY: kind}], timeout
        )

    def _replace_from_plan(
        self, client: Any, keep: list[tuple[np.ndarray, dict[str, Any]]], timeout: Timeout
    ) -> Plan[None]:
        with self._lock:
            self._view = None
        with contextlib.suppress(NotFoundError):
            yield from client._drop_collection_plan(self.db, self.name, timeout)
        yield from client._create_collection_plan(
            self.db, self.name, self.metric, self.hnsw.m or None, self.hnsw.ef_construction or None, timeout
        )
        if keep:
            yield from client._insert_vectors_plan(
                self.db, self.name, np.stack([v for v, _ in keep]), [m for _, m in keep], timeout
            )

    def _recover_plan(self, client: Any, timeout: Timeout) -> Plan[bool]:
        """Finish or discard a compaction that a crash interrupted; True when the collection was restored."""
        staging = self.name + STAGING_SUFFIX
        try:
            info = yield from client._get_collection_info_plan(self.db, staging, timeout)
        except NotFoundError:
            return False
        committed = False
        keep: list[tuple[np.ndarray, dict[str, Any]]] = []
        if info.vector_count:
            response = yield from self._scan_plan(client, info, True, timeout)
            for item in response.results:
                stored = _stored_fields(item.metadata)
                if stored.get(KIND_KEY) == STAGING_COMMIT:
                    committed = True
                elif stored.get(KIND_KEY) is None:
                    keep.append((np.asarray(item.vector.elements, dtype=np.float32), stored))
        if committed:
            logger.warning(
                "finishing an interrupted compaction of collection %r from its staging copy", self.name
            )
            yield from self._replace_from_plan(client, keep, timeout)
        yield from client._drop_collection_plan(self.db, staging, timeout)
        return committed


# -- the two facades: only the call differs ----------------------------------------------------------


class _Facade:
    def __init__(
        self,
        name: str,
        client: Any,
        *,
        db: str = "default",
        metric: Metric | str = Metric.COSINE,
        m: int | None = None,
        ef_construction: int | None = None,
        auto_compact: bool = True,
        compact_min_hidden: int = 1000,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        core: _CollectionCore | None = None,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self._core = core or _CollectionCore(
            name,
            db=db,
            metric=metric,
            hnsw=HnswConfig(m or 0, ef_construction or 0),
            auto_compact=auto_compact,
            compact_min_hidden=compact_min_hidden,
        )

    @property
    def name(self) -> str:
        """The Scintirete collection name."""
        return self._core.name

    @property
    def db(self) -> str:
        """The Scintirete database name."""
        return self._core.db

    @property
    def metric(self) -> Metric:
        """The collection's distance metric."""
        return self._core.metric

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, db={self.db!r}, metric={self.metric.value!r})"


class DocumentCollection(_Facade):
    """Documents with string ids in one Scintirete collection (blocking calls).

    ::

        docs = DocumentCollection("notes", ScintireteClient("localhost:9090", password="pw"))
        docs.upsert([Record("n1", "hello", [0.1, 0.2], {"lang": "en"})])
        docs.search([0.1, 0.2], k=1, filter={"lang": "en"})[0].record.id  # 'n1'
    """

    client: ScintireteClient

    @classmethod
    def connect(
        cls,
        name: str,
        *,
        address: str | None = None,
        password: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> DocumentCollection:
        """Open ``name`` on a server (or the embedded Lite server when no address is given)."""
        client, _ = resolve_clients(address=address, password=password, data_dir=data_dir)
        return cls(name, client, **options)

    def async_twin(self, client: AsyncScintireteClient) -> AsyncDocumentCollection:
        """An async facade over the same collection sharing this one's view (no second cache)."""
        return AsyncDocumentCollection(self.name, client, timeout=self.timeout, core=self._core)

    def ensure(self, dimension: int | None = None) -> None:
        """Create the collection (and database) unless it exists; check ``dimension`` against it."""
        self.client._run(self._core.ensure_plan(self.client, dimension, self.timeout))

    def drop(self) -> bool:
        """Drop the collection; False when it did not exist."""
        return self.client._run(self._core.drop_plan(self.client, self.timeout))

    def clear(self) -> None:
        """Remove every record, keeping the (empty) collection."""
        self.client._run(self._core.clear_plan(self.client, self.timeout))

    def count(self) -> int:
        """How many records are visible."""
        return self.client._run(self._core.count_plan(self.client, self.timeout))

    def upsert(self, records: Iterable[Record]) -> list[str]:
        """Insert or replace records by id; unchanged records write nothing. Returns the ids."""
        return self.client._run(self._core.upsert_plan(self.client, records, self.timeout))

    def upsert_texts(
        self, records: Iterable[Record], *, model: str | None = None, batch_size: int = 64
    ) -> list[str]:
        """Upsert records embedded by the server's embedding model (EmbedText)."""
        return self.client._run(
            self._core.upsert_texts_plan(self.client, records, model, batch_size, self.timeout)
        )

    def get(self, ids: Iterable[str]) -> list[Record]:
        """Records for ``ids`` that exist, in the order asked."""
        return self.client._run(self._core.get_plan(self.client, ids, self.timeout))

    def delete(self, ids: Iterable[str]) -> int:
        """Delete records by id; returns how many existed. Unknown ids are ignored."""
        return self.client._run(self._core.delete_plan(self.client, ids, self.timeout))

    def delete_where(self, filter: Filter) -> int:
        """Delete every record whose metadata passes ``filter``; returns how many."""
        return self.client._run(self._core.delete_where_plan(self.client, filter, None, self.timeout))

    def delete_group(self, group: str) -> int:
        """Delete every record of ``group`` (e.g. all chunks of one source document)."""
        return self.client._run(self._core.delete_where_plan(self.client, None, group, self.timeout))

    def scan(
        self, filter: Filter | None = None, *, group: str | None = None, limit: int | None = None
    ) -> list[Record]:
        """Every record passing ``filter`` (and in ``group``), oldest write first."""
        return self.client._run(self._core.scan_plan(self.client, filter, group, limit, self.timeout))

    def search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        *,
        filter: Filter | None = None,
        ids: Iterable[str] | None = None,
        include_vector: bool = False,
        ef_search: int | None = None,
    ) -> list[ScoredRecord]:
        """The ``k`` nearest records passing ``filter`` (and among ``ids``), closest first."""
        return self.client._run(
            self._core.search_plan(
                self.client, vector, k, filter, ids, include_vector, ef_search, self.timeout
            )
        )

    def search_text(
        self, text: str, k: int = 4, *, filter: Filter | None = None, model: str | None = None
    ) -> list[ScoredRecord]:
        """Search with the server's embedding of ``text``."""
        return self.client._run(
            self._core.search_text_plan(self.client, text, k, filter, model, self.timeout)
        )

    def mmr(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        *,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[ScoredRecord]:
        """Diverse results: maximal marginal relevance over the ``fetch_k`` nearest matches (among ``ids``)."""
        return self.client._run(
            self._core.mmr_plan(self.client, vector, k, fetch_k, lambda_mult, filter, self.timeout, ids)
        )

    def compact(self) -> bool:
        """Rebuild the collection without hidden versions; False if another writer interfered."""
        return self.client._run(self._core.compact_plan(self.client, self.timeout))

    def save(self) -> None:
        """Ask the server for a snapshot. On a real server, metadata survives a restart only through one."""
        self.client.save(timeout=self.timeout)


class AsyncDocumentCollection(_Facade):
    """The asyncio twin of :class:`DocumentCollection`: same methods, awaited."""

    client: AsyncScintireteClient

    @classmethod
    def connect(
        cls,
        name: str,
        *,
        address: str | None = None,
        password: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> AsyncDocumentCollection:
        """Open ``name`` on a server (or the embedded Lite server when no address is given)."""
        _, client = resolve_clients(address=address, password=password, data_dir=data_dir)
        return cls(name, client, **options)

    def sync_twin(self, client: ScintireteClient) -> DocumentCollection:
        """A blocking facade over the same collection sharing this one's view."""
        return DocumentCollection(self.name, client, timeout=self.timeout, core=self._core)

    async def ensure(self, dimension: int | None = None) -> None:
        """Create the collection (and database) unless it exists; check ``dimension`` against it."""
        await self.client._run(self._core.ensure_plan(self.client, dimension, self.timeout))

    async def drop(self) -> bool:
        """Drop the collection; False when it did not exist."""
        return await self.client._run(self._core.drop_plan(self.client, self.timeout))

    async def clear(self) -> None:
        """Remove every record, keeping the (empty) collection."""
        await self.client._run(self._core.clear_plan(self.client, self.timeout))

    async def count(self) -> int:
        """How many records are visible."""
        return await self.client._run(self._core.count_plan(self.client, self.timeout))

    async def upsert(self, records: Iterable[Record]) -> list[str]:
        """Insert or replace records by id; unchanged records write nothing. Returns the ids."""
        return await self.client._run(self._core.upsert_plan(self.client, records, self.timeout))

    async def upsert_texts(
        self, records: Iterable[Record], *, model: str | None = None, batch_size: int = 64
    ) -> list[str]:
        """Upsert records embedded by the server's embedding model (EmbedText)."""
        return await self.client._run(
            self._core.upsert_texts_plan(self.client, records, model, batch_size, self.timeout)
        )

    async def get(self, ids: Iterable[str]) -> list[Record]:
        """Records for ``ids`` that exist, in the order asked."""
        return await self.client._run(self._core.get_plan(self.client, ids, self.timeout))

    async def delete(self, ids: Iterable[str]) -> int:
        """Delete records by id; returns how many existed. Unknown ids are ignored."""
        return await self.client._run(self._core.delete_plan(self.client, ids, self.timeout))

    async def delete_where(self, filter: Filter) -> int:
        """Delete every record whose metadata passes ``filter``; returns how many."""
        return await self.client._run(self._core.delete_where_plan(self.client, filter, None, self.timeout))

    async def delete_group(self, group: str) -> int:
        """Delete every record of ``group`` (e.g. all chunks of one source document)."""
        return await self.client._run(self._core.delete_where_plan(self.client, None, group, self.timeout))

    async def scan(
        self, filter: Filter | None = None, *, group: str | None = None, limit: int | None = None
    ) -> list[Record]:
        """Every record passing ``filter`` (and in ``group``), oldest write first."""
        return await self.client._run(self._core.scan_plan(self.client, filter, group, limit, self.timeout))

    async def search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        *,
        filter: Filter | None = None,
        ids: Iterable[str] | None = None,
        include_vector: bool = False,
        ef_search: int | None = None,
    ) -> list[ScoredRecord]:
        """The ``k`` nearest records passing ``filter`` (and among ``ids``), closest first."""
        return await self.client._run(
            self._core.search_plan(
                self.client, vector, k, filter, ids, include_vector, ef_search, self.timeout
            )
        )

    async def search_text(
        self, text: str, k: int = 4, *, filter: Filter | None = None, model: str | None = None
    ) -> list[ScoredRecord]:
        """Search with the server's embedding of ``text``."""
        return await self.client._run(
            self._core.search_text_plan(self.client, text, k, filter, model, self.timeout)
        )

    async def mmr(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        *,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[ScoredRecord]:
        """Diverse results: maximal marginal relevance over the ``fetch_k`` nearest matches (among ``ids``)."""
        return await self.client._run(
            self._core.mmr_plan(self.client, vector, k, fetch_k, lambda_mult, filter, self.timeout, ids)
        )

    async def compact(self) -> bool:
        """Rebuild the collection without hidden versions; False if another writer interfered."""
        return await self.client._run(self._core.compact_plan(self.client, self.timeout))

    async def save(self) -> None:
        """Ask the server for a snapshot. On a real server, metadata survives a restart only through one."""
        await self.client.save(timeout=self.timeout)


def new_id() -> str:
    """A fresh random string id (uuid4), used when the caller gives none."""
    return str(uuid.uuid4())
