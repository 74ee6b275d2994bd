"""Scintirete for Python: gRPC client, embedded Lite server, document layer and framework adapters.

::

    from scintirete_integrations import ScintireteClient

    with ScintireteClient("localhost:9090", password="secret") as client:
        client.ensure_collection("default", "docs", metric="cosine")

The LangChain and LlamaIndex stores live in ``scintirete_integrations.langchain`` and
``scintirete_integrations.llama_index`` (extras ``langchain`` and ``llama-index``); this
module never imports either framework.
"""

from __future__ import annotations

from ._retry import RetryPolicy
from .client import USE_CLIENT_DEFAULT, AsyncScintireteClient, ScintireteClient
from .documents import AsyncDocumentCollection, DocumentCollection, Record, ScoredRecord
from .errors import (
    AlreadyExistsError,
    AuthenticationError,
    ClosedError,
    DeadlineExceededError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTooLargeError,
    ScintireteError,
    UnavailableError,
    UnimplementedError,
)
from .models import (
    BgSaveResult,
    CollectionInfo,
    EmbeddingModel,
    EmbeddingModels,
    HnswConfig,
    Metric,
    SaveResult,
    SearchHit,
)

__version__ = "0.1.0"

__all__ = [
    "USE_CLIENT_DEFAULT",
    "AlreadyExistsError",
    "AsyncDocumentCollection",
    "AsyncScintireteClient",
    "AuthenticationError",
    "BgSaveResult",
    "ClosedError",
    "CollectionInfo",
    "DeadlineExceededError",
    "DocumentCollection",
    "EmbeddingModel",
    "EmbeddingModels",
    "HnswConfig",
    "InternalError",
    "InvalidArgumentError",
    "Metric",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "Record",
    "RequestTooLargeError",
    "RetryPolicy",
    "SaveResult",
    "ScintireteClient",
    "ScintireteError",
    "ScoredRecord",
    "SearchHit",
    "UnavailableError",
    "UnimplementedError",
    "__version__",
]
