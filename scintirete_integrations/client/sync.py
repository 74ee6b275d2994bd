"""The blocking client, :class:`ScintireteClient`: one grpc channel and a runner that makes planned calls."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import grpc
import numpy as np

from ..errors import ScintireteError, map_rpc_errors
from ..models import BgSaveResult, CollectionInfo, EmbeddingModels, Metric, SaveResult, SearchHit
from .calls import USE_CLIENT_DEFAULT, Call, Pause, Plan, T, Timeout
from .config import DEFAULT_ADDRESS
from .plans import _BaseClient
from .validation import VectorsLike

from .._proto.scintirete.v1 import scintirete_pb2_grpc as pb_grpc  # isort: skip


class ScintireteClient(_BaseClient):
    """Blocking client. One long-lived channel, opened lazily on the first call.

    ::

        with ScintireteClient("localhost:9090", password="secret", timeout=5.0) as client:
            client.ping()
            client.ensure_collection("default", "docs", metric="l2")

    Every method takes ``timeout=`` (seconds, or None for no deadline) to override the
    client's default for one call; the timeout bounds each request with its retries (an
    insert or delete split into several requests gives each one the whole timeout).
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self._channel: grpc.Channel | None = None
        self._stub: pb_grpc.ScintireteServiceStub | None = None

    def _get_stub(self) -> pb_grpc.ScintireteServiceStub:
        if self._in_process is not None:
            return self._in_process.stub()
        if self._stub is None:
            options = self._channel_options()
            compression = self._grpc_compression()
            if self.tls:
                self._channel = grpc.secure_channel(self.address, self._credentials(), options, compression)
            else:
                self._channel = grpc.insecure_channel(self.address, options, compression)
            self._stub = pb_grpc.ScintireteServiceStub(self._channel)
        return self._stub

    def _call(self, call: Call) -> Any:
        return self._call_until(call, self._deadline(call.timeout))

    def _call_until(self, call: Call, deadline: float | None, failed: ScintireteError | None = None) -> Any:
        """Make ``call`` until it succeeds or the retry policy gives up, all before one ``deadline``.

        ``failed``: the error a first attempt made elsewhere ended with; it counts as an attempt.
        """
        method = getattr(self._get_stub(), call.rpc)
        delays = self.retry.delays()
        while True:
            if failed is not None:
                time.sleep(self._retry_delay(call.rpc, failed, delays, deadline))
            try:
                with map_rpc_errors(call.rpc):
                    return method(
                        call.request, timeout=self._attempt_timeout(deadline, call.timeout, self.timeout)
                    )
            except ScintireteError as exc:
                failed = exc

    def _call_concurrently(self, calls: list[Call]) -> list[Any]:
        """Start every call at once; each result is a response or the error it ended with.

        A call that fails is retried in turn, within the deadline its first attempt had.
        """
        stub = self._get_stub()
        deadlines = [self._deadline(call.timeout) for call in calls]
        started = [
            getattr(stub, call.rpc).future(
                call.request, timeout=self._attempt_timeout(deadline, call.timeout, self.timeout)
            )
            for call, deadline in zip(calls, deadlines, strict=True)
        ]
        results: list[Any] = []
        for call, deadline, future in zip(calls, deadlines, started, strict=True):
            try:
                with map_rpc_errors(call.rpc):
                    results.append(future.result())
            except ScintireteError as exc:
                try:
                    results.append(self._call_until(call, deadline, exc))
                except ScintireteError as final:
                    results.append(final)
        return results

    def _run(self, plan: Plan[T]) -> T:
        """Drive ``plan``: make each call it yields and send back the response (or throw the error)."""
        try:
            step = next(plan)
            while True:
                if isinstance(step, list):
                    step = plan.send(self._call_concurrently(step))
                    continue
                if isinstance(step, Pause):
                    time.sleep(step.seconds)
                    step = plan.send(None)
                    continue
                try:
                    response = self._call(step)
                except ScintireteError as exc:
                    step = plan.throw(exc)
                else:
                    step = plan.send(response)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the channel. The client must not be used afterwards."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._stub = None

    def __enter__(self) -> ScintireteClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- databases

    def create_database(self, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> None:
        """Create a database; AlreadyExistsError if it exists (see :meth:`ensure_database`)."""
        return self._run(self._create_database_plan(name, timeout))

    def drop_database(self, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> int:
        """Drop a database and its collections; returns how many collections were dropped."""
        return self._run(self._drop_database_plan(name, timeout))

    def list_databases(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> list[str]:
        """Names of all databases."""
        return self._run(self._list_databases_plan(timeout))

    def ensure_database(self, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> bool:
        """Create the database unless it exists; True when it was created now."""
        return self._run(self._ensure_database_plan(name, timeout))

    # -- collections

    def create_collection(
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
        return self._run(self._create_collection_plan(db, name, metric, m, ef_construction, timeout))

    def ensure_collection(
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
        return self._run(self._ensure_collection_plan(db, name, metric, m, ef_construction, timeout))

    def drop_collection(self, db: str, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> int:
        """Drop a collection; returns how many live vectors it held."""
        return self._run(self._drop_collection_plan(db, name, timeout))

    def get_collection_info(
        self, db: str, name: str, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> CollectionInfo:
        """Dimension, live and deleted counts, metric and HNSW settings of a collection."""
        return self._run(self._get_collection_info_plan(db, name, timeout))

    def list_collections(self, db: str, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> list[CollectionInfo]:
        """Every collection of a database."""
        return self._run(self._list_collections_plan(db, timeout))

    # -- vectors

    def insert_vectors(
        self,
        db: str,
        name: str,
        vectors: VectorsLike,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> list[int]:
        """Insert vectors (a list of lists or a 2-D numpy array) with optional JSON metadata.

        Returns the server-assigned ids in input order. Large inputs are split into
        requests under ``max_message_bytes`` (3.5 MiB: a default server refuses over 4 MiB)
        of at most ``insert_batch_size`` vectors (500); ``timeout`` applies to each request,
        since a real server stores only about 150 vectors/s into a large collection. If a
        later batch fails, the raised error's ``inserted_ids`` lists what the earlier
        batches stored. Never retried once a request may have reached the server (it would
        store the vectors twice).
        """
        return self._run(self._insert_vectors_plan(db, name, vectors, metadata, timeout))

    def delete_vectors(
        self, db: str, name: str, ids: Sequence[int], *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> int:
        """Soft-delete vectors by server id; returns how many were live. Unknown ids are skipped.

        Long id lists are sent as several requests (5,000 ids each at most), each with ``timeout``.
        """
        return self._run(self._delete_vectors_plan(db, name, ids, timeout))

    def search(
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
        """Nearest neighbours of ``vector``, closest first.

        A query whose dimension differs from the collection's raises InvalidArgumentError
        (the server would answer with +Infinity distances). When ``top_k`` exceeds the
        server's default beam of 50 and no ``ef_search`` is given, ``ef_search = top_k``
        is sent so that up to ``top_k`` results can come back.
        """
        return self._run(self._search_plan(db, name, vector, top_k, ef_search, include_vector, timeout))

    # -- server-side embeddings

    def embed_and_insert(
        self,
        db: str,
        name: str,
        texts: Sequence[str],
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        model: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> list[int]:
        """Let the server embed ``texts`` and insert them; returns the new ids in input order.

        Split into requests like :meth:`insert_vectors`, each with ``timeout``.
        """
        return self._run(self._embed_and_insert_plan(db, name, texts, metadata, model, timeout))

    def embed_and_search(
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
        return self._run(
            self._embed_and_search_plan(db, name, text, top_k, model, ef_search, include_vector, timeout)
        )

    def embed_text(
        self, texts: Sequence[str], *, model: str | None = None, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> list[list[float]]:
        """Embeddings of ``texts`` from the server's embedding model, in input order."""
        return self._run(self._embed_text_plan(texts, model, timeout))

    def list_embedding_models(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> EmbeddingModels:
        """The embedding models configured on the server and its default."""
        return self._run(self._list_embedding_models_plan(timeout))

    # -- persistence and health

    def save(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> SaveResult:
        """Write a snapshot now and wait for it. On a real server, metadata survives a restart only this way."""
        return self._run(self._save_plan(timeout))

    def bg_save(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> BgSaveResult:
        """Start a snapshot in the background; returns its job id at once."""
        return self._run(self._bg_save_plan(timeout))

    def ping(self, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> float:
        """Round-trip one cheap authenticated call; returns its latency in seconds or raises."""
        return self._run(self._ping_plan(timeout))
