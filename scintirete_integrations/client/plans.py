"""The request plans both clients share: one per RPC, plus the multi-step ones, in :class:`_BaseClient`.

Each plan validates its arguments, builds the requests, yields a :class:`~.calls.Call` per RPC
and turns the responses into results; the sync and async clients only differ in how they make
the calls. Inserts and deletes too large for one message are split into several requests here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

import numpy as np
from google.protobuf.message import Message

from .._convert import (
    collection_info_from_pb,
    embedding_models_from_pb,
    embeddings_from_pb,
    hit_from_pb,
    metadata_to_pb,
    metric_to_pb,
)
from .._wire import packed_floats, varint
from ..errors import AlreadyExistsError, InternalError, InvalidArgumentError, NotFoundError, ScintireteError
from ..models import BgSaveResult, CollectionInfo, EmbeddingModels, Metric, SaveResult, SearchHit
from .calls import Call, Plan, Timeout
from .config import _ClientConfig
from .validation import VectorsLike, _check_ef, _check_name, _check_texts, _check_top_k, as_matrix, as_vector

from .._proto.scintirete.v1 import scintirete_pb2 as pb  # isort: skip

#: Ids per DeleteVectors request: a real server deletes about 1,000 ids per 0.8 s.
_DELETE_BATCH: Final = 5000
_SERVER_DEFAULT_EF = 50  # what the server uses when a search sends no ef_search


def _vector_bytes(row: np.ndarray, metadata: Mapping[str, Any] | bytes | None) -> bytes:
    """A serialized ``Vector``; ``metadata`` may already be a serialized Struct (the layer builds its own)."""
    if isinstance(metadata, bytes):
        return packed_floats(row, metadata)
    return packed_floats(row, metadata_to_pb(metadata).SerializeToString() if metadata else b"")


M = TypeVar("M", bound=Message)


def _batch_requests(header: M, items: list[bytes], max_bytes: int, max_items: int, what: str) -> list[M]:
    """Split serialized repeated-field-4 items (vectors, texts) into requests like ``header``.

    Each request stays under ``max_bytes`` and holds at most ``max_items`` items.
    """
    head = header.SerializeToString()
    budget = max_bytes - len(head) - 1024  # room for framing
    requests: list[M] = []
    chunk: list[bytes] = []
    size = 0
    for index, item in enumerate(items):
        field = b"\x22" + varint(len(item)) + item  # field 4, length-delimited
        if len(field) > budget:
            raise InvalidArgumentError(
                f"{what}[{index}] with its metadata takes {len(field)} bytes, more than max_message_bytes "
                f"({max_bytes}-byte message limit) allows"
            )
        if chunk and (size + len(field) > budget or len(chunk) == max_items):
            requests.append(type(header).FromString(head + b"".join(chunk)))
            chunk, size = [], 0
        chunk.append(field)
        size += len(field)
    if chunk:
        requests.append(type(header).FromString(head + b"".join(chunk)))
    return requests


class _BaseClient(_ClientConfig):
    """The request plans both clients run; configuration and auth come from :class:`_ClientConfig`."""

    def _create_database_plan(self, name: str, timeout: Timeout) -> Plan[None]:
        request = pb.CreateDatabaseRequest(auth=self._auth, name=_check_name("database", name))
        response = yield Call("CreateDatabase", request, timeout)
        if not response.success:
            raise InternalError(response.message or "database was not created", rpc="CreateDatabase")

    def _drop_database_plan(self, name: str, timeout: Timeout) -> Plan[int]:
        request = pb.DropDatabaseRequest(auth=self._auth, name=_check_name("database", name))
        response = yield Call("DropDatabase", request, timeout)
        self._dimensions = {key: dim for key, dim in self._dimensions.items() if key[0] != name}
        return int(response.dropped_collections)

    def _list_databases_plan(self, timeout: Timeout) -> Plan[list[str]]:
        response = yield Call("ListDatabases", pb.ListDatabasesRequest(auth=self._auth), timeout)
        return list(response.names)

    def _create_collection_plan(
        self,
        db: str,
        name: str,
        metric: Metric | str,
        m: int | None,
        ef_construction: int | None,
        timeout: Timeout,
    ) -> Plan[CollectionInfo]:
        request = pb.CreateCollectionRequest(
            auth=self._auth,
            db_name=_check_name("database", db),
            collection_name=_check_name("collection", name),
            metric_type=metric_to_pb(metric),
        )
        if m is not None or ef_construction is not None:
            request.hnsw_config.m = m or 0
            request.hnsw_config.ef_construction = ef_construction or 0
        response = yield Call("CreateCollection", request, timeout)
        if not response.success:
            raise InternalError(response.message or "collection was not created", rpc="CreateCollection")
        self._dimensions.pop((db, name), None)
        return collection_info_from_pb(response.info)

    def _drop_collection_plan(self, db: str, name: str, timeout: Timeout) -> Plan[int]:
        request = pb.DropCollectionRequest(
            auth=self._auth,
            db_name=_check_name("database", db),
            collection_name=_check_name("collection", name),
        )
        self._dimensions.pop((db, name), None)
        response = yield Call("DropCollection", request, timeout)
        return int(response.dropped_vectors)

    def _collection_info_request(self, db: str, name: str) -> pb.GetCollectionInfoRequest:
        return pb.GetCollectionInfoRequest(
            auth=self._auth,
            db_name=_check_name("database", db),
            collection_name=_check_name("collection", name),
        )

    def _get_collection_info_plan(self, db: str, name: str, timeout: Timeout) -> Plan[CollectionInfo]:
        response = yield Call("GetCollectionInfo", self._collection_info_request(db, name), timeout)
        info = collection_info_from_pb(response)
        self._remember_dimension(db, name, info.dimension)
        return info

    def _list_collections_plan(self, db: str, timeout: Timeout) -> Plan[list[CollectionInfo]]:
        request = pb.ListCollectionsRequest(auth=self._auth, db_name=_check_name("database", db))
        response = yield Call("ListCollections", request, timeout)
        return [collection_info_from_pb(info) for info in response.collections]

    def _ensure_database_plan(self, name: str, timeout: Timeout) -> Plan[bool]:
        try:
            yield from self._create_database_plan(name, timeout)
        except AlreadyExistsError:
            return False
        return True

    def _ensure_collection_plan(
        self,
        db: str,
        name: str,
        metric: Metric | str,
        m: int | None,
        ef_construction: int | None,
        timeout: Timeout,
    ) -> Plan[CollectionInfo]:
        wanted = Metric.parse(metric)
        try:
            return (yield from self._create_collection_plan(db, name, wanted, m, ef_construction, timeout))
        except NotFoundError:  # the database is missing: create it, then the collection
            yield from self._ensure_database_plan(db, timeout)
            try:
                return (
                    yield from self._create_collection_plan(db, name, wanted, m, ef_construction, timeout)
                )
            except AlreadyExistsError:
                pass
        except AlreadyExistsError:
            pass
        info = yield from self._get_collection_info_plan(db, name, timeout)
        if info.metric is not None and info.metric is not wanted:
            raise InvalidArgumentError(
                f"collection {name!r} in database {db!r} exists with metric {info.metric.value!r}, "
                f"not {wanted.value!r}; use a different collection name or drop it first"
            )
        return info

    def _insert_vectors_plan(
        self,
        db: str,
        name: str,
        vectors: VectorsLike,
        metadata: Sequence[Mapping[str, Any] | bytes | None] | None,
        timeout: Timeout,
    ) -> Plan[list[int]]:
        header = pb.InsertVectorsRequest(
            auth=self._auth,
            db_name=_check_name("database", db),
            collection_name=_check_name("collection", name),
        )
        matrix = as_matrix(vectors)
        if metadata is not None and len(metadata) != matrix.shape[0]:
            raise InvalidArgumentError(f"got {matrix.shape[0]} vectors but {len(metadata)} metadata entries")
        if (db, name) in self._dimensions:  # else the server checks the dimension itself
            yield from self._checked_dimension_plan(db, name, matrix.shape[1], "vector[0]", timeout)
        encoded = [
            _vector_bytes(row, metadata[i] if metadata is not None else None) for i, row in enumerate(matrix)
        ]
        requests = _batch_requests(header, encoded, self.max_message_bytes, self.insert_batch_size, "vector")
        ids = yield from self._insert_batches_plan("InsertVectors", requests, timeout)
        self._remember_dimension(db, name, matrix.shape[1])
        return ids

    def _insert_batches_plan(
        self, rpc: str, requests: Sequence[Message], timeout: Timeout
    ) -> Plan[list[int]]:
        """Send insert requests one after another, each with the full ``timeout``; the ids in order."""
        ids: list[int] = []
        for request in requests:
            try:
                response = yield Call(rpc, request, timeout)
            except ScintireteError as exc:
                exc.inserted_ids = ids  # batches before this one are stored
                raise
            ids.extend(response.inserted_ids)
        return ids

    def _delete_vectors_plan(self, db: str, name: str, ids: Sequence[int], timeout: Timeout) -> Plan[int]:
        id_list = [int(i) for i in ids]
        if not id_list:
            raise InvalidArgumentError("no ids given to delete")
        if any(i < 0 or i >= 2**64 for i in id_list):
            raise InvalidArgumentError("ids must be unsigned 64-bit integers")
        header = pb.DeleteVectorsRequest(
            auth=self._auth,
            db_name=_check_name("database", db),
            collection_name=_check_name("collection", name),
        )
        # A packed uint64 takes at most 10 bytes.
        per_request = min(_DELETE_BATCH, (self.max_message_bytes - header.ByteSize() - 1024) // 10)
        deleted = 0
        for start in range(0, len(id_list), per_request):
            request = pb.DeleteVectorsRequest()
            request.CopyFrom(header)
            request.ids.extend(id_list[start : start + per_request])
            response = yield Call("DeleteVectors", request, timeout)
            deleted += int(response.deleted_count)
        return deleted

    def _remember_dimension(self, db: str, name: str, dimension: int) -> None:
        if dimension > 0:
            self._dimensions[(db, name)] = dimension

    def _checked_dimension_plan(
        self, db: str, name: str, dimension: int, what: str, timeout: Timeout
    ) -> Plan[None]:
        """Refuse vectors of another dimension than the collection's.

        The remembered dimension only saves a call: when it disagrees, the server is asked, since
        another client may have dropped and recreated the collection with another dimension.
        """
        if self._dimensions.get((db, name)) == dimension:
            return
        self._dimensions.pop((db, name), None)
        info = yield from self._get_collection_info_plan(db, name, timeout)
        if info.dimension and info.dimension != dimension:
            raise InvalidArgumentError(
                f"{what} has dimension {dimension}, but collection {name!r} in database {db!r} "
                f"has dimension {info.dimension}"
            )

    def _search_request(
        self, db: str, name: str, query: np.ndarray, top_k: int, ef_search: int | None, include_vector: bool
    ) -> pb.SearchRequest:
        request = pb.SearchRequest(
            auth=self._auth,
            db_name=_check_name("database", db),
            collection_name=_check_name("collection", name),
            query_vector=query.tolist(),
            top_k=_check_top_k(top_k),
        )
        ef = _check_ef(ef_search)
        if ef is not None:
            request.ef_search = ef
        if include_vector:
            request.include_vector = True
        return request

    def _search_raw_plan(
        self,
        db: str,
        name: str,
        vector: Sequence[float] | np.ndarray,
        top_k: int,
        ef_search: int | None,
        include_vector: bool,
        timeout: Timeout,
    ) -> Plan[pb.SearchResponse]:
        query = as_vector(vector)
        request = self._search_request(db, name, query, top_k, ef_search, include_vector)
        # A query of another dimension is no error to the server: it answers +Infinity distances.
        yield from self._checked_dimension_plan(db, name, query.shape[0], "query vector", timeout)
        response: pb.SearchResponse = yield Call("Search", request, timeout)
        return response

    def _search_plan(
        self,
        db: str,
        name: str,
        vector: Sequence[float] | np.ndarray,
        top_k: int,
        ef_search: int | None,
        include_vector: bool,
        timeout: Timeout,
    ) -> Plan[list[SearchHit]]:
        if ef_search is None and top_k > _SERVER_DEFAULT_EF:
            # The server caps results at its beam width (50 unless sent): ask for enough.
            ef_search = top_k
        response = yield from self._search_raw_plan(
            db, name, vector, top_k, ef_search, include_vector, timeout
        )
        return [hit_from_pb(item) for item in response.results]

    def _embed_and_insert_plan(
        self,
        db: str,
        name: str,
        texts: Sequence[str],
        metadata: Sequence[Mapping[str, Any] | None] | None,
        model: str | None,
        timeout: Timeout,
    ) -> Plan[list[int]]:
        text_list = _check_texts(texts)
        if metadata is not None and len(metadata) != len(text_list):
            raise InvalidArgumentError(f"got {len(text_list)} texts but {len(metadata)} metadata entries")
        header = pb.EmbedAndInsertRequest(
            auth=self._auth,
            db_name=_check_name("database", db),
            collection_name=_check_name("collection", name),
        )
        if model:
            header.embedding_model = model
        items = []
        for index, text in enumerate(text_list):
            item = pb.TextWithMetadata(text=text)
            if metadata is not None and metadata[index]:
                metadata_to_pb(metadata[index], item.metadata)
            items.append(item.SerializeToString())
        requests = _batch_requests(header, items, self.max_message_bytes, self.insert_batch_size, "texts")
        return (yield from self._insert_batches_plan("EmbedAndInsert", requests, timeout))

    def _embed_and_search_plan(
        self,
        db: str,
        name: str,
        text: str,
        top_k: int,
        model: str | None,
        ef_search: int | None,
        include_vector: bool,
        timeout: Timeout,
    ) -> Plan[list[SearchHit]]:
        if not isinstance(text, str) or not text:
            raise InvalidArgumentError("query text must be a non-empty string")
        request = pb.EmbedAndSearchRequest(
            auth=self._auth,
            db_name=_check_name("database", db),
            collection_name=_check_name("collection", name),
            query_text=text,
            top_k=_check_top_k(top_k),
        )
        if model:
            request.embedding_model = model
        ef = _check_ef(
            ef_search if ef_search is not None else (top_k if top_k > _SERVER_DEFAULT_EF else None)
        )
        if ef is not None:
            request.ef_search = ef
        if include_vector:
            request.include_vector = True
        response = yield Call("EmbedAndSearch", request, timeout)
        return [hit_from_pb(item) for item in response.results]

    def _embed_text_plan(
        self, texts: Sequence[str], model: str | None, timeout: Timeout
    ) -> Plan[list[list[float]]]:
        request = pb.EmbedTextRequest(auth=self._auth, texts=_check_texts(texts))
        if model:
            request.embedding_model = model
        response = yield Call("EmbedText", request, timeout)
        return embeddings_from_pb(response)

    def _list_embedding_models_plan(self, timeout: Timeout) -> Plan[EmbeddingModels]:
        response = yield Call("ListEmbeddingModels", pb.ListEmbeddingModelsRequest(auth=self._auth), timeout)
        return embedding_models_from_pb(response)

    def _save_plan(self, timeout: Timeout) -> Plan[SaveResult]:
        response = yield Call("Save", pb.SaveRequest(auth=self._auth), timeout)
        return SaveResult(
            response.success, response.message, response.snapshot_size, response.duration_seconds
        )

    def _bg_save_plan(self, timeout: Timeout) -> Plan[BgSaveResult]:
        response = yield Call("BgSave", pb.BgSaveRequest(auth=self._auth), timeout)
        return BgSaveResult(response.success, response.message, response.job_id)

    def _ping_plan(self, timeout: Timeout) -> Plan[float]:
        started = time.perf_counter()
        yield Call("ListDatabases", pb.ListDatabasesRequest(auth=self._auth), timeout)
        return time.perf_counter() - started
