"""Texts of a view loaded from its cache file, read from the file when a record's text is asked for.

Texts are most of a view's bytes and a store returns few of them, so a view cache of version 3
(``docs/view-cache.md``) leaves them in the file: :class:`CachedTexts` reads one with
``pread`` and checks it against its CRC, and :class:`CachedRecord` is a :class:`Record`
whose ``text`` comes from there.
"""

from __future__ import annotations

import os
import weakref
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InternalError
from .records import Record

__all__ = ["LAZY_TEXTS", "CachedRecord", "CachedTexts"]

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
