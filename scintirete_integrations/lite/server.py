"""LiteServer: a Scintirete-compatible gRPC server in this process, on a thread pool.

In memory, on a free loopback port, with a generated password::

    with LiteServer() as server:
        client = ScintireteClient(server.address, password=server.password)

Persistent, with server-side embeddings::

    server = LiteServer("./data", port=9090, password="s3cret",
                        embedding=OpenAIEmbeddings("https://api.openai.com/v1", key))
    server.start()
    ...
    server.stop()  # snapshots what was written, so the next start replays one file

Persistent as an unmodified Scintirete server persists, to test code against its restarts::

    server = LiteServer("./data", persistence=ServerPersistence(log_flush_interval=None)).start()
    ...
    server.crash()  # as kill -9: what the log still buffered is lost
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc
import threadpoolctl

from .embedding import EmbeddingProvider, as_provider
from .engine import Engine
from .in_process import InProcessCalls
from .index import DEFAULT_INDEX, IndexKind
from .server_log import Persistence, server_persistence
from .servicer import ScintireteServiceServicer
from .storage import FsyncPolicy

from .._proto.scintirete.v1 import scintirete_pb2_grpc as pb_grpc  # isort: skip

__all__ = ["DEFAULT_MAX_RECEIVE_MESSAGE_BYTES", "LiteServer", "create_server"]

logger = logging.getLogger(__name__)

Pem = bytes | str | os.PathLike[str]

#: gRPC's default receive limit, which the real server keeps: 4 MiB.
DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024
_GRPC_MAX = 2**31 - 1


class _Oversized:
    """Stands in for a request that was larger than the limit, so the handler can refuse it."""

    def __init__(self, size: int) -> None:
        self.size = size


if TYPE_CHECKING:
    _Interceptor = grpc.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.ServerInterceptor  # generic only in grpc-stubs


class _ReceiveLimit(_Interceptor):
    """Refuse requests over ``limit`` bytes as the real (Go) server does, message included.

    grpc-core's own limit answers "SERVER: Received message larger than max (...)"; the Go
    server answers "grpc: received message larger than max (5875731 vs. 4194304)". Both are
    RESOURCE_EXHAUSTED, before anything is decoded or stored.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        decode, behaviour, limit = handler.request_deserializer, handler.unary_unary, self.limit

        def checked_decode(data: bytes) -> Any:
            return _Oversized(len(data)) if len(data) > limit else decode(data)

        def checked(request: Any, context: grpc.ServicerContext) -> Any:
            if isinstance(request, _Oversized):
                context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"grpc: received message larger than max ({request.size} vs. {limit})",
                )
            return behaviour(request, context)

        return grpc.unary_unary_rpc_method_handler(
            checked, request_deserializer=checked_decode, response_serializer=handler.response_serializer
        )


def create_server(
    address: str,
    servicer: Any,
    *,
    max_workers: int = 16,
    max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    credentials: grpc.ServerCredentials | None = None,
    executor: ThreadPoolExecutor | None = None,
) -> tuple[grpc.Server, int]:
    """A gRPC server (not started) serving ``servicer`` on ``address``; returns it and the bound port.

    Requests over ``max_receive_message_bytes`` (default 4 MiB, as on the real server) are
    refused with RESOURCE_EXHAUSTED and the real server's message; responses have no limit
    (a search may return many vectors). Handlers run on ``executor``, or on a new pool of
    ``max_workers`` threads.
    """
    if max_receive_message_bytes <= 0:
        raise ValueError(f"max_receive_message_bytes must be positive, got {max_receive_message_bytes}")
    options = [
        # grpc-core's limit sits above ours, so _ReceiveLimit sees (and words) the refusal.
        ("grpc.max_receive_message_length", min(_GRPC_MAX, 4 * max_receive_message_bytes + 1024 * 1024)),
        ("grpc.max_send_message_length", -1),
        ("grpc.so_reuseport", 0),  # a second server on a taken port must fail, not share it
    ]
    if executor is None:
        executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lite-rpc")
    server = grpc.server(executor, options=options, interceptors=[_ReceiveLimit(max_receive_message_bytes)])
    pb_grpc.add_ScintireteServiceServicer_to_server(servicer, server)
    try:
        port = (
            server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        )
    except RuntimeError as exc:
        server.stop(None)
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    return server, port


def _pem(value: Pem) -> bytes:
    """PEM bytes as given, PEM text, or the contents of a file path."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii")
    return Path(value).read_bytes()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_password() -> str:
    """A random password that can follow ``--password`` on a command line (it never starts with "-")."""
    while (password := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return password


class LiteServer:
    """Scintirete Lite: the v1 gRPC API served from this process by a numpy engine.

    ``data_dir=None`` keeps everything in memory; with a directory every write is logged
    first (``fsync`` "always", "everysec" or "never") and a clean stop takes a snapshot.

    ``persistence="server"`` (with a ``data_dir``) persists as an unmodified Scintirete
    server (v0.2.1) does instead, so code can be tested against what the real server keeps
    across a restart: the log keeps ids, vectors and deletes but writes every vector's
    metadata as ``{}``, so vectors replayed from it come back with empty metadata; only a
    snapshot (``Save``, ``BgSave``, a periodic one) keeps metadata, and it truncates the log;
    :meth:`stop` takes no snapshot (nor does the server's SIGTERM); the log's last bytes sit in a
    4,096-byte buffer, as in Go's ``bufio.Writer``, which :meth:`stop` flushes and
    :meth:`crash` (kill -9) loses. Pass a ``ServerPersistence`` to set the background flush
    (``log_flush_interval``, default 300 s as the shipped config; None: never) and periodic
    snapshots (``snapshot_interval``, default None: none; ``snapshot_min_writes`` 200 and
    ``snapshot_max_age`` 1,800 s, the server's rule). ``fsync`` applies to exact persistence only.
    ``port=0`` picks a free port; :attr:`address` tells which. ``password=None`` generates
    one (:attr:`password`); it never appears in ``repr``. Binding anything but loopback
    without TLS logs a warning. ``tls_client_ca`` makes clients present a certificate.
    While it runs, BLAS in this process uses ``blas_threads`` threads (restored at stop;
    None leaves BLAS alone): searches run in parallel per request instead.

    ``index="exact"`` (default) scans every row, so a search finds every live vector it may
    return; ``index="hnsw"`` builds the real server's graph instead, with its limits (data
    that no search reaches), seeded by ``index_seed`` so runs repeat. Requests over
    ``max_receive_message_bytes`` (default 4 MiB, the real server's limit) are refused with
    RESOURCE_EXHAUSTED.

        with LiteServer(embedding=HashEmbeddings()) as server:
            print(server.address)
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str | None = None,
        *,
        embedding: EmbeddingProvider | Callable[[list[str]], Any] | None = None,
        fsync: FsyncPolicy = "everysec",
        max_workers: int = 16,
        max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        index: IndexKind = DEFAULT_INDEX,
        index_seed: int = 0,
        tls_certificate: Pem | None = None,
        tls_private_key: Pem | None = None,
        tls_client_ca: Pem | None = None,
        blas_threads: int | None = 1,
        persistence: Persistence = "exact",
    ) -> None:
        if password == "":
            raise ValueError("password must not be empty: Scintirete has no anonymous mode")
        if (tls_certificate is None) != (tls_private_key is None):
            raise ValueError("tls_certificate and tls_private_key go together")
        if tls_client_ca is not None and tls_certificate is None:
            raise ValueError("tls_client_ca needs tls_certificate and tls_private_key")
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.persistence = persistence
        self._snapshot_at_stop = server_persistence(persistence) is None  # also rejects a bad value
        if data_dir is None and not self._snapshot_at_stop:
            raise ValueError("persistence='server' needs a data_dir: in memory nothing is persisted")
        self.host = host
        self.port = port
        self._password = password or new_password()
        self.embedding = as_provider(embedding)
        self.fsync: FsyncPolicy = fsync
        self.max_workers = max_workers
        if max_receive_message_bytes <= 0:
            raise ValueError(f"max_receive_message_bytes must be positive, got {max_receive_message_bytes}")
        Engine(index=index, index_seed=index_seed)  # rejects an unknown index or a negative seed now
        self.max_receive_message_bytes = max_receive_message_bytes
        self.index: IndexKind = index
        self.index_seed = index_seed
        self._tls = (tls_certificate, tls_private_key, tls_client_ca)
        self._engine: Engine | None = None
        self._server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._in_process: InProcessCalls | None = None
        self._bound_port = 0
        self.blas_threads = blas_threads
        self._blas_limit: threadpoolctl.threadpool_limits | None = None

    def __repr__(self) -> str:
        where = self.address if self._server is not None else "not started"
        data_dir = str(self.data_dir) if self.data_dir else None
        return f"LiteServer({where}, data_dir={data_dir!r}, index={self.index!r})"

    @property
    def password(self) -> str:
        """The password clients must send (generated when none was given)."""
        return self._password

    @property
    def address(self) -> str:
        """``host:port`` actually bound, e.g. ``127.0.0.1:50123``."""
        if self._server is None:
            raise RuntimeError("LiteServer is not running; call start() or use it in a with block")
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self._bound_port}"

    @property
    def engine(self) -> Engine:
        """The engine behind the server (for tests and benchmarks)."""
        if self._engine is None:
            raise RuntimeError("LiteServer is not running")
        return self._engine

    def in_process(self) -> InProcessCalls:
        """Calls into this server from this process without gRPC (what embedded stores use).

        The same servicer answers, with the same checks and errors; only the transport differs.
        A client of an embedded store holds it in place of a channel::

            response = server.in_process().stub().ListDatabases(request)
        """
        if self._in_process is None:
            raise RuntimeError("LiteServer is not running; call start() or use it in a with block")
        return self._in_process

    @property
    def tls(self) -> bool:
        return self._tls[0] is not None

    def _credentials(self) -> grpc.ServerCredentials | None:
        certificate, key, client_ca = self._tls
        if certificate is None or key is None:
            return None
        return grpc.ssl_server_credentials(
            [(_pem(key), _pem(certificate))],
            root_certificates=_pem(client_ca) if client_ca is not None else None,
            require_client_auth=client_ca is not None,
        )

    def start(self) -> LiteServer:
        """Open (and replay) the data directory, then listen. Returns self."""
        if self._server is not None:
            raise RuntimeError("LiteServer is already running")
        credentials = self._credentials()
        if self.data_dir is None:
            engine = Engine(index=self.index, index_seed=self.index_seed)
        else:
            engine = Engine.open(
                self.data_dir,
                fsync=self.fsync,
                index=self.index,
                index_seed=self.index_seed,
                persistence=self.persistence,
            )
        executor = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="lite-rpc")
        try:
            servicer = ScintireteServiceServicer(engine, self._password, self.embedding)
            bind = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
            server, port = create_server(
                f"{bind}:{self.port}",
                servicer,
                max_receive_message_bytes=self.max_receive_message_bytes,
                credentials=credentials,
                executor=executor,
            )
            server.start()
        except BaseException:
            executor.shutdown(wait=False)
            engine.close()
            raise
        self._engine, self._server, self._executor, self._bound_port = engine, server, executor, port
        self._in_process = InProcessCalls(servicer, self.max_receive_message_bytes)
        if self.blas_threads is not None:
            # Concurrency comes from requests: a multi-threaded BLAS under each one spins its
            # threads against the others (measured: 3x fewer searches per second on 2 cores).
            self._blas_limit = threadpoolctl.threadpool_limits(limits=self.blas_threads, user_api="blas")
        if not _is_loopback(self.host) and credentials is None:
            logger.warning(
                "Scintirete Lite listens on %s without TLS: passwords and data cross the network in clear text",
                self.address,
            )
        logger.info("Scintirete Lite listening on %s (%s)", self.address, self.data_dir or "in memory")
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving (letting calls finish for ``grace`` seconds), snapshot, release the directory.

        The snapshot is taken only when something was written since the last one.
        With no call in flight it returns at once. A graceful stop tells connected clients so
        without an error; ``grace=None`` cancels every call at once, and grpc then logs a GOAWAY
        line in each client process still connected. With ``persistence="server"`` there is no
        snapshot, as on the real server: the log is flushed and closed.
        """
        engine = self._halt(grace)
        if engine is None:
            return
        try:
            # The next start then replays one snapshot instead of a long log. With nothing written
            # since the last snapshot, rewriting it (hundreds of MB for a large store) gains nothing.
            if engine.persistent and self._snapshot_at_stop and engine.unsaved:
                engine.save()
        except Exception:
            logger.exception("snapshot at shutdown failed; the log still holds every write")
        finally:
            engine.close()
            self._engine = None

    def crash(self) -> None:
        """Stop at once as kill -9 stops a server, for crash tests in one process.

        Calls in flight are cancelled (handlers already running finish first, so each write
        is wholly in or out); no snapshot is taken and nothing is flushed: with
        ``persistence="server"`` the log's buffered bytes are lost. The data directory is
        released, so ``LiteServer(same_data_dir, persistence=...)`` can start on it at once.
        """
        engine = self._halt(None)
        if engine is not None:
            try:
                engine.crash()
            finally:
                self._engine = None

    def _halt(self, grace: float | None) -> Engine | None:
        """Stop serving and wait for handlers; returns the engine to close (None if not running)."""
        server, engine = self._server, self._engine
        if server is None or engine is None:
            return None
        self._server = None
        if self._in_process is not None:
            self._in_process.close()  # refuses new in-process calls, waits for running ones
            self._in_process = None
        server.stop(grace).wait()
        if self._blas_limit is not None:
            self._blas_limit.restore_original_limits()
            self._blas_limit = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)  # handlers still running finish before the snapshot
            self._executor = None
        return engine

    def __enter__(self) -> LiteServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
