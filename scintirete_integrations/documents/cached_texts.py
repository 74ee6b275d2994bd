"""Records of a view loaded from its cache file, each made when it is first used, with its
text read from the file when that is asked for.

Texts are most of a view's bytes and a store returns few of them, so a view cache of version 3
or later (``docs/view-cache.md``) leaves them in the file: :class:`CachedTexts` reads one with
``pread`` and checks it against its CRC, and :class:`CachedRecord` is a :class:`Record`
whose ``text`` comes from there. :class:`CachedRecords` holds the view's records without
making an object per record at load: a search touches a handful.
"""

from __future__ import annotations

import os
import weakref
import zlib
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InternalError
from .records import Record

__all__ = ["LAZY_TEXTS", "CachedRecord", "CachedRecords", "CachedTexts", "record_labels"]

#: Windows cannot rename a new cache over a file that is open: read the texts at load there.
LAZY_TEXTS = os.name != "nt"


class CachedTexts:
    """The ``texts`` section of a cache file: text ``i`` is ``sizes[i]`` bytes with CRC ``crcs[i]``."""

    def __init__(self, path: Path, start: int, sizes: np.ndarray, crcs: np.ndarray) -> None:
        self.path = path
        self._sizes = sizes.astype(np.int64)
        self._offsets = start + np.cumsum(self._sizes) - self._sizes
        self._crcs = crcs.astype(np.uint32)
        self._fd = os.open(path, os.O_RDONLY)
        # Not at interpreter exit: a store's exit save still reads the texts then.
        weakref.finalize(self, os.close, self._fd).atexit = False

    def text(self, index: int, sid: str) -> str:
        """Text ``index`` (of record ``sid``), checked; InternalError when the file no longer holds it."""
        size = int(self._sizes[index])
        data = os.pread(self._fd, size, int(self._offsets[index]))
        if len(data) != size or zlib.crc32(data) != int(self._crcs[index]):
            raise InternalError(
                f"view cache {self.path} is damaged: the text of record {sid!r} does not match its "
                "checksum; delete the file and open the store again (it then reads the collection "
                "from the server)"
            )
        return data.decode("utf-8")


class CachedRecord(Record):
    """A :class:`Record` of a view loaded from its cache; ``text`` is read from the file on use.

    Equal to the same record built any other way, and pickled as a plain ``Record``.
    """

    _texts: CachedTexts
    _index: int

    @classmethod
    def of(
        cls, sid: str, metadata: Mapping[str, Any], group: str | None, texts: CachedTexts, index: int
    ) -> CachedRecord:
        record = object.__new__(cls)
        # One dict for all fields: a frozen dataclass refuses setattr, and a load builds 100,000s.
        # ``vector`` and a None ``group`` are left to Record's class defaults: five keys or fewer
        # keep each record's dict in the smallest size Python has.
        fields = {"id": sid, "metadata": metadata, "_texts": texts, "_index": index}
        if group is not None:
            fields["group"] = group
        object.__setattr__(record, "__dict__", fields)
        return record

    @property
    def text(self) -> str:
        held = self.__dict__.get("_text")
        return held if held is not None else self._texts.text(self._index, self.id)

    @text.setter
    def text(self, value: str) -> None:
        # dataclasses.replace() builds a new record through Record.__init__, which sets text.
        self.__dict__["_text"] = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        mine = (self.id, self.text, self.metadata, self.group)
        return mine == (other.id, other.text, other.metadata, other.group)

    __hash__ = Record.__hash__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Record, (self.id, self.text, self.vector, self.metadata, self.group))


_GONE = Record("")  # the place of a loaded record deleted since


class CachedRecords(MutableMapping[str, Record]):
    """A view's records as its cache file held them (each a :class:`CachedRecord`, made on first
    use), and the records set since. A dict in every way that shows, order included: the loaded
    records (less those deleted) in file order, then those added since in the order they came;
    a loaded record set again keeps its place, as a dict's key would.

    >>> records = CachedRecords(["a", "b"], [{"n": 1}, {}], [None, "g"], texts)  # doctest: +SKIP
    >>> records["a"].metadata  # doctest: +SKIP
    {'n': 1}
    """

    def __init__(
        self, sids: list[str], metadata: list[Any], groups: list[str | None], texts: CachedTexts
    ) -> None:
        self._sids, self._metadata, self._groups, self._texts = sids, metadata, groups, texts
        self._row = dict(zip(sids, range(len(sids)), strict=True))
        self._made: list[Record | None] = [None] * len(sids)
        self._added: dict[str, Record] = {}

    def __len__(self) -> int:
        return len(self._row) + len(self._added)

    def __contains__(self, sid: object) -> bool:
        return sid in self._row or sid in self._added

    def __getitem__(self, sid: str) -> Record:
        added = self._added.get(sid)
        return added if added is not None else self._loaded(self._row[sid])

    def __setitem__(self, sid: str, record: Record) -> None:
        row = self._row.get(sid)
        if row is None:
            self._added[sid] = record
        else:
            self._made[row] = record

    def __delitem__(self, sid: str) -> None:
        if self._added.pop(sid, None) is None:
            self._made[self._row.pop(sid)] = _GONE

    def __iter__(self) -> Iterator[str]:
        made = self._made
        yield from (sid for row, sid in enumerate(self._sids) if made[row] is not _GONE)
        yield from self._added

    def items(self) -> Iterator[tuple[str, Record]]:  # type: ignore[override]
        made = self._made
        for row, sid in enumerate(self._sids):
            if made[row] is not _GONE:
                yield sid, self._loaded(row)
        yield from self._added.items()

    def values(self) -> Iterator[Record]:  # type: ignore[override]
        return (record for _, record in self.items())

    def labels(self) -> Iterator[tuple[str, Mapping[str, Any], str | None]]:
        """:func:`record_labels`: the columns as loaded, and the records made or set since."""
        for row, sid in enumerate(self._sids):
            made = self._made[row]
            if made is None:
                yield sid, self._metadata[row], self._groups[row]
            elif made is not _GONE:
                yield sid, made.metadata, made.group
        for sid, record in self._added.items():
            yield sid, record.metadata, record.group

    def __repr__(self) -> str:
        return f"CachedRecords({len(self)} records)"

    def _loaded(self, row: int) -> Record:
        record = self._made[row]
        if record is None:
            sid = self._sids[row]
            record = CachedRecord.of(sid, self._metadata[row], self._groups[row], self._texts, row)
            self._made[row] = record
        return record


def record_labels(records: Mapping[str, Record]) -> Iterator[tuple[str, Mapping[str, Any], str | None]]:
    """``(id, metadata, group)`` of every record, in order: what a filter reads. Records loaded
    from a cache are not made for it (a filter over 1,000,000 of them would make them all)."""
    if isinstance(records, CachedRecords):
        return records.labels()
    return ((sid, record.metadata, record.group) for sid, record in records.items())
