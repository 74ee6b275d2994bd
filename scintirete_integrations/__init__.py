"""Scintirete for Python: gRPC client, embedded Lite server, document layer and framework adapters."""

from __future__ import annotations

from .errors import (
    AlreadyExistsError,
    AuthenticationError,
    DeadlineExceededError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ScintireteError,
    UnavailableError,
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
    "AlreadyExistsError",
    "AuthenticationError",
    "BgSaveResult",
    "CollectionInfo",
    "DeadlineExceededError",
    "EmbeddingModel",
    "EmbeddingModels",
    "HnswConfig",
    "InternalError",
    "InvalidArgumentError",
    "Metric",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "SaveResult",
    "ScintireteError",
    "SearchHit",
    "UnavailableError",
    "__version__",
]
