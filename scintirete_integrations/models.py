"""Typed values that appear in the public API.

Everything here is a plain frozen dataclass or enum: no protobuf type is ever
part of a public signature (``_convert.py`` crosses that line).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgumentError

__all__ = [
    "BgSaveResult",
    "CollectionInfo",
    "EmbeddingModel",
    "EmbeddingModels",
    "HnswConfig",
    "Metric",
    "SaveResult",
    "SearchHit",
]


class Metric(enum.StrEnum):
    """Distance metric of a collection. Distances are always lower-is-closer.

    >>> Metric.parse("cosine") is Metric.COSINE
    True
    """

    L2 = "l2"
    COSINE = "cosine"
    INNER_PRODUCT = "inner_product"

    @classmethod
    def parse(cls, value: Metric | str) -> Metric:
        """Accept a :class:`Metric` or its name in any case (``"l2"``, ``"COSINE"``, ``"ip"``)."""
        if isinstance(value, Metric):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("-", "_").replace(" ", "_")
            key = {"ip": "inner_product", "dot": "inner_product", "euclidean": "l2"}.get(key, key)
            for metric in cls:
                if metric.value == key:
                    return metric
        choices = ", ".join(repr(m.value) for m in cls)
        raise InvalidArgumentError(f"unknown metric {value!r}; expected one of {choices}")


@dataclass(frozen=True)
class HnswConfig:
    """HNSW build parameters. ``0`` means the server default (m 16, ef_construction 200)."""

    m: int = 0
    ef_construction: int = 0


@dataclass(frozen=True)
class CollectionInfo:
    """What ``GetCollectionInfo`` reports.

    ``vector_count`` is the live count, ``deleted_count`` the soft-deleted one;
    ``dimension`` is 0 until the first insert fixes it.
    """

    name: str
    dimension: int
    vector_count: int
    deleted_count: int
    memory_bytes: int
    metric: Metric | None
    hnsw: HnswConfig = field(default_factory=HnswConfig)

    @property
    def total_inserted(self) -> int:
        """Live plus soft-deleted vectors: grows with every insert, never shrinks."""
        return self.vector_count + self.deleted_count


@dataclass(frozen=True)
class SearchHit:
    """One search result: the server id, its distance (lower is closer) and metadata.

    ``vector`` is filled only when the search asked for ``include_vector=True``.
    """

    id: int
    distance: float
    metadata: dict[str, Any]
    vector: Sequence[float] | None = None


@dataclass(frozen=True)
class EmbeddingModel:
    """An embedding model the server can use for the ``Embed*`` RPCs."""

    id: str
    name: str
    dimension: int
    available: bool
    description: str = ""


@dataclass(frozen=True)
class EmbeddingModels:
    """The server's embedding models and the one it uses when none is named."""

    models: list[EmbeddingModel]
    default_model: str


@dataclass(frozen=True)
class SaveResult:
    """Outcome of a blocking ``Save``."""

    success: bool
    message: str
    snapshot_size: int
    duration_seconds: float


@dataclass(frozen=True)
class BgSaveResult:
    """Outcome of ``BgSave``: the snapshot continues in the background as ``job_id``."""

    success: bool
    message: str
    job_id: str
