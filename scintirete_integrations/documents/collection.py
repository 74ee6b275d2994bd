"""The blocking facade over one document collection (its asyncio twin is in :mod:`.aio`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client import AsyncScintireteClient, ScintireteClient
from ..filters import Filter
from . import hybrid, maintenance, search, writes
from .facade import Facade, connected, refuse_empty
from .hybrid import Fusion
from .records import Record, ScoredRecord

if TYPE_CHECKING:
    from .aio import AsyncDocumentCollection

__all__ = ["DocumentCollection"]


class DocumentCollection(Facade):
    """Documents with string ids in one Scintirete collection (blocking calls).

    ::

        docs = DocumentCollection("notes", ScintireteClient("localhost:9090", password="pw"))
        docs.upsert([Record("n1", "hello", [0.1, 0.2], {"lang": "en"})])
        docs.search([0.1, 0.2], k=1, filter={"lang": "en"})[0].record.id  # 'n1'
    """

    _client: ScintireteClient

    @property
    def client(self) -> ScintireteClient:
        """The blocking client; ClosedError once the store this collection belongs to is closed."""
        self._check_open()
        return self._client

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
        client, _, options = connected(address, password, data_dir, options)
        return cls(name, client, **options)

    def async_twin(self, client: AsyncScintireteClient) -> AsyncDocumentCollection:
        """An async facade over the same collection sharing this one's view (no second cache)."""
        from .aio import AsyncDocumentCollection  # it imports this module

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
        return self.client._run(writes.upsert_plan(self._core, self.client, records, self.timeout))

    def upsert_texts(
        self, records: Iterable[Record], *, model: str | None = None, batch_size: int = 64
    ) -> list[str]:
        """Upsert records embedded by the server's embedding model (EmbedText)."""
        return self.client._run(
            writes.upsert_texts_plan(self._core, self.client, records, model, batch_size, self.timeout)
        )

    def get(self, ids: Iterable[str]) -> list[Record]:
        """Records for ``ids`` that exist, in the order asked."""
        return self.client._run(self._core.get_plan(self.client, ids, self.timeout))

    def delete(self, ids: Iterable[str]) -> int:
        """Delete records by id; returns how many existed. Unknown ids are ignored."""
        return self.client._run(writes.delete_plan(self._core, self.client, ids, self.timeout))

    def delete_where(self, filter: Filter) -> int:
        """Delete every record whose metadata passes ``filter``; returns how many.

        A filter with no condition (``{}``) is refused: :meth:`clear` deletes everything.
        """
        refuse_empty(filter)
        return self.client._run(writes.delete_where_plan(self._core, self.client, filter, None, self.timeout))

    def delete_group(self, group: str) -> int:
        """Delete every record of ``group`` (e.g. all chunks of one source document)."""
        return self.client._run(writes.delete_where_plan(self._core, self.client, None, group, self.timeout))

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
            search.search_plan(
                self._core, self.client, vector, k, filter, ids, include_vector, ef_search, self.timeout
            )
        )

    def search_text(
        self, text: str, k: int = 4, *, filter: Filter | None = None, model: str | None = None
    ) -> list[ScoredRecord]:
        """Search with the server's embedding of ``text``."""
        return self.client._run(
            search.search_text_plan(self._core, self.client, text, k, filter, model, self.timeout)
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
            search.mmr_plan(
                self._core, self.client, vector, k, fetch_k, lambda_mult, filter, self.timeout, ids
            )
        )

    def search_keywords(
        self,
        query: str,
        k: int = 4,
        *,
        filter: Filter | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[ScoredRecord]:
        """The ``k`` records best matching ``query`` by BM25, among those passing ``filter`` (and ``ids``).

        Only records holding a query term come back. ``score`` is ``bm25 / max_score(query)`` in
        [0, 1), higher is better, and ``distance`` is ``1 - score``. Nothing is embedded::

            docs.search_keywords("ERR_4031", k=5, filter={"lang": "en"})
        """
        return self.client._run(
            hybrid.keyword_search_plan(self._core, self.client, query, k, filter, ids, self.timeout)
        )

    def search_hybrid(
        self,
        query: str,
        vector: Sequence[float] | np.ndarray,
        k: int = 4,
        *,
        filter: Filter | None = None,
        ids: Iterable[str] | None = None,
        fusion: Fusion = "relative",
        alpha: float = 0.5,
        dense_k: int | None = None,
        keyword_k: int | None = None,
        score_threshold: float | None = None,
        dense_relevance: Callable[[float], float] | None = None,
        include_vector: bool = False,
    ) -> list[ScoredRecord]:
        """Dense search by ``vector`` and BM25 search by ``query``, fused; the best ``k`` first.

        Each list takes ``dense_k`` / ``keyword_k`` records (default ``max(k, 50)``).
        ``fusion="relative"``: ``alpha * dense + (1 - alpha) * keyword`` of min-max normalised
        scores; ``"rrf"``: reciprocal rank fusion weighted ``alpha`` / ``1 - alpha``, scaled so a
        record ranked first everywhere scores 1. ``alpha=1`` is dense only, ``0`` keyword only.
        ``score`` is that fused value in [0, 1] (it orders this query's results; it is not a
        similarity) and ``distance`` is ``1 - score``. ``score_threshold`` drops records below it
        from each list before fusing (dense hits by ``dense_relevance(distance)``, default the
        layer's relevance score; keyword hits by their keyword relevance)::

            docs.search_hybrid("ERR_4031 disk full", embed("ERR_4031 disk full"), k=5, alpha=0.3)
        """
        return self.client._run(
            hybrid.hybrid_search_plan(
                self._core,
                self.client,
                query,
                vector,
                k,
                filter,
                ids,
                fusion,
                alpha,
                dense_k,
                keyword_k,
                score_threshold,
                dense_relevance,
                include_vector,
                self.timeout,
            )
        )

    def compact(self) -> bool:
        """Rebuild the collection without hidden versions; False if another writer interfered."""
        return self.client._run(maintenance.compact_plan(self._core, self.client, self.timeout))

    def save(self) -> None:
        """Ask the server for a snapshot. On a real server, metadata survives a restart only through one."""
        self.client.save(timeout=self.timeout)
