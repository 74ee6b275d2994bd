"""A dict built the first time it is used: what a view loaded from its cache keeps per record
but a search never reads (fingerprints, digests, homes, versions)."""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, KeysView, MutableMapping, ValuesView
from typing import TypeVar

__all__ = ["DeferredDict"]

K = TypeVar("K")
V = TypeVar("V")


class DeferredDict(MutableMapping[K, V]):
    """A dict that ``build`` makes on first use, and a dict in every way after that.

    A process that only searches never builds it: at 100,000 records each of these columns is
    about 25 ms and 10 MB of a load.

    >>> versions = DeferredDict(lambda: {"a": 3})
    >>> versions.built, versions["a"], versions.built
    (False, 3, True)
    """

    def __init__(self, build: Callable[[], dict[K, V]]) -> None:
        self._build: Callable[[], dict[K, V]] | None = build
        self._held: dict[K, V] = {}

    @property
    def built(self) -> bool:
        """Whether the dict was made (by any use)."""
        return self._build is None

    def _dict(self) -> dict[K, V]:
        if self._build is not None:
            self._held, self._build = self._build(), None
        return self._held

    def __getitem__(self, key: K) -> V:
        return self._dict()[key]

    def __setitem__(self, key: K, value: V) -> None:
        self._dict()[key] = value

    def __delitem__(self, key: K) -> None:
        del self._dict()[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __contains__(self, key: object) -> bool:
        return key in self._dict()

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        return self._dict().get(key, default)

    def keys(self) -> KeysView[K]:
        return self._dict().keys()

    def items(self) -> ItemsView[K, V]:
        return self._dict().items()

    def values(self) -> ValuesView[V]:
        return self._dict().values()

    def __eq__(self, other: object) -> bool:
        return self._dict() == (other._dict() if isinstance(other, DeferredDict) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._dict()) if self.built else "DeferredDict(<not built>)"
