"""The view cache: a local file holding a view as of one page, proven to belong to the collection.

A new process that loads it reads only the pages written since, instead of every page. The
file format and why a cache is never trusted unproven are in ``docs/view-cache.md``; in short,
the cached view names its *anchor* (its newest applied page, by the page's length, CRC and
first chunk), and is used only when a book on the server holds that very page.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import logging
import mmap
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFoundError
from ..lite.storage import fsync_directory
from ..lite.stored_rows import MAP_VECTORS, StoredVectors
from ..models import Metric
from .book import head_digest, page_digest
from .cached_texts import LAZY_TEXTS, CachedRecords, CachedTexts
from .deferred import DeferredDict
from .graph import AVAILABLE as GRAPH_AVAILABLE
from .graph import GraphIndex
from .pages import books_plan, read_head_plan, read_stored_plan
from .records import Record
from .vectors import VectorTable
from .view import Names, View

if TYPE_CHECKING:
    from ..client import Plan, Timeout, _BaseClient

__all__ = ["SAVE_AFTER_READ", "ViewCache"]

logger = logging.getLogger(__name__)

MAGIC = b"SCIVIEW\x04"
# version 1: no row keys, no graph; 1 and 2: no text CRCs, the file's CRC covers the texts;
# 1 to 3: the anchor's digest is of the page's whole bytes (4: of what its chunk 0 shows)
_READABLE = (b"SCIVIEW\x01", b"SCIVIEW\x02", b"SCIVIEW\x03", MAGIC)
SAVE_AFTER_READ = 2_000  # a first read that applied this many records saves the cache at once
_MAX_HEADER = 1 << 20
_TEXT_READ = 1 << 20  # bytes of texts read at a time
_VECTOR_READ = 1 << 22  # bytes of vectors read at a time on the way to mapping them
# The sections, in file order (docs/view-cache.md).
_SECTIONS = (
    "ids", "metadata", "groups", "fingerprints", "homes", "deleted",
    "text_sizes", "text_crcs", "texts", "versions", "digests", "vectors",
)  # fmt: skip
_OPTIONAL = ("keys", "graph")  # version 2, after the others: row keys, and the graph when saved
_STATE_FIELDS = (
    "gen", "dimension", "switch_seq", "switches", "checkpoint_seq", "since_checkpoint",
    "applied_upto", "voided", "books", "checkpoint_upto", "book_entries", "data_vectors",
)  # fmt: skip


def _safe_part(text: str) -> str:
    """``text`` for a file name: ``[A-Za-z0-9_-]`` kept, every other character as ``%XX`` per UTF-8 byte."""
    return "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "_-") else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in text
    )


class ViewCache:
    """One collection's cache file in ``directory`` (see the module docstring).

    ::

        cache = ViewCache("./kb/view-cache", Names("default", "notes"), Metric.COSINE)
        cache.write(cache.encode(view))   # encode: None when the view has no anchor, or gaps
        view = cache.load()               # None when absent, torn, damaged or another collection's
    """

    def __init__(self, directory: str | os.PathLike[str], names: Names, metric: Metric) -> None:
        self.names = names
        self.metric = metric
        self.path = Path(directory) / _safe_part(names.db) / f"{_safe_part(names.name)}.{metric.value}.view"
        #: Whether the last file loaded was of an older version (the next save rewrites it).
        self.loaded_outdated = False
        self._whole_page_anchor = False  # the last file loaded names its anchor by all its bytes

    def __repr__(self) -> str:
        return f"ViewCache({str(self.path)!r})"

    # -- saving

    def encode(self, view: View, graph: GraphIndex | None = None) -> list[bytes] | None:
        """The file for ``view`` (with ``graph``, its vector table's graph index brought up to
        date), or None when it could not be proven later: no page with bytes applied yet, or
        pages missing below its newest one. The caller holds the view's lock."""
        if view.anchor is None or view.applied_above:
            return None
        return encode_view(view, self.names, self.metric, graph)

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
        fsync_directory(self.path.parent)

    # -- loading

    def load(self) -> View | None:
        """The cached view, checked whole; None (and a log line) when absent or not usable."""
        try:
            with open(self.path, "rb") as file, _collector_paused():
                view = decode_view(file, self.names, self.metric)
                file.seek(0)
                magic = file.read(len(MAGIC))
                self.loaded_outdated = magic != MAGIC
                self._whole_page_anchor = magic < b"SCIVIEW\x04"
                return view
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("view cache %s cannot be read (%s); reading from the server", self.path, exc)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            logger.warning("view cache %s is not usable (%s); reading from the server", self.path, exc)
        return None

    def restore_plan(self, client: _BaseClient, timeout: Timeout) -> Plan[View | None]:
        """The cached view when a book on the server holds its anchor page, else None: the page's
        chunk 0 proves it (one search); the whole page is read only where that chunk is not
        found, or for a file of version 3 or older, whose anchor names all of the page's bytes."""
        view = self.load()
        if view is None or view.anchor is None:
            return None
        seq, digest = view.anchor
        for generation in (yield from books_plan(client, self.names, timeout)):
            try:
                if not self._whole_page_anchor:
                    head = yield from read_head_plan(client, self.names, generation, seq, timeout)
                    if head is not None:
                        if head_digest(head) == digest:
                            return view
                        continue
                stored, _ = yield from read_stored_plan(
                    client, self.names, generation, [seq], timeout, wide=True
                )
            except NotFoundError:  # dropped since it was listed (a checkpoint moved on)
                continue
            page = stored.get(seq)
            if page is None:
                continue
            if self._whole_page_anchor and hashlib.blake2b(page, digest_size=16).digest() == digest:
                view.anchor = (seq, page_digest(page))  # named as this version names it
                return view
            if page_digest(page) == digest:
                return view
        logger.info(
            "view cache %s does not match collection %r on the server; reading it", self.path, self.names.name
        )
        return None


# -- the format -----------------------------------------------------------------------------------


def encode_view(view: View, names: Names, metric: Metric, graph: GraphIndex | None = None) -> list[bytes]:
    """The file's bytes, in parts (see ``docs/view-cache.md``)."""
    assert view.anchor is not None
    sids = list(view.records)
    records = list(view.records.values())
    homes = sorted(set(view.homes.values()))
    home_index = {home: i for i, home in enumerate(homes)}
    texts = [record.text.encode() for record in records]
    table = view.vectors
    rows = [table.rows[sid] for sid in sids]
    sections = {
        "ids": _json([sids, homes]),
        "metadata": _json([record.metadata for record in records]),
        "groups": _json([record.group for record in records]),
        "fingerprints": "".join(view.fingerprints[sid] for sid in sids).encode("ascii"),
        "homes": np.array([home_index[view.homes[sid]] for sid in sids], dtype="<i4").tobytes(),
        "deleted": _json(
            [[sid, version] for sid, version in view.versions.items() if sid not in view.records]
        ),
        "text_sizes": np.array([len(text) for text in texts], dtype="<i8").tobytes(),
        "text_crcs": np.array([zlib.crc32(text) for text in texts], dtype="<u4").tobytes(),
        "texts": b"".join(texts),
        "versions": np.array([view.versions[sid] for sid in sids], dtype="<i8").tobytes(),
        "digests": b"".join(view.digests[sid] for sid in sids),
        "vectors": np.ascontiguousarray(
            table.rows_of(np.asarray(rows, np.intp)) if sids else np.zeros((0, table.dimension)), dtype="<f4"
        ).tobytes(),
        "keys": np.ascontiguousarray(table.keys[rows], dtype="<i8").tobytes(),
    }
    if graph is not None:
        sections["graph"] = graph.save()
    offsets: dict[str, list[int]] = {}
    at = 0
    for name, blob in sections.items():
        offsets[name] = [at, len(blob)]
        at += len(blob)
    header = _json(
        {
            "db": names.db,
            "name": names.name,
            "metric": metric.value,
            "anchor": [view.anchor[0], view.anchor[1].hex()],
            "state": {key: getattr(view, key) for key in _STATE_FIELDS},
            "count": len(sids),
            "width": table.dimension,
            "next_key": table.next_key,
            "graph_added_below": None if graph is None else graph.added_below,
            "sections": offsets,
        }
    )
    parts = [MAGIC, len(header).to_bytes(8, "little"), header, *sections.values()]
    crc = 0
    for part in parts:
        if part is not sections["texts"]:  # each text has its own CRC (text_crcs)
            crc = zlib.crc32(part, crc)
    return [*parts, crc.to_bytes(4, "little")]


def decode_view(file: io.BufferedReader, names: Names, metric: Metric) -> View:
    """The view a file holds; ValueError naming what is wrong when it is not a whole cache of
    this collection. Each section is read into its own buffer (the vectors straight into the
    array the view keeps), the CRC-32 accumulated on the way."""
    start = file.read(16)
    if len(start) < 16 or start[:8] not in _READABLE:
        raise ValueError("not a view cache of this version")
    version = start[7]
    size = int.from_bytes(start[8:16], "little")
    if size > _MAX_HEADER:
        raise ValueError("header too long")
    raw_header = _read_exactly(file, size)
    crc = zlib.crc32(raw_header, zlib.crc32(start))
    header: dict[str, Any] = json.loads(raw_header)
    if (header["db"], header["name"], header["metric"]) != (names.db, names.name, metric.value):
        raise ValueError(f"it belongs to {header['db']}/{header['name']} ({header['metric']})")
    count, width = int(header["count"]), int(header["width"])
    item = {
        "homes": 4,
        "text_sizes": 8,
        "text_crcs": 4,
        "versions": 8,
        "digests": 16,
        "vectors": 4 * width,
        "keys": 8,
    }
    sections: dict[str, Any] = {}
    at = 0
    names_in_file = [n for n in _SECTIONS if version >= 3 or n != "text_crcs"]
    for name in (*names_in_file, *(n for n in _OPTIONAL if n in header["sections"])):
        offset, length = (int(v) for v in header["sections"][name])
        if offset != at or length < 0 or (name in item and length != item[name] * count):
            raise ValueError(f"section {name!r} does not fit")
        if name == "texts":  # one record at a time: the whole section would be held twice, as bytes and str
            sizes = np.frombuffer(sections["text_sizes"], dtype="<i8").tolist()
            if sum(sizes) != length or min(sizes, default=0) < 0:
                raise ValueError("text sizes do not add up to the texts")
            text_crcs = np.frombuffer(sections["text_crcs"], dtype="<u4") if version >= 3 else None
            if text_crcs is not None and LAZY_TEXTS and isinstance(file.name, str):
                # Left in the file: a record's text is read and checked when it is used.
                sections[name] = CachedTexts(Path(file.name), file.tell(), np.array(sizes), text_crcs)
                file.seek(length, io.SEEK_CUR)
                at += length
                continue
            texts: list[str] = []
            first = 0
            while first < len(sizes):  # about a megabyte of texts at a time
                last, total = first, 0
                while last < len(sizes) and (total < _TEXT_READ or last == first):
                    total += sizes[last]
                    last += 1
                chunk = _read_exactly(file, total)
                view_of = memoryview(chunk)
                if text_crcs is None:
                    crc = zlib.crc32(chunk, crc)
                position = 0
                for index, text_size in enumerate(sizes[first:last], first):
                    text = view_of[position : position + text_size]
                    if text_crcs is not None and zlib.crc32(text) != text_crcs[index]:
                        raise ValueError(f"text {index} does not match its checksum")
                    texts.append(str(text, "utf-8"))
                    position += text_size
                first = last
            sections[name] = texts
        elif name == "vectors" and MAP_VECTORS and count and width and isinstance(file.name, str):
            sections[name], crc = _mapped_vectors(file, count, width, crc)
        elif name == "graph" and MAP_VECTORS and isinstance(file.name, str):
            sections[name], crc = _mapped_section(file, length, crc)
        elif name == "vectors":
            vectors = np.empty((count, width), np.float32)
            buffer = vectors.data.cast("B")
            if file.readinto(buffer) != length:
                raise ValueError("the file ends inside the vectors")
            sections[name] = vectors
            crc = zlib.crc32(buffer, crc)
        else:
            sections[name] = _read_exactly(file, length)
            crc = zlib.crc32(sections[name], crc)
        at += length
    if file.read(4) != crc.to_bytes(4, "little") or file.read(1):
        raise ValueError("checksum mismatch (torn or damaged)")
    sids, homes = json.loads(sections["ids"])
    metadata = json.loads(sections["metadata"])
    groups = json.loads(sections["groups"])
    fingerprints = sections["fingerprints"].decode("ascii")
    home_of = np.frombuffer(sections["homes"], dtype="<i4")
    texts = sections["texts"]
    versions = np.frombuffer(sections["versions"], dtype="<i8")
    digests = sections["digests"]
    vectors = sections["vectors"]
    if not len(sids) == len(metadata) == len(groups) == count or len(fingerprints) % max(count, 1):
        raise ValueError(f"columns of unequal length for {count} records")
    if len(set(sids)) != count:
        raise ValueError("an id appears twice")
    if count and not 0 <= int(home_of.min()) <= int(home_of.max()) < len(homes):
        raise ValueError("a record's data collection is not listed")
    view = View(gen=str(header["state"]["gen"]), vectors=VectorTable(metric))
    for key in _STATE_FIELDS:
        setattr(view, key, header["state"][key])
    view.books = [int(g) for g in view.books]
    view.data_vectors = {str(k): int(v) for k, v in view.data_vectors.items()}
    seq, digest = header["anchor"]
    view.anchor = (int(seq), bytes.fromhex(digest))
    if isinstance(texts, CachedTexts):
        view.records = CachedRecords(sids, metadata, groups, texts)
    else:
        view.records = {
            sid: Record(sid, text, None, meta, group)
            for sid, text, meta, group in zip(sids, texts, metadata, groups, strict=True)
        }
    step = len(fingerprints) // count if count else 0
    deleted = [(str(sid), int(version)) for sid, version in json.loads(sections["deleted"])]
    view.fingerprints = DeferredDict(
        lambda: {sid: fingerprints[i * step : (i + 1) * step] for i, sid in enumerate(sids)}
    )
    view.homes = DeferredDict(lambda: {sid: homes[h] for sid, h in zip(sids, home_of.tolist(), strict=True)})
    view.versions = DeferredDict(lambda: dict(zip(sids, versions.tolist(), strict=True)) | dict(deleted))
    view.digests = DeferredDict(lambda: {sid: digests[16 * i : 16 * i + 16] for i, sid in enumerate(sids)})
    current = homes.index(view.gen) if view.gen in homes else -1
    view.strays = {sids[row] for row in np.flatnonzero(home_of != current).tolist()}
    keys = np.frombuffer(sections["keys"], dtype="<i8") if "keys" in sections else None
    if keys is not None and count > 1 and not np.diff(np.sort(keys)).all():  # a sort: unique() hashes, slower
        raise ValueError("a row key appears twice")
    if isinstance(vectors, tuple):  # mapped, with its reader and the rows' squared norms
        matrix, stored, squares = vectors
        view.vectors.adopt(
            sids, matrix, keys, int(header.get("next_key") or 0), stored=stored, squares=squares
        )
    else:
        view.vectors.adopt(sids, vectors, keys, int(header.get("next_key") or 0))
    if "graph" in sections and GRAPH_AVAILABLE:
        graph = GraphIndex.load(metric, width, sections["graph"], int(header["graph_added_below"]))
        if len(graph) != count:
            raise ValueError(f"the graph index holds {len(graph)} vectors, not {count}")
        view.vectors.graph = graph
    return view


def _mapped_vectors(
    file: io.BufferedReader, count: int, width: int, crc: int
) -> tuple[tuple[np.ndarray, StoredVectors, np.ndarray], int]:
    """The vectors section mapped (copy-on-write) rather than read into memory, with what maps
    cannot give: the CRC and the rows' squared norms, from one pass of reads through a small
    buffer (the page cache keeps the bytes; the process does not)."""
    start = file.tell()
    squares = np.empty(count, np.float32)
    done = 0
    for block in _blocks(file, count * 4 * width, 4 * width):
        crc = zlib.crc32(block, crc)
        rows = np.frombuffer(block, np.float32).reshape(-1, width)
        squares[done : done + len(rows)] = np.einsum("ij,ij->i", rows, rows)
        done += len(rows)
    path = Path(file.name)
    # Read-only: the table never writes these rows (its first write copies them, by ``stored``).
    matrix = np.asarray(np.memmap(path, dtype="<f4", mode="r", offset=start, shape=(count, width)))
    return (matrix, StoredVectors(path, start, count, width), squares), crc


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cycle collection while a load builds its objects: they are hundreds of thousands of
    new containers, none garbage, and each collection would walk them all (it tripled the time
    a 100,000-record load spent building records)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _mapped_section(file: io.BufferedReader, length: int, crc: int) -> tuple[memoryview, int]:
    """The next ``length`` bytes of ``file`` mapped read-only, with the CRC carried over them
    (read through a small buffer, as the vectors are)."""
    start = file.tell()
    for block in _blocks(file, length, 1):
        crc = zlib.crc32(block, crc)
    if not length:
        return memoryview(b""), crc
    aligned = start - start % mmap.ALLOCATIONGRANULARITY
    mapped = mmap.mmap(file.fileno(), start + length - aligned, access=mmap.ACCESS_READ, offset=aligned)
    return memoryview(mapped)[start - aligned :], crc


def _blocks(file: io.BufferedReader, length: int, unit: int) -> Iterator[memoryview]:
    """The next ``length`` bytes of ``file`` in blocks of whole ``unit``s, each read into the same
    buffer of about :data:`_VECTOR_READ` bytes (valid until the next block is asked for)."""
    buffer = bytearray(min(length, max(unit, _VECTOR_READ - _VECTOR_READ % unit)))
    done = 0
    while done < length:
        block = memoryview(buffer)[: min(len(buffer), length - done)]
        if file.readinto(block) != len(block):
            raise ValueError("the file ends inside a section")
        yield block
        done += len(block)


def _read_exactly(file: io.BufferedReader, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise ValueError("the file ends early (torn)")
    return data


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
