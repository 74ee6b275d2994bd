"""The writing layer of the LangChain store: adding texts, vectors and documents, and deleting them.

:class:`Writes` adds these to :class:`~.reads.Reads`; :class:`~.store.ScintireteVectorStore` is
the one class built on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document

from .._progress import Progress, ProgressArg
from ..documents import Record
from ..errors import explain_embedding_failure
from ._records import (
    DEFAULT_BATCH_SIZE,
    DocumentFilter,
    batches,
    changed,
    check_batch_size,
    delete_filter,
    documents_input,
    make_records,
    reject_extra,
    select_ids,
    vector_list,
    with_vectors,
)
from .embeddings import PASS_EMBEDDINGS
from .reads import Reads

# The adapter's logger keeps the package's name, which the README documents.
_log = logging.getLogger("scintirete_integrations.langchain")


class Writes(Reads):
    """The write methods of :class:`~.store.ScintireteVectorStore`, sync and async."""

    # -- writing

    def _store_texts(self, records: list[Record], batch_size: int, report: Progress) -> None:
        for batch in batches(records, batch_size):
            # Resuming an interrupted ingest: what is stored unchanged is not embedded again.
            todo = changed(batch, self._collection.get([record.id for record in batch]))
            if todo and self._server_embeds:
                with explain_embedding_failure(PASS_EMBEDDINGS):
                    self._collection.upsert_texts(todo, model=self._embedding_model, batch_size=batch_size)
            elif todo:
                vectors = self._embeddings.embed_documents([record.text for record in todo])
                self._collection.upsert(with_vectors(todo, vectors))
            report.advance(len(batch), skipped=len(batch) - len(todo))

    async def _astore_texts(self, records: list[Record], batch_size: int, report: Progress) -> None:
        for batch in batches(records, batch_size):
            todo = changed(batch, await self._async_collection.get([record.id for record in batch]))
            if todo and self._server_embeds:
                with explain_embedding_failure(PASS_EMBEDDINGS):
                    await self._async_collection.upsert_texts(
                        todo, model=self._embedding_model, batch_size=batch_size
                    )
            elif todo:
                vectors = await self._embeddings.aembed_documents([record.text for record in todo])
                await self._async_collection.upsert(with_vectors(todo, vectors))
            report.advance(len(batch), skipped=len(batch) - len(todo))

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        ids: Iterable[str | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store ``texts``; returns their ids (the given ones, or generated uuid4 strings).

        ``batch_size`` texts are embedded and written per round trip. Inputs are checked as a whole
        first; a failure while writing (e.g. the server or the embedding model failing) leaves the
        batches before it stored, and calling again with the same ids finishes the job: texts
        whose id, text and metadata are already stored unchanged are not sent to the embedding
        model again. ``progress=True`` keeps a status line on stderr; a callable gets
        ``(done, total)`` after each batch; each batch is also logged at INFO.
        """
        reject_extra("add_texts", kwargs, "metadatas, ids, batch_size, progress")
        batch_size = check_batch_size(batch_size)
        records = make_records(texts, metadatas, ids, batch_size)
        self._store_texts(records, batch_size, Progress(len(records), progress, _log, "add_texts"))
        return [record.id for record in records]

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        ids: Iterable[str | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts`."""
        reject_extra("aadd_texts", kwargs, "metadatas, ids, batch_size, progress")
        batch_size = check_batch_size(batch_size)
        records = make_records(texts, metadatas, ids, batch_size)
        await self._astore_texts(records, batch_size, Progress(len(records), progress, _log, "aadd_texts"))
        return [record.id for record in records]

    def add_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Iterable[Sequence[float]],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        ids: Iterable[str | None] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Store ``texts`` with vectors computed elsewhere (one per text); no embedding model is called.

        Ids, metadata, batching and ``progress`` work as in :meth:`add_texts`::

            store.add_embeddings(["a cat"], [[0.1, 0.9, 0.0]], metadatas=[{"year": 2024}], ids=["c1"])
        """
        reject_extra("add_embeddings", kwargs, "metadatas, ids, batch_size, progress")
        batch_size = check_batch_size(batch_size)
        records = make_records(texts, metadatas, ids, batch_size)
        vectors = vector_list(embeddings, len(records))
        report = Progress(len(records), progress, _log, "add_embeddings")
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            self._collection.upsert(with_vectors(batch, vectors[start : start + batch_size]))
            report.advance(len(batch))
        return [record.id for record in records]

    async def aadd_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Iterable[Sequence[float]],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        ids: Iterable[str | None] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_embeddings`."""
        reject_extra("aadd_embeddings", kwargs, "metadatas, ids, batch_size, progress")
        batch_size = check_batch_size(batch_size)
        records = make_records(texts, metadatas, ids, batch_size)
        vectors = vector_list(embeddings, len(records))
        report = Progress(len(records), progress, _log, "aadd_embeddings")
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            await self._async_collection.upsert(with_vectors(batch, vectors[start : start + batch_size]))
            report.advance(len(batch))
        return [record.id for record in records]

    def add_documents(
        self,
        documents: Iterable[Document],
        *,
        ids: Sequence[str | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Store documents, keeping ``Document.id`` (``ids=`` overrides it); Documents are not modified."""
        reject_extra("add_documents", kwargs, "ids, batch_size, progress")
        texts, metadatas, doc_ids = documents_input(documents, ids)
        return self.add_texts(texts, metadatas, ids=doc_ids, batch_size=batch_size, progress=progress)

    async def aadd_documents(
        self,
        documents: Iterable[Document],
        *,
        ids: Sequence[str | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: ProgressArg = False,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_documents`."""
        reject_extra("aadd_documents", kwargs, "ids, batch_size, progress")
        texts, metadatas, doc_ids = documents_input(documents, ids)
        return await self.aadd_texts(texts, metadatas, ids=doc_ids, batch_size=batch_size, progress=progress)

    def delete(
        self, ids: Sequence[str] | None = None, *, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> bool:
        """Delete documents by id, or those matching ``filter``; unknown ids are ignored. Returns True.

        With neither ``ids`` nor ``filter``, every document is deleted (the collection stays), as
        LangChain's ``VectorStore.delete`` specifies for ``ids=None``. A filter that places no
        condition (``filter={}``) is refused rather than deleting everything::

            store.delete(["a", "b"])
            store.delete(filter={"lang": "fr"})
            store.delete()                      # every document, explicitly
        """
        reject_extra("delete", kwargs, "ids, filter")
        where, predicate = delete_filter(ids, filter)
        if predicate is not None:
            self._collection.delete(select_ids(self._collection.scan(), predicate))
        elif where is not None:
            self._collection.delete_where(where)
        elif ids is None:
            self._collection.clear()
        else:
            self._collection.delete(ids)
        return True

    async def adelete(
        self, ids: Sequence[str] | None = None, *, filter: DocumentFilter | None = None, **kwargs: Any
    ) -> bool:
        """Async :meth:`delete`."""
        reject_extra("adelete", kwargs, "ids, filter")
        where, predicate = delete_filter(ids, filter)
        if predicate is not None:
            await self._async_collection.delete(select_ids(await self._async_collection.scan(), predicate))
        elif where is not None:
            await self._async_collection.delete_where(where)
        elif ids is None:
            await self._async_collection.clear()
        else:
            await self._async_collection.delete(ids)
        return True

    def delete_collection(self) -> bool:
        """Drop the whole collection from the server; False when it did not exist."""
        return self._collection.drop()

    async def adelete_collection(self) -> bool:
        """Async :meth:`delete_collection`."""
        return await self._async_collection.drop()
