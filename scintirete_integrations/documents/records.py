"""Records, scores and the journal page codec: the only code that decides how the layer's data looks.

A *page* is one write of the layer (a batch of upserts and deletes, or a switch to a new
data collection), as compact JSON, deflated and stored in vector elements by :mod:`.book`.
Upserted records travel with everything needed to rebuild them: text, metadata (JSON, so
ints, floats, bools, None and nesting come back exactly), group, fingerprint, the vector
(raw little-endian float32 after the JSON), a token naming the write, and the data collection that
holds their vector.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._metadata import decode_metadata, encode_metadata
from ..client import check_unicode
from ..errors import InvalidArgumentError
from ..models import Metric
from .book import page_digest

PAGE_FORMAT = 1
PAGE_BYTES = 700_000  # page JSON; with its vectors, deflated, in page vectors it stays below a 4 MiB request
_F32 = np.dtype("<f4")


@dataclass(frozen=True)
class Record:
    """A document: caller-chosen string id, text, metadata, optional group (e.g. a source document id).

    ``vector`` is given when writing; records read back carry it only when a call asked for vectors.

    >>> Record("a", "the cat sat", [0.1, 0.9], {"year": 2024}).metadata
    {'year': 2024}
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


@dataclass(frozen=True)
class Entry:
    """One upserted record as a page stores it."""

    id: str
    text: str
    metadata: dict[str, Any]  # encoded by encode_metadata (JSON-safe)
    group: str | None
    fingerprint: str
    vector: np.ndarray
    token: str  # names the write (unique without coordination)
    home: str  # the data collection the writer put that vector in

    def record(self, with_vector: bool = False) -> Record:
        return Record(
            self.id,
            self.text,
            self.vector if with_vector else None,
            decode_metadata(self.metadata),
            self.group,
        )


@dataclass(frozen=True)
class Page:
    """One write: upserts and deletes, a part of a checkpoint, or a checkpoint's marker.

    A checkpoint restates every visible record as of page ``as_of`` in parts (pages whose
    entries count as written at ``as_of``, not at their own number), then a marker naming the
    parts; a reader that starts afresh reads the newest marker's parts and what came after, and
    never the pages before. A marker may also move searches to a rebuilt data collection.
    """

    upserts: tuple[Entry, ...] = ()
    deletes: tuple[str, ...] = ()
    as_of: int = 0  # a checkpoint part: the state as of this page (0: the page's own number)
    checkpoint: tuple[int, int, int] | None = None  # a marker: parts first..last hold the state as of upto
    switch_to: str | None = None  # with a marker: the data collection searches go to from now on
    book: int | None = None  # with a marker: the book generation that holds the checkpoint and what follows
    digest: bytes = field(default=b"", compare=False)  # page_digest of the stored bytes (b"": a void mark)


def relevance_score(metric: Metric | str, distance: float) -> float:
    """Map a server distance to a relevance score in [0, 1], higher is closer.

    Cosine ``1 - d / 2``; inner product ``(1 - d) / 2`` clipped to [0, 1] (exact for unit
    vectors); L2 ``1 / (1 + d)``.

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


def similarity_score(metric: Metric | str, distance: float) -> float:
    """Map a server distance to the similarity LlamaIndex's own stores report, higher is closer.

    Cosine: the cosine similarity ``1 - d``, in [-1, 1] (as LlamaIndex's ``SimpleVectorStore``,
    Qdrant and Postgres stores report it); inner product: the dot product ``-d``; L2 ``1 / (1 + d)``,
    in (0, 1]. Not clipped, so a ``similarity_cutoff`` means what it means on those stores.

    >>> similarity_score("cosine", 0.5), similarity_score("inner_product", -2.0), similarity_score("l2", 1.0)
    (0.5, 2.0, 0.5)
    """
    metric = Metric.parse(metric)
    if math.isnan(distance):
        return -math.inf
    if metric is Metric.COSINE:
        return 1.0 - distance
    if metric is Metric.INNER_PRODUCT:
        return -distance
    return 1.0 / (1.0 + max(distance, 0.0))


def new_id() -> str:
    """A fresh random string id (uuid4), used when the caller gives none."""
    return str(uuid.uuid4())


def check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")


def check_ids(ids: Iterable[str], what: str = "ids") -> list[str]:
    """``ids`` as a list of non-empty strings, or InvalidArgumentError naming the bad one."""
    if isinstance(ids, str):
        raise InvalidArgumentError(f"{what} must be a list of strings, not a single string")
    id_list = list(ids)
    for index, sid in enumerate(id_list):
        if not isinstance(sid, str) or not sid:
            raise InvalidArgumentError(f"{what}[{index}] must be a non-empty string, got {sid!r}")
        check_unicode(sid, f"{what}[{index}]")
    return id_list


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The one rule for what metadata may hold (see :mod:`.._metadata`); encoded for a page."""
    return encode_metadata(metadata)


def fingerprint(text: str, group: str | None, metadata: Mapping[str, Any], vector: np.ndarray) -> str:
    """Content hash of a record: equal fingerprints mean an upsert would change nothing."""
    digest = hashlib.blake2b(digest_size=10)
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for part in (text, group or "", canonical):
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    digest.update(b"\x01" if group is not None else b"\x00")
    digest.update(np.ascontiguousarray(vector, dtype=_F32).tobytes())
    return digest.hexdigest()


def make_entry(record: Record, vector: np.ndarray, token: str, home: str) -> Entry:
    """Validate one record for writing (text, group, metadata) and build its page entry."""
    if not isinstance(record.text, str):
        raise InvalidArgumentError(f"text of record {record.id!r} must be a string")
    if record.group is not None and not isinstance(record.group, str):
        raise InvalidArgumentError(f"group of record {record.id!r} must be a string or None")
    check_unicode(record.text, f"text of record {record.id!r}")
    check_unicode(record.group or "", f"group of record {record.id!r}")
    try:
        metadata = check_metadata(record.metadata)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"record {record.id!r}: {exc}") from None
    vector = np.ascontiguousarray(vector, dtype=_F32)
    return Entry(
        record.id, record.text, metadata, record.group, fingerprint(record.text, record.group, metadata, vector),
        vector, token, home,
    )  # fmt: skip


# -- the page codec ------------------------------------------------------------------------------


def entry_json(entry: Entry) -> str:
    """One upsert as JSON text, its vector left out (a page carries the vectors as raw float32
    after its JSON): pages are assembled from these without re-encoding."""
    row = [
        entry.id,
        entry.text,
        entry.metadata,
        entry.group,
        entry.fingerprint,
        None,
        entry.token,
        entry.home,
    ]
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def encode_page(
    upserts: Sequence[str],
    vectors: np.ndarray | None,
    deletes: Sequence[str],
    *,
    as_of: int = 0,
    checkpoint: tuple[int, int, int] | None = None,
    switch_to: str | None = None,
    book: int | None = None,
) -> bytes:
    """A page as stored: the length of the deflated JSON (4 bytes), the deflated JSON, then the
    upserts' vectors as raw little-endian float32, one row per upsert (``vectors``).

    ``upserts`` are pre-encoded by :func:`entry_json`; the other fields are as in :class:`Page`.
    Vectors stay out of the JSON: base64 would grow them by a third, and deflate cannot shrink
    float noise back, it only spends time trying.
    """
    # The nonce first: a page's first chunk names it (``book.page_digest``), whatever it holds.
    parts = [f'"f":{PAGE_FORMAT}', f'"n":"{secrets.token_hex(8)}"', f'"u":[{",".join(upserts)}]']
    if vectors is not None and upserts:
        parts.append(f'"w":{int(vectors.shape[1])}')
    if deletes:
        parts.append('"d":' + json.dumps(list(deletes), ensure_ascii=False, separators=(",", ":")))
    if as_of:
        parts.append(f'"a":{int(as_of)}')
    if checkpoint is not None:
        parts.append('"k":' + json.dumps([int(n) for n in checkpoint]))
    if switch_to is not None:
        parts.append('"s":' + json.dumps(switch_to, ensure_ascii=False))
    if book is not None:
        parts.append(f'"b":{int(book)}')
    deflated = zlib.compress(("{" + ",".join(parts) + "}").encode(), 1)
    raw = b"" if vectors is None or not upserts else np.ascontiguousarray(vectors, dtype=_F32).tobytes()
    return len(deflated).to_bytes(4, "little") + deflated + raw


def decode_page(stored: bytes) -> Page:
    """The page :func:`encode_page` stored; ValueError when it is not one."""
    try:
        size = int.from_bytes(stored[:4], "little")
        raw = json.loads(zlib.decompress(stored[4 : 4 + size]).decode())
        if not isinstance(raw, dict) or raw.get("f") != PAGE_FORMAT:
            raise ValueError("not a page of this format")
        rows = raw.get("u", ())
        width = int(raw.get("w", 0))
        vectors = np.frombuffer(stored[4 + size :], dtype=_F32).reshape(len(rows), width)
        upserts = tuple(
            Entry(sid, txt, meta, group, fp, vectors[i], token, home)
            for i, (sid, txt, meta, group, fp, _, token, home) in enumerate(rows)
        )
    except (zlib.error, ValueError, UnicodeDecodeError, TypeError) as exc:
        raise ValueError("not a page of this format") from exc
    marker = raw.get("k")
    switch_to = raw.get("s")
    return Page(
        upserts,
        tuple(raw.get("d", ())),
        int(raw.get("a", 0)),
        None if marker is None else (int(marker[0]), int(marker[1]), int(marker[2])),
        None if switch_to is None else str(switch_to),
        None if raw.get("b") is None else int(raw["b"]),
        page_digest(stored),
    )


def page_limit(max_message_bytes: int) -> int:
    """The most JSON one page may hold: well under a request limit, with room for the envelope."""
    return min(PAGE_BYTES, max_message_bytes - 4096)


def split_pages(rows: Sequence[str], limit: int) -> Iterator[list[str]]:
    """Group encoded rows into pages of at most ``limit`` bytes (a lone larger row gets its own)."""
    chunk: list[str] = []
    size = 0
    for row in rows:
        if chunk and size + len(row) > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += len(row) + 1
    if chunk:
        yield chunk
