"""The Scintirete gRPC clients: :class:`ScintireteClient` and :class:`AsyncScintireteClient`.

::

    from scintirete_integrations import ScintireteClient

    with ScintireteClient("localhost:9090", password="secret") as client:
        client.ensure_collection("default", "docs", metric="cosine")
        ids = client.insert_vectors("default", "docs", [[0.1, 0.2], [0.3, 0.4]], [{"n": 1}, {"n": 2}])
        hits = client.search("default", "docs", [0.1, 0.2], top_k=1)

Everything except I/O lives in :class:`_BaseClient`: configuration, auth,
validation, request building and result conversion. Each public method builds
a *plan*, a generator that yields :class:`Call` objects and receives their
responses; the sync client drives plans with blocking calls, the async client
with awaited ones. Multi-step operations (batched inserts, ``ensure_*``, the
document layer) are written once as plans.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NamedTuple, TypeVar

import grpc
import grpc.aio
import numpy as np
from google.protobuf.message import Message

from ._convert import (
    collection_info_from_pb,
    embedding_models_from_pb,
    embeddings_from_pb,
    hit_from_pb,
    metadata_to_pb,
    metric_to_pb,
)
from ._retry import RetryPolicy
from ._wire import packed_floats, varint
from .errors import (
    AlreadyExistsError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    ScintireteError,
    map_rpc_errors,
)
from .models import BgSaveResult, CollectionInfo, EmbeddingModels, Metric, SaveResult, SearchHit

from ._proto.scintirete.v1 import scintirete_pb2 as pb, scintirete_pb2_grpc as pb_grpc  # isort: skip

__all__ = ["USE_CLIENT_DEFAULT", "AsyncScintireteClient", "Call", "ScintireteClient"]

T = TypeVar("T")

DEFAULT_ADDRESS: Final = "localhost:9090"
#: What the client splits inserts and deletes under. A default server refuses requests over
#: 4 MiB (gRPC's default receive limit); the rest is headroom for the envelope.
DEFAULT_MAX_MESSAGE_BYTES: Final = 3584 * 1024
#: Vectors (or texts) per InsertVectors / EmbedAndInsert request. The timeout applies to each
#: request, and a real server stores about 150 vectors/s once it holds thousands: 500 take
#: about 3.5 s, inside the default 10 s.
DEFAULT_INSERT_BATCH: Final = 500
#: Ids per DeleteVectors request: a real server deletes about 1,000 ids per 0.8 s.
_DELETE_BATCH: Final = 5000
_SERVER_DEFAULT_EF = 50  # what the server uses when a search sends no ef_search


class _UseClientDefault:
    """Type of :data:`USE_CLIENT_DEFAULT`: "use the client's timeout", as opposed to None, "no deadline"."""

    _instance: _UseClientDefault | None = None

    def __new__(cls) -> _UseClientDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = _UseClientDefault()
Timeout = float | None | _UseClientDefault
VectorsLike = Sequence[Sequence[float]] | np.ndarray


class Call(NamedTuple):
    """One RPC a plan wants made: the method name, its request and its timeout."""

    rpc: str
    request: Message
    timeout: Timeout = USE_CLIENT_DEFAULT


class Pause(NamedTuple):
    """A wait a plan asks for between calls (the sync client sleeps, the async one awaits)."""

    seconds: float


#: A plan yields a Call and receives its response (or the error, thrown in), or yields a list of
#: Calls to have them made concurrently and receives a list of responses or ScintireteErrors,
#: or yields a Pause and receives None after it.
Plan = Generator[Call | list[Call] | Pause, Any, T]


# -- validation helpers (pure) ---------------------------------------------------------------------


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"{kind} name must be a non-empty string, got {name!r}")
    return check_unicode(name, f"{kind} name {name!r}")


def check_unicode(text: str, what: str) -> str:
    """``text`` unchanged if it can go on the wire (protobuf strings are UTF-8), else InvalidArgumentError.

    Only lone surrogates (e.g. ``"\\ud800"``, from a bad decode) fail.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"{what} is not valid Unicode: {exc.reason} at position {exc.start}; protobuf strings must be UTF-8"
        ) from None
    return text


def _check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k <= 0:
        raise InvalidArgumentError(f"top_k must be a positive integer, got {top_k!r}")
    if top_k > 2**31 - 1:
        raise InvalidArgumentError(f"top_k must fit in int32, got {top_k}")
    return int(top_k)


def _check_ef(ef_search: int | None) -> int | None:
    if ef_search is None:
        return None
    if isinstance(ef_search, bool) or not isinstance(ef_search, (int, np.integer)) or ef_search <= 0:
        raise InvalidArgumentError(f"ef_search must be a positive integer or None, got {ef_search!r}")
    return min(int(ef_search), 2**31 - 1)


def as_matrix(vectors: VectorsLike, what: str = "vectors") -> np.ndarray:
    """``vectors`` as a C-contiguous little-endian float32 matrix, or a clear InvalidArgumentError.

    Rejects an empty batch, empty or ragged vectors, and NaN or infinite elements
    (including float64 values too large for float32), naming the first bad index.
    """
    if isinstance(vectors, np.ndarray):
        source: Any = vectors
    else:
        source = list(vectors)
        if source and not all(isinstance(v, (Sequence, np.ndarray)) for v in source):
            raise InvalidArgumentError(f"{what} must be a list of vectors (a 2-D array), not a single vector")
        lengths = [len(v) for v in source]
        if lengths and min(lengths) != max(lengths):
            bad = next(i for i, n in enumerate(lengths) if n != lengths[0])
            raise InvalidArgumentError(
                f"{what} are ragged: {what}[{bad}] has dimension {lengths[bad]}, {what}[0] has {lengths[0]}"
            )
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes inf, refused just below
            matrix = np.ascontiguousarray(source, dtype="<f4")
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{what} must contain only numbers: {exc}") from None
    if matrix.shape[0] == 0:
        raise InvalidArgumentError(f"no {what} given")
    if matrix.ndim != 2:
        raise InvalidArgumentError(f"{what} must be 2-D (one row per vector), got shape {matrix.shape}")
    if matrix.shape[1] == 0:
        raise InvalidArgumentError(f"{what}[0] is empty; every vector needs at least one element")
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise InvalidArgumentError(
            f"{what}[{bad}] contains NaN or infinity (or a value too large for float32)"
        )
    return matrix


def as_vector(vector: Sequence[float] | np.ndarray, what: str = "query vector") -> np.ndarray:
    """One vector as float32, validated like :func:`as_matrix`."""
    try:
        array = np.asarray(vector, dtype=np.float64) if not isinstance(vector, np.ndarray) else vector
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{what} must contain only numbers: {exc}") from None
    if array.ndim != 1:
        raise InvalidArgumentError(f"{what} must be 1-D, got shape {array.shape}")
    if array.shape[0] == 0:
        raise InvalidArgumentError(f"{what} is empty")
    row: np.ndarray = as_matrix(array.reshape(1, -1), what)[0]
    return row


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


#: gRPC target URIs (unix sockets, explicit resolvers) go to grpc as they are.
_GRPC_TARGET_SCHEMES = ("unix:", "unix-abstract:", "dns:", "ipv4:", "ipv6:", "vsock:")
_URL_SCHEMES = {"http://": False, "https://": True, "grpc://": False, "grpcs://": True}


def _check_address(address: str) -> str:
    """``address`` if it is ``host:port`` (or a gRPC target URI), else an error that says the fix.

    Without a port grpc would silently dial 443; a URL scheme would be taken for a host name.
    """
    if not isinstance(address, str) or not address.strip():
        raise InvalidArgumentError(f"address must be 'host:port', e.g. 'localhost:9090', got {address!r}")
    lowered = address.lower()
    for scheme, tls in _URL_SCHEMES.items():
        if lowered.startswith(scheme):
            bare = address[len(scheme) :].rstrip("/")
            fix = f"address={bare!r}" + (", tls=True" if tls else "")
            raise InvalidArgumentError(
                f"address {address!r} is a URL, but gRPC takes 'host:port' without a scheme; pass {fix}"
            )
    if lowered.startswith(_GRPC_TARGET_SCHEMES):
        return address
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or (host.startswith("[") and not host.endswith("]")):
        raise InvalidArgumentError(
            f"address {address!r} has no port; pass 'host:port', e.g. '{address.rstrip(':')}:9090' "
            "(9090 is Scintirete's gRPC port; 8080 is its HTTP API, which this client does not speak)"
        )
    return address


def _read_pem(value: bytes | str | os.PathLike[str] | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    text = os.fspath(value)
    if text.lstrip().startswith("-----BEGIN"):
        return text.encode()
    return Path(text).read_bytes()


def _env_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


# -- the shared core ------------------------------------------------------------------------------


class _BaseClient:
    """Configuration, auth, validation, request building and result conversion for both clients."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        password: str | None = None,
        tls: bool = False,
        root_certificates: bytes | str | os.PathLike[str] | None = None,
        client_certificate: bytes | str | os.PathLike[str] | None = None,
        client_key: bytes | str | os.PathLike[str] | None = None,
        tls_server_name: str | None = None,
        timeout: float | None = 10.0,
        compression: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        insert_batch_size: int = DEFAULT_INSERT_BATCH,
        retry: RetryPolicy | None = None,
        channel_options: Sequence[tuple[str, Any]] | None = None,
    ) -> None:
        address = _check_address(address)
        if compression not in (None, "gzip"):
            raise InvalidArgumentError(f"compression must be None or 'gzip', got {compression!r}")
        if timeout is not None and timeout <= 0:
            raise InvalidArgumentError(f"timeout must be positive seconds or None, got {timeout!r}")
        if max_message_bytes < 64 * 1024:
            raise InvalidArgumentError(f"max_message_bytes must be at least 65536, got {max_message_bytes}")
        if (
            isinstance(insert_batch_size, bool)
            or not isinstance(insert_batch_size, int)
            or insert_batch_size < 1
        ):
            raise InvalidArgumentError(
                f"insert_batch_size must be a positive integer, got {insert_batch_size!r}"
            )
        self.address = address
        self.tls = bool(tls or root_certificates or client_certificate)
        self.timeout = timeout
        self.compression = compression
        self.max_message_bytes = max_message_bytes
        self.insert_batch_size = insert_batch_size
        self.retry = retry if retry is not None else RetryPolicy()
        self._root_certificates = _read_pem(root_certificates)
        self._client_certificate = _read_pem(client_certificate)
        self._client_key = _read_pem(client_key)
        self._tls_server_name = tls_server_name
        self._extra_options = list(channel_options or ())
        # Held privately: never in repr, logs or errors.
        self.__auth = pb.AuthInfo(password=password) if password else None
        self._dimensions: dict[tuple[str, str], int] = {}

    @classmethod
    def from_env(cls: type[_C], **overrides: Any) -> _C:
        """Build a client from environment variables; keyword arguments win over them.

        ==============================  ==========================================
        ``SCINTIRETE_ADDRESS``          ``host:port`` (default ``localhost:9090``)
        ``SCINTIRETE_PASSWORD``         the server password
        ``SCINTIRETE_TLS``              ``1``/``true`` to use TLS
        ``SCINTIRETE_ROOT_CERTIFICATES``  path to a PEM bundle to trust (implies TLS)
        ``SCINTIRETE_TIMEOUT``          default per-call timeout in seconds
        ==============================  ==========================================

        >>> client = ScintireteClient.from_env(timeout=5.0)  # doctest: +SKIP
        """
        env = os.environ
        settings: dict[str, Any] = {}
        if env.get("SCINTIRETE_ADDRESS"):
            settings["address"] = env["SCINTIRETE_ADDRESS"]
        if env.get("SCINTIRETE_PASSWORD"):
            settings["password"] = env["SCINTIRETE_PASSWORD"]
        if _env_flag(env.get("SCINTIRETE_TLS")):
            settings["tls"] = True
        if env.get("SCINTIRETE_ROOT_CERTIFICATES"):
            settings["root_certificates"] = env["SCINTIRETE_ROOT_CERTIFICATES"]
        if env.get("SCINTIRETE_TIMEOUT"):
            settings["timeout"] = float(env["SCINTIRETE_TIMEOUT"])
        settings.update(overrides)
        return cls(**settings)

    def _settings(self) -> dict[str, Any]:
        """Constructor arguments that rebuild an equivalent client (the sync or async twin)."""
        return {
            "address": self.address,
            "password": self.__auth.password if self.__auth else None,
            "tls": self.tls,
            "root_certificates": self._root_certificates,
            "client_certificate": self._client_certificate,
            "client_key": self._client_key,
            "tls_server_name": self._tls_server_name,
            "timeout": self.timeout,
            "compression": self.compression,
            "max_message_bytes": self.max_message_bytes,
            "insert_batch_size": self.insert_batch_size,
            "retry": self.retry,
            "channel_options": list(self._extra_options),
        }

    def __repr__(self) -> str:
        auth = "set" if self.__auth else "none"
        return f"{type(self).__name__}(address={self.address!r}, tls={self.tls}, timeout={self.timeout}, password={auth})"

    # -- channel configuration ---------------------------------------------------------------

    def _channel_options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = [
            ("grpc.max_send_message_length", self.max_message_bytes),
            # Responses are what we asked for (a full scan can be large), so they are not capped.
            ("grpc.max_receive_message_length", -1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.enable_retries", 0),  # retries are ours: grpc's own would repeat inserts
        ]
        if self._tls_server_name:
            options.append(("grpc.ssl_target_name_override", self._tls_server_name))
        return options + self._extra_options

    def _credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self._root_certificates,
            private_key=self._client_key,
            certificate_chain=self._client_certificate,
        )

    def _grpc_compression(self) -> grpc.Compression | None:
        return grpc.Compression.Gzip if self.compression == "gzip" else None

    def _deadline(self, timeout: Timeout) -> float | None:
        """Absolute monotonic deadline of a call, or None for none."""
        seconds = self.timeout if isinstance(timeout, _UseClientDefault) else timeout
        if seconds is None:
            seconds = self.retry.max_elapsed if self.retry.max_attempts > 1 else None
            return None if seconds is None else time.monotonic() + seconds
        return time.monotonic() + seconds

    def _retry_delay(self, rpc: str, exc: ScintireteError, delays: Any, deadline: float | None) -> float:
        """The pause before trying ``rpc`` again; re-raises ``exc`` when it must not be retried."""
        delay = next(delays, None) if self.retry.should_retry(rpc, exc) else None
        if delay is None or (deadline is not None and time.monotonic() + delay >= deadline):
            raise exc
        return float(delay)

    @staticmethod
    def _attempt_timeout(
        deadline: float | None, timeout: Timeout, client_timeout: float | None
    ) -> float | None:
        if deadline is None:
            return None
        seconds = client_timeout if isinstance(timeout, _UseClientDefault) else timeout
        remaining = deadline - time.monotonic()
        if seconds is None:  # no deadline asked for; only the retry budget bounds retries, not one attempt
            return None
        return max(remaining, 0.001)

    @property
    def _auth(self) -> pb.AuthInfo | None:
        return self.__auth

    # -- plans: one per RPC, plus the multi-step helpers --------------------------------------

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


_C = TypeVar("_C", bound=_BaseClient)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InvalidArgumentError("texts must be a list of strings, not a single string")
    text_list = list(texts)
    if not text_list:
        raise InvalidArgumentError("no texts given")
    for index, text in enumerate(text_list):
        if not isinstance(text, str) or not text:
            raise InvalidArgumentError(f"texts[{index}] must be a non-empty string, got {text!r}")
    return text_list


# -- the two clients: only the call differs ----------------------------------------------------------


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


class _LoopChannel(NamedTuple):
    channel: grpc.aio.Channel
    stub: pb_grpc.ScintireteServiceStub
    closer: AsyncGenerator[None, None]


class _ChannelPerLoop:
    """One grpc.aio channel per event loop, made on the loop's first call.

    A grpc.aio channel works only on the loop that created it, while one client object is
    used from ``asyncio.run`` after ``asyncio.run``, from notebooks and from threads that each
    run a loop. Each channel closes when its loop shuts down: it is held open by an async
    generator, which asyncio closes in ``shutdown_asyncgens()`` (``asyncio.run`` and
    ``asyncio.Runner`` call it before closing the loop). Loops closed without that are dropped
    on the next call.
    """

    def __init__(self, new_channel: Callable[[], grpc.aio.Channel]) -> None:
        self._new_channel = new_channel
        self._lock = threading.Lock()
        self._by_loop: dict[asyncio.AbstractEventLoop, _LoopChannel] = {}

    async def stub(self) -> pb_grpc.ScintireteServiceStub:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._by_loop.get(loop)
            if entry is not None:
                return entry.stub
            for closed in [other for other in self._by_loop if other.is_closed()]:
                del self._by_loop[closed]
            channel = self._new_channel()
            entry = _LoopChannel(channel, pb_grpc.ScintireteServiceStub(channel), self._hold(loop, channel))
            self._by_loop[loop] = entry
        await entry.closer.__anext__()  # first iteration registers the generator with this loop
        return entry.stub

    async def _hold(
        self, loop: asyncio.AbstractEventLoop, channel: grpc.aio.Channel
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                if (entry := self._by_loop.get(loop)) is not None and entry.channel is channel:
                    del self._by_loop[loop]
            await channel.close(grace=None)

    async def close(self) -> None:
        """Close this loop's channel now; other loops close theirs when they next run."""
        current = asyncio.get_running_loop()
        with self._lock:
            entries = list(self._by_loop.items())
            self._by_loop.clear()
        for loop, entry in entries:
            if loop is current:
                await entry.closer.aclose()
            elif not loop.is_closed():
                asyncio.run_coroutine_threadsafe(_aclose(entry.closer), loop)


async def _aclose(generator: AsyncGenerator[None, None]) -> None:
    await generator.aclose()


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
        method = getattr(await self._channels.stub(), call.rpc)
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
