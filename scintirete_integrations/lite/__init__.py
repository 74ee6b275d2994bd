"""Scintirete Lite: an embedded, pure-Python + numpy server speaking the Scintirete v1 gRPC API.

Same wire contract, status codes and messages as an unmodified Scintirete server, with
exact search instead of HNSW, and metadata that survives restarts::

    from scintirete_integrations.lite import LiteServer, HashEmbeddings

    with LiteServer(embedding=HashEmbeddings()) as server:
        print(server.address, server.password)

From a shell: ``scintirete-lite --data-dir ./data`` or ``python -m scintirete_integrations.lite``.
``persistence="server"`` (``--persistence server``) persists as the real server does instead,
metadata losses included, to test code against them.
"""

from __future__ import annotations

from .embedding import CallableEmbeddings, EmbeddingError, EmbeddingProvider, HashEmbeddings, OpenAIEmbeddings
from .engine import Engine, SaveInfo, SearchResult
from .server import LiteServer, create_server
from .server_log import ServerPersistence
from .storage import CorruptLogError, StorageError

__all__ = [
    "CallableEmbeddings",
    "CorruptLogError",
    "EmbeddingError",
    "EmbeddingProvider",
    "Engine",
    "HashEmbeddings",
    "LiteServer",
    "OpenAIEmbeddings",
    "SaveInfo",
    "SearchResult",
    "ServerPersistence",
    "StorageError",
    "create_server",
]
