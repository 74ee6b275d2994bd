"""The gRPC face of Scintirete Lite: auth, pb <-> engine values, errors -> status codes.

Every RPC checks the password first (constant-time), then calls the engine. A
ScintireteError becomes its status code (``errors.code_for``) with the upstream message;
anything unexpected is logged and answered with INTERNAL, and the server keeps running.
Search knowledge lives in ``engine.py``; this module only translates.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
import numpy as np

from .._convert import collection_info_to_pb, embedding_model_to_pb, hnsw_from_pb, metric_from_pb
from .._wire import packed_floats, read_vectors
from ..errors import AuthenticationError, InternalError, InvalidArgumentError, ScintireteError, code_for
from .embedding import EmbeddingProvider
from .engine import Engine, SearchResult, check_name

from .._proto.scintirete.v1 import scintirete_pb2 as pb, scintirete_pb2_grpc as pb_grpc  # isort: skip

__all__ = ["ScintireteServiceServicer"]

logger = logging.getLogger(__name__)

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Method = Callable[["ScintireteServiceServicer", _Request], _Response]
_Handler = Callable[["ScintireteServiceServicer", _Request, grpc.ServicerContext], _Response]

_IN_MEMORY = "nothing was saved: this Lite server runs in memory (no data_dir), so nothing is persisted"


def _rpc(method: _Method[_Request, _Response]) -> _Handler[_Request, _Response]:
    """Wrap an RPC body with the password check and the exception -> status translation."""
    name = method.__name__

    @functools.wraps(method)
    def handler(
        self: ScintireteServiceServicer, request: _Request, context: grpc.ServicerContext
    ) -> _Response:
        try:
            self.authenticate(request)
            return method(self, request)
        except ScintireteError as exc:
            context.abort(code_for(exc), exc.details)
        except Exception:
            logger.exception("Lite RPC %s failed unexpectedly", name)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error in {name}; the server log has details")

    return handler


class ScintireteServiceServicer(pb_grpc.ScintireteServiceServicer):  # type: ignore[misc]  # generated base is untyped
    """Serves one :class:`Engine` over gRPC. ``LiteServer`` builds and registers it::

    servicer = ScintireteServiceServicer(Engine(), password="s3cret", embedding=HashEmbeddings())
    server, port = create_server("127.0.0.1:0", servicer)
    """

    def __init__(self, engine: Engine, password: str, embedding: EmbeddingProvider | None = None) -> None:
        if not password:
            raise ValueError("a password is required: Scintirete has no anonymous mode")
        self.engine = engine
        self.embedding = embedding
        self._password = password.encode("utf-8")

    def __repr__(self) -> str:
        return f"ScintireteServiceServicer({self.engine!r}, embedding={self.embedding!r})"

    def authenticate(self, request: Any) -> None:
        """Raise AuthenticationError unless ``request.auth`` carries the server password."""
        given = request.auth.password if request.HasField("auth") else ""
        if not given:
            raise AuthenticationError("authentication required")
        if not hmac.compare_digest(given.encode("utf-8"), self._password):
            raise AuthenticationError("invalid credentials")

    # -- databases ----------------------------------------------------------------------------------

    @_rpc
    def CreateDatabase(self, request: pb.CreateDatabaseRequest) -> pb.CreateDatabaseResponse:
        self.engine.create_database(request.name)
        return pb.CreateDatabaseResponse(
            name=request.name, success=True, message=f"database '{request.name}' created"
        )

    @_rpc
    def DropDatabase(self, request: pb.DropDatabaseRequest) -> pb.DropDatabaseResponse:
        dropped = self.engine.drop_database(request.name)
        return pb.DropDatabaseResponse(
            name=request.name,
            success=True,
            message=f"database '{request.name}' dropped with {dropped} collection(s)",
            dropped_collections=dropped,
        )

    @_rpc
    def ListDatabases(self, request: pb.ListDatabasesRequest) -> pb.ListDatabasesResponse:
        return pb.ListDatabasesResponse(names=self.engine.list_databases())

    # -- collections --------------------------------------------------------------------------------

    @_rpc
    def CreateCollection(self, request: pb.CreateCollectionRequest) -> pb.CreateCollectionResponse:
        metric = metric_from_pb(request.metric_type)
        if metric is None and request.metric_type != pb.DISTANCE_METRIC_UNSPECIFIED:
            raise InternalError(f"unsupported distance metric: {request.metric_type}")
        hnsw = hnsw_from_pb(request.hnsw_config) if request.HasField("hnsw_config") else None
        info = self.engine.create_collection(request.db_name, request.collection_name, metric, hnsw)
        return pb.CreateCollectionResponse(
            db_name=request.db_name,
            collection_name=request.collection_name,
            success=True,
            message=f"collection '{request.collection_name}' created in database '{request.db_name}'",
            info=collection_info_to_pb(info),
        )

    @_rpc
    def DropCollection(self, request: pb.DropCollectionRequest) -> pb.DropCollectionResponse:
        dropped = self.engine.drop_collection(request.db_name, request.collection_name)
        return pb.DropCollectionResponse(
            db_name=request.db_name,
            collection_name=request.collection_name,
            success=True,
            message=f"collection '{request.collection_name}' dropped with {dropped} vector(s)",
            dropped_vectors=dropped,
        )

    @_rpc
    def GetCollectionInfo(self, request: pb.GetCollectionInfoRequest) -> pb.CollectionInfo:
        return collection_info_to_pb(self.engine.collection_info(request.db_name, request.collection_name))

    @_rpc
    def ListCollections(self, request: pb.ListCollectionsRequest) -> pb.ListCollectionsResponse:
        infos = self.engine.list_collections(request.db_name)
        return pb.ListCollectionsResponse(collections=[collection_info_to_pb(info) for info in infos])

    # -- vectors ------------------------------------------------------------------------------------

    @_rpc
    def InsertVectors(self, request: pb.InsertVectorsRequest) -> pb.InsertVectorsResponse:
        # Field 4 is `vectors`; reading the wire bytes avoids a Python float per element. Unknown
        # fields (any wire type, groups too) are dropped first: they are no part of the request.
        request.DiscardUnknownFields()
        vectors = read_vectors(request.SerializeToString(), field=4)
        ids = self.engine.insert(request.db_name, request.collection_name, vectors.rows(), vectors.metadata)
        return pb.InsertVectorsResponse(inserted_ids=ids, inserted_count=len(ids))

    @_rpc
    def DeleteVectors(self, request: pb.DeleteVectorsRequest) -> pb.DeleteVectorsResponse:
        deleted = self.engine.delete(request.db_name, request.collection_name, list(request.ids))
        return pb.DeleteVectorsResponse(deleted_count=deleted)

    @_rpc
    def Search(self, request: pb.SearchRequest) -> pb.SearchResponse:
        result = self.engine.search(
            request.db_name,
            request.collection_name,
            np.asarray(request.query_vector, dtype=np.float32),
            request.top_k,
            ef_search=request.ef_search if request.HasField("ef_search") else None,
            include_vectors=request.include_vector,
        )
        return _search_response(result)

    # -- embeddings ---------------------------------------------------------------------------------

    def _embed(self, texts: Sequence[str], model: str | None) -> np.ndarray[Any, np.dtype[np.float32]]:
        if self.embedding is None:
            raise InternalError("failed to get embeddings: no embedding provider is configured")
        try:
            return self.embedding.embed(texts, model)
        except Exception as exc:
            logger.warning("embedding %d text(s) failed: %s", len(texts), exc)
            raise InternalError(f"failed to get embeddings: {exc}") from exc

    @_rpc
    def EmbedAndInsert(self, request: pb.EmbedAndInsertRequest) -> pb.EmbedAndInsertResponse:
        # Upstream's order: names, texts, embeddings, then the collection lookup.
        check_name(request.db_name, "database")
        check_name(request.collection_name, "collection")
        if not request.texts:
            raise InvalidArgumentError("no texts provided")
        model = request.embedding_model if request.HasField("embedding_model") else None
        matrix = self._embed([item.text for item in request.texts], model)
        metadata = [item.metadata.SerializeToString() for item in request.texts]
        ids = self.engine.insert(request.db_name, request.collection_name, matrix, metadata)
        return pb.EmbedAndInsertResponse(inserted_ids=ids, inserted_count=len(ids))

    @_rpc
    def EmbedAndSearch(self, request: pb.EmbedAndSearchRequest) -> pb.SearchResponse:
        check_name(request.db_name, "database")
        check_name(request.collection_name, "collection")
        if not request.query_text:
            raise InvalidArgumentError("query text cannot be empty")
        if request.top_k <= 0:
            raise InvalidArgumentError("top_k must be positive")
        model = request.embedding_model if request.HasField("embedding_model") else None
        query = self._embed([request.query_text], model)[0]
        result = self.engine.search(
            request.db_name,
            request.collection_name,
            query,
            request.top_k,
            ef_search=request.ef_search if request.HasField("ef_search") else None,
            include_vectors=request.include_vector,
        )
        return _search_response(result)

    @_rpc
    def EmbedText(self, request: pb.EmbedTextRequest) -> pb.EmbedTextResponse:
        if not request.texts:
            raise InvalidArgumentError("no texts provided")
        model = request.embedding_model if request.HasField("embedding_model") else None
        matrix = self._embed(list(request.texts), model)
        return pb.EmbedTextResponse(
            results=[
                pb.EmbedTextResult(text=text, embedding=row.tolist(), index=index)
                for index, (text, row) in enumerate(zip(request.texts, matrix, strict=True))
            ]
        )

    @_rpc
    def ListEmbeddingModels(self, request: pb.ListEmbeddingModelsRequest) -> pb.ListEmbeddingModelsResponse:
        if self.embedding is None:
            return pb.ListEmbeddingModelsResponse()
        return pb.ListEmbeddingModelsResponse(
            models=[embedding_model_to_pb(model) for model in self.embedding.models()],
            default_model=self.embedding.default_model,
        )

    # -- persistence --------------------------------------------------------------------------------

    @_rpc
    def Save(self, request: pb.SaveRequest) -> pb.SaveResponse:
        info = self.engine.save()
        message = f"snapshot saved ({info.size_bytes} bytes)" if info.persisted else _IN_MEMORY
        return pb.SaveResponse(
            success=True,
            message=message,
            snapshot_size=info.size_bytes,
            duration_seconds=info.duration_seconds,
        )

    @_rpc
    def BgSave(self, request: pb.BgSaveRequest) -> pb.BgSaveResponse:
        job_id = self.engine.bg_save()
        message = "background save started" if self.engine.persistent else _IN_MEMORY
        return pb.BgSaveResponse(success=True, message=message, job_id=job_id)


def _search_response(result: SearchResult) -> pb.SearchResponse:
    """Hits -> SearchResponse; each item always carries a ``vector`` with id and metadata."""
    response = pb.SearchResponse()
    items = response.results
    vectors = result.vectors
    for index, (vector_id, distance, blob) in enumerate(
        zip(result.ids, result.distances, result.metadata, strict=True)
    ):
        item = items.add(id=vector_id, distance=distance)
        item.metadata.MergeFromString(blob)  # stored as received: no dict round trip
        vector = item.vector
        vector.id = vector_id
        vector.metadata.MergeFromString(blob)
        if vectors is not None:
            vector.MergeFromString(packed_floats(vectors[index]))
    return response
