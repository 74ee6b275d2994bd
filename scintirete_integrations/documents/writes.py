"""Upsert and delete: data vectors first, then the journal page that makes them count.

An upsert inserts each changed record's vector into the current data collection (no metadata:
a restart without a snapshot would empty it), then writes a page naming those records; until
the page is in the journal, the vectors are invisible (a search hit counts only when its
elements are a visible record's vector). A delete writes a page and nothing else: the data
collection keeps the old vectors, which keep its graph connected, and hits on them are
skipped. Unchanged records (same fingerprint) write nothing, so re-running an ingest costs one
refresh.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..client import as_matrix, as_vector
from ..errors import InvalidArgumentError, NotFoundError
from ..filters import Filter
from .book import page_digest
from .core import CollectionCore
from .maintenance import maybe_compact_plan
from .pages import write_page_plan
from .records import (
    Entry,
    Page,
    Record,
    check_ids,
    encode_page,
    entry_json,
    make_entry,
    page_limit,
    split_pages,
)

if TYPE_CHECKING:
    from ..client import Plan, Timeout, _BaseClient

logger = logging.getLogger(__name__)

MAX_RECORD_BYTES = 3_500_000
WRITE_BATCH = 256  # records per data insert and page: about 2 s on a busy real server
# Inserts that may find their data collection dropped by other writers' compactions, one after
# another: each failure means another writer switched generations (progress), so a few suffice.
SWITCH_RETRIES = 8


def _record_vectors(batch: Sequence[Record]) -> np.ndarray:
    """The records' vectors as one validated matrix; an error names the record at fault."""
    missing = next((r.id for r in batch if r.vector is None), None)
    if missing is not None:
        raise InvalidArgumentError(f"record {missing!r} has no vector")
    try:
        return as_matrix([r.vector for r in batch], "record vectors")  # type: ignore[misc]
    except InvalidArgumentError:
        for record in batch:  # find the culprit to name it
            as_vector(record.vector, f"vector of record {record.id!r}")  # type: ignore[arg-type]
        raise


def _check_unique(ids: list[str]) -> None:
    seen: set[str] = set()
    for sid in ids:
        if sid in seen:
            raise InvalidArgumentError(f"record id {sid!r} appears twice in one upsert; ids must be unique")
        seen.add(sid)


def upsert_plan(
    core: CollectionCore,
    client: _BaseClient,
    records: Iterable[Record],
    timeout: Timeout,
    vectors: np.ndarray | None = None,
) -> Plan[list[str]]:
    """Write records, replacing earlier versions of the same ids; returns every id, in input order.

    Every record is validated, and its stored size checked, before anything is written.
    """
    batch = list(records)
    ids = check_ids([r.id for r in batch], "record ids")
    _check_unique(ids)
    if not batch:
        return []
    matrix = _record_vectors(batch) if vectors is None else vectors
    gen = core.view.gen
    tagged = _tagged(
        core, [make_entry(record, row, "", "") for record, row in zip(batch, matrix, strict=True)], gen
    )
    limit = min(MAX_RECORD_BYTES, client.max_message_bytes - 4096)
    for entry, row in tagged:
        if len(row) > limit:
            raise InvalidArgumentError(
                f"record {entry.id!r} takes {len(row)} bytes stored, more than the {limit}-byte message limit "
                "(the server refuses requests over 4 MiB); split its text into smaller chunks"
            )
    try:
        view = yield from core.view_plan(client, timeout)
    except NotFoundError:  # the first write creates the collection
        yield from core.ensure_plan(client, int(matrix.shape[1]), timeout)
        view = yield from core.view_plan(client, timeout)
    core.check_dimension(view, int(matrix.shape[1]), f"vector of record {batch[0].id!r}")
    with core.lock:
        changed = [(e, row) for e, row in tagged if view.fingerprints.get(e.id) != e.fingerprint]
    for start in range(0, len(changed), WRITE_BATCH):
        yield from _write_entries_plan(core, client, changed[start : start + WRITE_BATCH], timeout)
    if changed:
        yield from maybe_compact_plan(core, client, timeout)
    return ids


def _tagged(core: CollectionCore, entries: Iterable[Entry], gen: str) -> list[tuple[Entry, str]]:
    """Entries with a fresh token and ``gen`` as their home, each with its page row."""
    tagged = [dataclasses.replace(e, token=core.new_token(), home=gen) for e in entries]
    return [(e, entry_json(e)) for e in tagged]


def _write_entries_plan(
    core: CollectionCore, client: _BaseClient, tagged: list[tuple[Entry, str]], timeout: Timeout
) -> Plan[None]:
    """Insert the data vectors into the current generation, then the pages that make them visible."""
    for attempt in range(1, SWITCH_RETRIES + 1):
        gen = core.view.gen
        if tagged[0][0].home != gen:  # a rebuild switched generations since these were tagged
            tagged = _tagged(core, (e for e, _ in tagged), gen)
        entries = [e for e, _ in tagged]
        try:
            yield from client._insert_vectors_plan(
                core.db, gen, np.stack([e.vector for e in entries]), None, timeout
            )
            break
        except NotFoundError:
            # Under load two writers' compactions can drop the generation twice in a row.
            if attempt == SWITCH_RETRIES:
                raise
            yield from core.view_plan(client, timeout)  # a rebuild replaced the data collection
            if core.view.gen == gen:
                yield from core.ensure_plan(client, None, timeout)
    offset = 0
    for chunk in split_pages([row for _, row in tagged], page_limit(client.max_message_bytes)):
        vectors = np.stack([e.vector for e in entries[offset : offset + len(chunk)]])
        stored = encode_page(chunk, vectors, ())
        seq, book = yield from write_page_plan(client, core.names, stored, core.book(), timeout)
        with core.lock:
            core.view.know_book(book)
            core.view.apply(
                seq, Page(upserts=tuple(entries[offset : offset + len(chunk)]), digest=page_digest(stored))
            )
            if core.uses_graph(core.view):
                core.view.vectors.feed_graph()
        offset += len(chunk)


def delete_plan(core: CollectionCore, client: _BaseClient, ids: Iterable[str], timeout: Timeout) -> Plan[int]:
    """Delete records by id with one journal page per ~30,000 ids; returns how many existed."""
    wanted = list(dict.fromkeys(check_ids(ids)))
    try:
        view = yield from core.view_plan(client, timeout)
    except NotFoundError:
        return 0
    with core.lock:
        targets = [sid for sid in wanted if sid in view.records]
    if not targets:
        return 0
    rows = [json.dumps(sid, ensure_ascii=False) for sid in targets]
    offset = 0
    for chunk in split_pages(rows, page_limit(client.max_message_bytes)):
        part = targets[offset : offset + len(chunk)]
        stored = encode_page((), None, part)
        seq, book = yield from write_page_plan(client, core.names, stored, core.book(), timeout)
        with core.lock:
            core.view.know_book(book)
            core.view.apply(seq, Page(deletes=tuple(part), digest=page_digest(stored)))
        offset += len(chunk)
    yield from maybe_compact_plan(core, client, timeout)
    return len(targets)


def delete_where_plan(
    core: CollectionCore, client: _BaseClient, where: Filter | None, group: str | None, timeout: Timeout
) -> Plan[int]:
    """Delete every record passing ``where`` (and in ``group``); returns how many."""
    try:
        view = yield from core.view_plan(client, timeout)
    except NotFoundError:
        return 0
    targets = core.matching_ids(view, where, group, None)
    if not targets:
        return 0
    return (yield from delete_plan(core, client, targets, timeout))


def upsert_texts_plan(
    core: CollectionCore,
    client: _BaseClient,
    records: Iterable[Record],
    model: str | None,
    batch_size: int,
    timeout: Timeout,
) -> Plan[list[str]]:
    """Upsert records whose vectors the server computes from their text (EmbedText)."""
    batch = list(records)
    ids: list[str] = []
    for start in range(0, len(batch), batch_size):
        chunk = batch[start : start + batch_size]
        embedded = yield from client._embed_text_plan([r.text for r in chunk], model, timeout)
        vectors = np.asarray(embedded, dtype=np.float32)
        ids += yield from upsert_plan(core, client, chunk, timeout, vectors=vectors)
    return ids
