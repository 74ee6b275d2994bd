"""Compaction: rebuild the data collection without old versions, safely beside other writers.

Old versions and deleted records stay in the data collection (they keep its graph connected)
until they outnumber the visible records; then one store rebuilds it:

1. take the lock: create ``<name>.__sci_lock`` (CreateCollection succeeds for exactly one
   caller); a lock older than :data:`LOCK_TTL` belonged to a process that died and is broken;
2. refresh, and give up unless the view is proven complete (no pending page);
3. copy every visible record's vector, with its token, into a new generation
   ``<name>.__sci_g<random>``;
4. write a switch page naming it and the last page the copy covers;
5. drop the other generations, and the lock.

Readers never depend on a generation for get, scan or counts, only for search, and until the
switch page they search the old one, which is complete. Records written meanwhile into the old
generation are *strays* that searches score exactly from the journal until the next compaction
copies them. A crash before step 4 leaves an unused generation that the next compaction
drops; after it, nothing is lost. Writers whose generation disappears (step 5) refresh and
write again into the new one.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING

import numpy as np

from ..errors import AlreadyExistsError, NotFoundError, ScintireteError
from ..models import Metric
from .core import CollectionCore
from .journal import BOOK_DIMENSION, RESERVED_INFIX, write_page_plan
from .records import ID_KEY, TOKEN_KEY, page_json, struct_bytes

if TYPE_CHECKING:
    from ..client import Plan, Timeout, _BaseClient

logger = logging.getLogger(__name__)

LOCK_TTL = 600.0  # seconds after which a compaction lock is taken to belong to a dead process
_COPY_BATCH = 256
_TIME_KEY = "taken"


def stale_vectors(core: CollectionCore) -> tuple[int, int]:
    """(old versions and deleted records in the current generation, visible records in it)."""
    with core.lock:
        view = core.view
        in_gen = len(view.records) - len(view.strays)
        return max(view.data_vectors.get(view.gen, 0) - in_gen, 0), in_gen


def maybe_compact_plan(core: CollectionCore, client: _BaseClient, timeout: Timeout) -> Plan[None]:
    stale, live = stale_vectors(core)
    strays = len(core.view.strays)
    if not core.auto_compact or not ((stale >= core.compact_min_hidden and stale > live) or strays >= 1000):
        return
    try:
        yield from compact_plan(core, client, timeout)
    except ScintireteError as exc:  # the write that asked for it is stored; compact another time
        logger.warning("automatic compaction of collection %r was abandoned: %s", core.name, exc)


def compact_plan(core: CollectionCore, client: _BaseClient, timeout: Timeout) -> Plan[bool]:
    """Rebuild the data collection; False when another process holds the lock or the view is unproven."""
    with core.lock:
        if core.compacting:  # this store is compacting already (another thread, or its twin)
            return False
        core.compacting = True
    try:
        if not (yield from _lock_plan(core, client, timeout)):
            return False
        try:
            done = yield from _rebuild_plan(core, client, timeout)
        except Exception:  # not GeneratorExit: a plan abandoned mid-way is a crash, and keeps its lock
            yield from _unlock_plan(core, client, timeout)
            raise
        yield from _unlock_plan(core, client, timeout)
        return done
    finally:
        core.compacting = False


def _unlock_plan(core: CollectionCore, client: _BaseClient, timeout: Timeout) -> Plan[None]:
    with contextlib.suppress(NotFoundError):
        yield from client._drop_collection_plan(core.db, _lock_name(core), timeout)


def _lock_name(core: CollectionCore) -> str:
    return core.name + RESERVED_INFIX + "lock"


def _lock_plan(core: CollectionCore, client: _BaseClient, timeout: Timeout) -> Plan[bool]:
    name = _lock_name(core)
    for _ in range(2):
        try:
            yield from client._create_collection_plan(core.db, name, Metric.L2, None, None, timeout)
        except AlreadyExistsError:
            taken = yield from _lock_time_plan(core, client, name, timeout)
            if taken is not None and time.time() - taken < LOCK_TTL:
                return False
            logger.warning("breaking the compaction lock of %r left by a process that stopped", core.name)
            with contextlib.suppress(NotFoundError):
                yield from client._drop_collection_plan(core.db, name, timeout)
            continue
        yield from client._insert_vectors_plan(
            core.db, name, np.zeros((1, BOOK_DIMENSION), np.float32), [{_TIME_KEY: time.time()}], timeout
        )
        return True
    return False


def _lock_time_plan(
    core: CollectionCore, client: _BaseClient, name: str, timeout: Timeout
) -> Plan[float | None]:
    """When the lock was taken; None when that cannot be read (a holder that died mid-way)."""
    try:
        hits = yield from client._search_plan(
            core.db, name, np.zeros(BOOK_DIMENSION), 1, None, False, timeout
        )
    except NotFoundError:
        return 0.0
    if not hits:
        return None
    value = hits[0].metadata.get(_TIME_KEY)
    return float(value) if isinstance(value, (int, float)) else None


def _rebuild_plan(core: CollectionCore, client: _BaseClient, timeout: Timeout) -> Plan[bool]:
    view = yield from core.view_plan(client, timeout)
    with core.lock:
        if not view.complete or view.applied_above:
            return False  # nothing destructive on a read that is not proven complete
        upto = view.applied_upto
        old = view.gen
        rows = [(sid, view.tokens[sid], view.vectors.get(sid)) for sid in view.records]
    gen = f"{core.name}{RESERVED_INFIX}g{uuid.uuid4().hex[:10]}"
    logger.info(
        "compacting %r: copying %d records into %r (old versions are left behind)", core.name, len(rows), gen
    )
    yield from client._create_collection_plan(
        core.db, gen, core.metric, core.hnsw.m or None, core.hnsw.ef_construction or None, timeout
    )
    for start in range(0, len(rows), _COPY_BATCH):
        chunk = rows[start : start + _COPY_BATCH]
        yield from client._insert_vectors_plan(
            core.db,
            gen,
            np.stack([vector for _, _, vector in chunk]),
            [struct_bytes({ID_KEY: sid, TOKEN_KEY: token}) for sid, token, _ in chunk],
            timeout,
        )
    seq = yield from write_page_plan(client, core.names, page_json((), (), (gen, upto)), timeout)
    yield from core.view_plan(client, timeout)  # applies the switch, in journal order
    logger.info(
        "compacted %r: %d records copied into %r (page %d), replacing %r", core.name, len(rows), gen, seq, old
    )
    current = core.view.gen
    collections = yield from client._list_collections_plan(core.db, timeout)
    for info in collections:
        if info.name != current and core.names.is_generation(info.name):
            with contextlib.suppress(NotFoundError):
                yield from client._drop_collection_plan(core.db, info.name, timeout)
    return current == gen
