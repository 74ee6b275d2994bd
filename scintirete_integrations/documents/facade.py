"""What both facades over one document collection share: construction, names, closing.

:class:`~.collection.DocumentCollection` and :class:`~.aio.AsyncDocumentCollection` only drive
the plans of :mod:`.core`, :mod:`.writes`, :mod:`.search` and :mod:`.maintenance`; they differ
by ``await`` alone.
"""

from __future__ import annotations

import os
from typing import Any

from ..client import USE_CLIENT_DEFAULT, AsyncScintireteClient, ScintireteClient, Timeout
from ..errors import ClosedError, InvalidArgumentError
from ..filters import Filter, matches_everything
from ..models import HnswConfig, Metric
from .connect import ViewCacheOption, resolve_clients, view_cache_dir
from .core import APPROXIMATE_SEARCH_FROM, EXACT_SEARCH_LIMIT, CollectionCore

__all__ = ["Facade", "connected", "refuse_empty"]


def refuse_empty(filter: Filter) -> None:
    """InvalidArgumentError when ``filter`` places no condition (delete_where would delete all)."""
    if matches_everything(filter):
        raise InvalidArgumentError(
            f"delete_where({filter!r}) would delete every record: the filter places no condition. "
            "To delete every record call clear()"
        )


def connected(
    address: str | None,
    password: str | None,
    data_dir: str | os.PathLike[str] | None,
    options: dict[str, Any],
) -> tuple[ScintireteClient, AsyncScintireteClient, dict[str, Any]]:
    """What ``connect`` of either facade opens: both clients, and ``options`` with the view cache
    placed (``<data_dir>/view-cache`` for a data directory unless ``view_cache`` says otherwise)."""
    sync, aio = resolve_clients(address=address, password=password, data_dir=data_dir)
    return sync, aio, {**options, "view_cache": view_cache_dir(data_dir, options.get("view_cache"))}


class Facade:
    """The state and checks :class:`~.collection.DocumentCollection` and its asyncio twin share."""

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
        exact_search_limit: int = EXACT_SEARCH_LIMIT,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        view_cache: ViewCacheOption = None,
        approximate_search_from: int | None = APPROXIMATE_SEARCH_FROM,
        core: CollectionCore | None = None,
    ) -> None:
        self._client = client
        self._closed_by: str | None = None  # set when the store owning this facade is closed
        self.timeout = timeout
        self._core = core or CollectionCore(
            name,
            db=db,
            metric=metric,
            hnsw=HnswConfig(m or 0, ef_construction or 0),
            auto_compact=auto_compact,
            compact_min_hidden=compact_min_hidden,
            exact_search_limit=exact_search_limit,
            view_cache=view_cache_dir(None, view_cache),
            approximate_search_from=approximate_search_from,
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

    @property
    def closed(self) -> bool:
        """True once the store this collection belongs to was closed; every call then raises."""
        return self._closed_by is not None

    def _close_for(self, owner: str) -> None:
        """Refuse every later call with ClosedError naming ``owner`` and keep the view in its cache
        (if it has one) for the next process; the client itself stays open."""
        if self._closed_by is None:
            self._core.save_view_cache(final=True)
            self._core.stop_graph()
        self._closed_by = owner

    def _check_open(self) -> None:
        if self._closed_by is not None:
            raise ClosedError(
                f"{self._closed_by} is closed (close() was called, or its with block ended); "
                "make a new store to go on"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, db={self.db!r}, metric={self.metric.value!r})"
