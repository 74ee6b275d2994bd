"""Connection arguments -> clients, and the process-wide embedded Lite servers."""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Literal, Self

from ..client import AsyncScintireteClient, ScintireteClient
from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from .aio import AsyncDocumentCollection
    from .collection import DocumentCollection

#: A store's ``view_cache=``: a directory, None (the default place, if any) or False (none).
ViewCacheOption = str | os.PathLike[str] | Literal[False] | None

_embedded_servers: dict[str | None, Any] = {}
_embedded_clients: weakref.WeakSet[ScintireteClient] = weakref.WeakSet()
# Open clients made for each persistent embedded server: when the last is closed, the server
# stops and releases its data directory, which another process may then open.
_embedded_users: dict[str, weakref.WeakSet[ScintireteClient]] = {}
_embedded_lock = threading.Lock()


def _embedded_server(data_dir: str | os.PathLike[str] | None) -> Any:
    """The process-wide Lite server for ``data_dir`` (None: in memory), started on first use.

    The directory is named by its real path, so a symlink or a relative path to it finds the same server.
    """
    from ..lite import LiteServer

    key = os.path.realpath(os.fspath(data_dir)) if data_dir is not None else None
    with _embedded_lock:
        server = _embedded_servers.get(key)
        if server is None:
            server = LiteServer(data_dir=key)
            server.start()
            if not _embedded_servers:
                atexit.register(_stop_embedded_servers)
            _embedded_servers[key] = server
        return server


def _stop_embedded_servers() -> None:
    with _embedded_lock:
        for client in _embedded_clients:  # close channels first: a server leaving under them is noisy
            client.close()
        _embedded_clients.clear()
        for server in _embedded_servers.values():
            server.stop()
        _embedded_servers.clear()


def runs_embedded(
    *,
    address: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    client: ScintireteClient | None = None,
    async_client: AsyncScintireteClient | None = None,
) -> bool:
    """Whether :func:`resolve_clients` would use an embedded Lite server for these arguments.

    An embedded server has no embedding model, so a store that embeds on the server can say so
    before doing anything::

        runs_embedded()                          # True, unless $SCINTIRETE_ADDRESS is set
        runs_embedded(address="db:9090")         # False
    """
    if client is not None or async_client is not None or address is not None:
        return False
    return data_dir is not None or not os.environ.get("SCINTIRETE_ADDRESS")


def resolve_clients(
    *,
    address: str | None = None,
    password: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    client: ScintireteClient | None = None,
    async_client: AsyncScintireteClient | None = None,
    **client_options: Any,
) -> tuple[ScintireteClient, AsyncScintireteClient]:
    """The one place that turns connection arguments into a sync and an async client.

    Precedence: given clients (the missing twin is built from the other's settings);
    then ``address``/``password``; then ``$SCINTIRETE_ADDRESS``/``$SCINTIRETE_PASSWORD``; and
    with none of those, an embedded Scintirete Lite server, in memory or persisted at
    ``data_dir``, shared by every store of this process that names the same ``data_dir``.
    """
    if client is not None or async_client is not None:
        if data_dir is not None or address is not None:
            raise InvalidArgumentError("pass either client/async_client or address/data_dir, not both")
        if client is None:
            client = ScintireteClient(**async_client._settings())  # type: ignore[union-attr]
        if async_client is None:
            async_client = AsyncScintireteClient(**client._settings())
        return client, async_client
    if address is None and data_dir is None and os.environ.get("SCINTIRETE_ADDRESS"):
        address = os.environ["SCINTIRETE_ADDRESS"]
        password = password or os.environ.get("SCINTIRETE_PASSWORD")
    if address is not None and data_dir is not None:
        raise InvalidArgumentError("data_dir is for the embedded Lite server; do not combine it with address")
    embedded = address is None
    if embedded:
        server = _embedded_server(data_dir)
        address, password = server.address, server.password
    settings = {"address": address, "password": password, **client_options}
    sync_client = ScintireteClient(**settings)
    async_client = AsyncScintireteClient(**settings)
    if embedded:
        # Same servicer, same checks, no loopback gRPC: 1-2 ms less on every call.
        sync_client._in_process = async_client._in_process = server.in_process()
        with _embedded_lock:
            _embedded_clients.add(sync_client)
            if data_dir is not None:
                _embedded_users.setdefault(os.path.realpath(os.fspath(data_dir)), weakref.WeakSet()).add(
                    sync_client
                )
    return sync_client, async_client


def view_cache_dir(
    data_dir: str | os.PathLike[str] | None, view_cache: ViewCacheOption
) -> str | os.PathLike[str] | None:
    """Where a store keeps its view cache (``docs/view-cache.md``): ``view_cache`` when given,
    else ``<data_dir>/view-cache`` for an embedded server with a data directory, else nowhere;
    ``False``: nowhere (each new process reads the collection back from the server)::

        view_cache_dir("./kb", None)        # './kb/view-cache' (as a real path)
        view_cache_dir(None, "./cache")     # './cache': a store of a server named by address
        view_cache_dir(None, None)          # None: in memory, nothing to open again
        view_cache_dir("./kb", False)       # None: the data directory holds the server's data only
    """
    if view_cache is False:
        return None
    if view_cache is not None:
        return view_cache
    if data_dir is not None:
        return os.path.join(os.path.realpath(os.fspath(data_dir)), "view-cache")
    return None


def close_client(client: ScintireteClient) -> None:
    """Close a client :func:`resolve_clients` made; the last one closed for a ``data_dir`` stops its server.

    That releases the data directory, so another process (or ``scintirete-lite``) can open it.
    In-memory embedded servers keep running until the process exits: stopping one would lose
    its data.
    """
    client.close()
    with _embedded_lock:
        for key, users in list(_embedded_users.items()):
            if client in users:
                users.discard(client)
                if not users:
                    del _embedded_users[key]
                    server = _embedded_servers.pop(key, None)
                    if server is not None:
                        server.stop()


Client = ScintireteClient | AsyncScintireteClient


class ClosesWhatItMade:
    """``close()``, ``aclose()``, ``with`` and ``async with`` for a store, over the clients it made itself.

    A store lists in ``_owned_clients`` the clients :func:`resolve_clients` built for it; clients
    passed in by the caller are never closed (share one client between stores by passing it).
    """

    _owned_clients: list[Client]
    _collection: DocumentCollection
    _async_collection: AsyncDocumentCollection

    def close(self) -> None:
        """Close the store: every later call raises ClosedError, at once.

        The blocking client this store made is closed (a passed-in ``client`` stays open). The
        asyncio client's channels close with their event loop, or now with :meth:`aclose`. Use
        the store as a context manager to close it on leaving the block::

            with ScintireteVectorStore(embeddings, data_dir="./kb") as store:
                store.add_texts(["a note"])
            store.similarity_search("note")   # ClosedError: ... is closed
        """
        owner = f"{type(self).__name__} {self._collection.name!r}"
        self._collection._close_for(owner)
        self._async_collection._close_for(owner)
        for client in self._owned_clients:
            if isinstance(client, ScintireteClient):
                close_client(client)

    def _check_open(self) -> None:
        """ClosedError if the store was closed (for work that would start before a server call)."""
        self._collection._check_open()

    async def aclose(self) -> None:
        """Close the store and both clients it made (passed-in clients stay open)."""
        for client in self._owned_clients:  # channels first, then (perhaps) the embedded server
            if isinstance(client, AsyncScintireteClient):
                await client.close()
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
