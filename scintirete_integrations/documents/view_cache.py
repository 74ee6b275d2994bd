"""The view cache: a local file holding a view as of one page, proven to belong to the collection.

A new process that loads it reads only the pages written since, instead of every page. The
file format and why a cache is never trusted unproven are in ``docs/view-cache.md``; in short,
the cached view names its *anchor* (its newest applied page and the digest of that page's
stored bytes), and is used only when a book on the server holds those very bytes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFoundError
from ..models import Metric
from .pages import books_plan, read_stored_plan
from .records import Record, page_digest
from .vectors import VectorTable
from .view import Names, View

if TYPE_CHECKING:
    from ..client import Plan, Timeout, _BaseClient

__all__ = ["SAVE_AFTER_READ", "ViewCache"]

logger = logging.getLogger(__name__)

MAGIC = b"SCIVIEW\x01"
SAVE_AFTER_READ = 2_000  # a first read that applied this many records saves the cache at once
_STATE_FIELDS = (
    "gen", "dimension", "switch_seq", "switches", "checkpoint_seq", "since_checkpoint",
    "applied_upto", "voided", "books", "checkpoint_upto", "book_entries", "data_vectors",
)  # fmt: skip


def _file_name(names: Names, metric: Metric) -> str:
    safe = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "_-") else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in names.name
    )
    return f"{safe}.{metric.value}.view"


class ViewCache:
    """One collection's cache file in ``directory`` (see the module docstring)::

    cache = ViewCache("./kb/view-cache", Names("default", "notes"), Metric.COSINE)
    cache.write(cache.encode(view))   # encode: None when the view has no anchor, or gaps
    view = cache.load()               # None when absent, torn, damaged or another collection's
    """

    def __init__(self, directory: str | os.PathLike[str], names: Names, metric: Metric) -> None:
        self.names = names
        self.metric = metric
        self.path = Path(directory) / _safe_part(names.db) / _file_name(names, metric)

    def __repr__(self) -> str:
        return f"ViewCache({str(self.path)!r})"

    # -- saving

    def encode(self, view: View) -> list[bytes] | None:
        """The file for ``view``, or None when it could not be proven later: no page with bytes
        applied yet, or pages missing below its newest one. The caller holds the view's lock."""
        if view.anchor is None or view.applied_above:
            return None
        return encode_view(view, self.names, self.metric)

    def write(self, parts: list[bytes]) -> None:
        """Replace the file with ``parts`` atomically (temporary file, fsync, rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    out.write(part)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _sync_directory(self.path.parent)

    # -- loading

    def load(self) -> View | None:
        """The cached view, checked whole; None (and a log line) when absent or not usable."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("view cache %s cannot be read (%s); reading from the server", self.path, exc)
            return None
        try:
            return decode_view(data, self.names, self.metric)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            logger.warning("view cache %s is not usable (%s); reading from the server", self.path, exc)
            return None

    def restore_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[View | None]:
        """The cached view when a book on the server holds its anchor page's very bytes, else None."""
        view = self.load()
        if view is None or view.anchor is None:
            return None
        seq, digest = view.anchor
        for generation in (yield from books_plan(client, self.names, timeout)):
            try:
                stored, _ = yield from read_stored_plan(client, self.names, generation, [seq], timeout)
            except NotFoundError:  # dropped since it was listed (a checkpoint moved on)
                continue
            page = stored.get(seq)
            if page is not None and page_digest(page) == digest:
                return view
        logger.info(
            "view cache %s does not match collection %r on the server; reading it", self.path, self.names.name
        )
        return None


def _safe_part(text: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-") else f"%{ord(ch):X}" for ch in text)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- the format -----------------------------------------------------------------------------------


def encode_view(view: View, names: Names, metric: Metric) -> list[bytes]:
    """The file's bytes, in parts (see ``docs/view-cache.md``)."""
    assert view.anchor is not None
    sids = list(view.records)
    homes = sorted(set(view.homes.values()))
    home_index = {home: i for i, home in enumerate(homes)}
    rows = [
        [sid, record.metadata, record.group, view.fingerprints[sid], home_index[view.homes[sid]]]
        for sid, record in view.records.items()
    ]
    texts = [view.records[sid].text.encode() for sid in sids]
    width = view.vectors.dimension
    vectors = (
        view.vectors.vectors[[view.vectors.rows[sid] for sid in sids]]
        if sids
        else np.zeros((0, width), np.float32)
    )
    deleted = [[sid, version] for sid, version in view.versions.items() if sid not in view.records]
    sections = {
        "rows": json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode(),
        "homes": json.dumps(homes, ensure_ascii=False).encode(),
        "deleted": json.dumps(deleted, ensure_ascii=False, separators=(",", ":")).encode(),
        "texts": b"".join(texts),
        "text_ends": np.cumsum([len(t) for t in texts], dtype="<i8").tobytes(),
        "versions": np.array([view.versions[sid] for sid in sids], dtype="<i8").tobytes(),
        "digests": b"".join(view.digests[sid] for sid in sids),
        "vectors": np.ascontiguousarray(vectors, dtype="<f4").tobytes(),
    }
    offsets: dict[str, list[int]] = {}
    at = 0
    for name, blob in sections.items():
        offsets[name] = [at, len(blob)]
        at += len(blob)
    header = json.dumps(
        {
            "db": names.db,
            "name": names.name,
            "metric": metric.value,
            "anchor": [view.anchor[0], view.anchor[1].hex()],
            "state": {key: getattr(view, key) for key in _STATE_FIELDS},
            "count": len(sids),
            "width": width,
            "sections": offsets,
        },
        ensure_ascii=False,
    ).encode()
    parts = [MAGIC, len(header).to_bytes(8, "little"), header, *sections.values()]
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return [*parts, crc.to_bytes(4, "little")]


def decode_view(data: bytes, names: Names, metric: Metric) -> View:
    """The view a file holds; ValueError naming what is wrong when it is not a whole cache of this collection."""
    if len(data) < 20 or data[:8] != MAGIC:
        raise ValueError("not a view cache of this version")
    if zlib.crc32(memoryview(data)[:-4]) != int.from_bytes(data[-4:], "little"):
        raise ValueError("checksum mismatch (torn or damaged)")
    size = int.from_bytes(data[8:16], "little")
    header: dict[str, Any] = json.loads(data[16 : 16 + size])
    if (header["db"], header["name"], header["metric"]) != (names.db, names.name, metric.value):
        raise ValueError(f"it belongs to {header['db']}/{header['name']} ({header['metric']})")
    base, end = 16 + size, len(data) - 4
    count, width = int(header["count"]), int(header["width"])

    def section(name: str, expected: int | None = None) -> memoryview:
        start, length = (int(v) for v in header["sections"][name])
        if (
            start < 0
            or length < 0
            or base + start + length > end
            or (expected is not None and length != expected)
        ):
            raise ValueError(f"section {name!r} does not fit")
        return memoryview(data)[base + start : base + start + length]

    rows = json.loads(bytes(section("rows")))
    homes = json.loads(bytes(section("homes")))
    texts = section("texts")
    ends = np.frombuffer(section("text_ends", 8 * count), dtype="<i8").tolist()
    versions = np.frombuffer(section("versions", 8 * count), dtype="<i8").tolist()
    digests = bytes(section("digests", 16 * count))
    vectors = np.frombuffer(section("vectors", 4 * count * width), dtype="<f4").reshape(count, width)
    if len(rows) != count:
        raise ValueError(f"{len(rows)} rows for {count} records")
    view = View(gen=str(header["state"]["gen"]), vectors=VectorTable(metric))
    for key in _STATE_FIELDS:
        setattr(view, key, header["state"][key])
    view.books = [int(g) for g in view.books]
    view.data_vectors = {str(k): int(v) for k, v in view.data_vectors.items()}
    seq, digest = header["anchor"]
    view.anchor = (int(seq), bytes.fromhex(digest))
    start = 0
    for i, (sid, metadata, group, fingerprint, home) in enumerate(rows):
        text = bytes(texts[start : ends[i]]).decode()
        start = ends[i]
        view.records[sid] = Record(sid, text, None, metadata, group)
        view.fingerprints[sid] = fingerprint
        view.homes[sid] = homes[home]
        view.versions[sid] = versions[i]
        digest_i = digests[16 * i : 16 * i + 16]
        view.digests[sid] = digest_i
        view.by_digest.setdefault(digest_i, set()).add(sid)
    if len(view.records) != count:
        raise ValueError("an id appears twice")
    for sid, version in json.loads(bytes(section("deleted"))):
        view.versions[str(sid)] = int(version)
    view.strays = {sid for sid, home in view.homes.items() if home != view.gen}
    if count:
        view.vectors.put(list(view.records), vectors)
    return view
