"""The asyncio client, :class:`AsyncScintireteClient`: a runner that awaits each planned call."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import grpc
import grpc.aio
import numpy as np

from ..errors import ScintireteError, map_rpc_errors
from ..models import BgSaveResult, CollectionInfo, EmbeddingModels, Metric, SaveResult, SearchHit
from .calls import USE_CLIENT_DEFAULT, Call, Pause, Plan, T, Timeout
from .channels import _ChannelPerLoop
from .config import DEFAULT_ADDRESS
from .plans import _BaseClient
from .validation import VectorsLike


class AsyncScintireteClient(_BaseClient):
    """The asyncio twin of :class:`ScintireteClient` (grpc.aio); same methods, awaited.

    ::

        async with AsyncScintireteClient("localhost:9090", password="secret") as client:
            hits = await client.search("default", "docs", [0.1, 0.2], top_k=3)

    One client works from any event loop, one after another or at once from several
    threads: each loop gets its own channel, made on its first call and closed when the
    loop shuts down (or at :meth:`close`).
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self._channels = _ChannelPerLoop(self._new_channel)

    def _new_channel(self) -> grpc.aio.Channel:
        # Called inside the running event loop the channel will belong to.
        options = self._channel_options()
        compression = self._grpc_compression()
        if self.tls:
            return grpc.aio.secure_channel(self.address, self._credentials(), options, compression)
        return grpc.aio.insecure_channel(self.address, options, compression)

    async def _call(self, call: Call) -> Any:
        return await self._call_until(call, self._deadline(call.timeout))

    async def _call_until(
        self, call: Call, deadline: float | None, failed: ScintireteError | None = None
    ) -> Any:
        """Make ``call`` until it succeeds or the retry policy gives up, all before one ``deadline``."""
        stub = self._in_process.async_stub() if self._in_process is not None else await self._channels.stub()
        method = getattr(stub, call.rpc)
        delays = self.retry.delays()
        while True:
            if failed is not None:
                await asyncio.sleep(self._retry_delay(call.rpc, failed, delays, deadline))
            try:
                with map_rpc_errors(call.rpc):
                    return await method(
                        call.request, timeout=self._attempt_timeout(deadline, call.timeout, self.timeout)
                    )
            except ScintireteError as exc:
                failed = exc

    async def _call_concurrently(self, calls: list[Call]) -> list[Any]:
        """Await every call at once; each result is a response or the error it ended with."""

        async def one(call: Call) -> Any:
            try:
                return await self._call(call)
            except ScintireteError as exc:
                return exc

        return list(await asyncio.gather(*(one(call) for call in calls)))

    async def _run(self, plan: Plan[T]) -> T:
        """Drive ``plan`` with awaited calls."""
        try:
            step = next(plan)
            while True:
                if isinstance(step, list):
                    step = plan.send(await self._call_concurrently(step))
                    continue
                if isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    step = plan.send(None)
                    continue
                try:
                    response = await self._call(step)
                except ScintireteError as exc:
                    step = plan.throw(exc)
                else:
                    step = plan.send(response)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Close the channels of every event loop that used this client.

        Not required: a loop's channel also closes when that loop shuts down (``asyncio.run``).
        The client works again afterwards, on new channels.
        """
        await self._channels.close()

    async def __aenter__(self) -> AsyncScintireteClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def create_database(self, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> None:
        """Create a database; AlreadyExistsError if it exists (see :meth:`ensure_database`)."""
        return await self._run(self._create_database_plan(name, timeout))

    async def drop_database(self, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> int:
        """Drop a database and its collections; returns how many collections were dropped."""
        return await self._run(self._drop_database_plan(name, timeout))

    async def list_databases(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> list[str]:
        """Names of all databases."""
        return await self._run(self._list_databases_plan(timeout))

    async def ensure_database(self, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> bool:
        """Create the database unless it exists; True when it was created now."""
        return await self._run(self._ensure_database_plan(name, timeout))

    async def create_collection(
        self,
        db: str,
        name: str,
        metric: Metric | str = Metric.COSINE,
        *,
        m: int | None = None,
        ef_construction: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> CollectionInfo:
        """Create a collection (``metric``: "l2", "cosine" or "inner_product"); its dimension is set by the first insert."""
        return await self._run(self._create_collection_plan(db, name, metric, m, ef_construction, timeout))

    async def ensure_collection(
        self,
        db: str,
        name: str,
        metric: Metric | str = Metric.COSINE,
        *,
        m: int | None = None,
        ef_construction: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> CollectionInfo:
        """Create the database and collection unless they exist; an existing one must have ``metric``."""
        return await self._run(self._ensure_collection_plan(db, name, metric, m, ef_construction, timeout))

    async def drop_collection(self, db: str, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> int:
        """Drop a collection; returns how many live vectors it held."""
        return await self._run(self._drop_collection_plan(db, name, timeout))

    async def get_collection_info(
        self, db: str, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> CollectionInfo:
        """Dimension, live and deleted counts, metric and HNSW settings of a collection."""
        return await self._run(self._get_collection_info_plan(db, name, timeout))

    async def list_collections(
        self, db: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[CollectionInfo]:
        """Every collection of a database."""
        return await self._run(self._list_collections_plan(db, timeout))

    async def insert_vectors(
        self,
        db: str,
        name: str,
        vectors: VectorsLike,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> list[int]:
        """Insert vectors with optional metadata; see :meth:`ScintireteClient.insert_vectors`."""
        return await self._run(self._insert_vectors_plan(db, name, vectors, metadata, timeout))

    async def delete_vectors(
        self, db: str, name: str, ids: Sequence[int], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> int:
        """Soft-delete vectors by server id; returns how many were live. Unknown ids are skipped."""
        return await self._run(self._delete_vectors_plan(db, name, ids, timeout))

    async def search(
        self,
        db: str,
        name: str,
        vector: Sequence[float] | np.ndarray,
        top_k: int = 10,
        *,
        ef_search: int | None = None,
        include_vector: bool = False,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> list[SearchHit]:
        """Nearest neighbours of ``vector``; see :meth:`ScintireteClient.search`."""
        return await self._run(self._search_plan(db, name, vector, top_k, ef_search, include_vector, timeout))

    async def embed_and_insert(
        self,
        db: str,
        name: str,
        texts: Sequence[str],
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        model: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> list[int]:
        """Let the server embed ``texts`` and insert them; returns the new ids in input order."""
        return await self._run(self._embed_and_insert_plan(db, name, texts, metadata, model, timeout))

    async def embed_and_search(
        self,
        db: str,
        name: str,
        text: str,
        top_k: int = 10,
        *,
        model: str | None = None,
        ef_search: int | None = None,
        include_vector: bool = False,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> list[SearchHit]:
        """Let the server embed ``text`` and search with it."""
        return await self._run(
            self._embed_and_search_plan(db, name, text, top_k, model, ef_search, include_vector, timeout)
        )

    async def embed_text(
        self, texts: Sequence[str], *, model: str | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[list[float]]:
        """Embeddings of ``texts`` from the server's embedding model, in input order."""
        return await self._run(self._embed_text_plan(texts, model, timeout))

    async def list_embedding_models(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> EmbeddingModels:
        """The embedding models configured on the server and its default."""
        return await self._run(self._list_embedding_models_plan(timeout))

    async def save(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> SaveResult:
        """Write a snapshot now and wait for it."""
        return await self._run(self._save_plan(timeout))

    async def bg_save(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> BgSaveResult:
        """Start a snapshot in the background; returns its job id at once."""
        return await self._run(self._bg_save_plan(timeout))

    async def ping(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> float:
        """Round-trip one cheap authenticated call; returns its latency in seconds or raises."""
        return await self._run(self._ping_plan(timeout))
