"""``VectorStoreQuery`` -> what the document layer is asked: checks, filters, restrictions, MMR settings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from ..errors import InvalidArgumentError
from .metadata_filters import metadata_filters_to_filter
from .nodes import REF_DOC_KEY

_SUPPORTED_MODES = (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR)
_MODES = {mode.value: mode for mode in VectorStoreQueryMode}  # a mode given as a plain string counts too
_QUERY_KWARGS = ("mmr_threshold", "mmr_prefetch_k", "mmr_prefetch_factor")
_DEFAULT_MMR_LAMBDA = 0.5
_DEFAULT_MMR_PREFETCH_FACTOR = 4.0


@dataclass(frozen=True)
class _Search:
    """What the document layer is asked for one ``VectorStoreQuery``."""

    vector: list[float]
    k: int
    filter: dict[str, Any] | None
    ids: list[str] | None
    mmr: bool
    fetch_k: int
    lambda_mult: float


def _plan_search(query: VectorStoreQuery, kwargs: Mapping[str, Any]) -> _Search:
    """Check a query and turn it into document-layer arguments; raises on anything unsupported."""
    unknown = sorted(set(kwargs) - set(_QUERY_KWARGS))
    if unknown:
        raise InvalidArgumentError(
            f"unknown query keyword argument(s) {', '.join(unknown)}; supported: {', '.join(_QUERY_KWARGS)}"
        )
    mode = _MODES.get(query.mode)
    if mode not in _SUPPORTED_MODES:
        raise InvalidArgumentError(
            f"query mode {mode.value if mode else query.mode!r} is not supported by ScintireteVectorStore; supported: "
            f"{', '.join(repr(m.value) for m in _SUPPORTED_MODES)} (dense vector search; no sparse, "
            "hybrid, text-search or learner modes)"
        )
    if query.query_embedding is None:
        raise InvalidArgumentError(
            "VectorStoreQuery.query_embedding is required: ScintireteVectorStore searches by vector "
            "(query_str alone is not searchable)"
        )
    where = metadata_filters_to_filter(query.filters)
    if query.doc_ids:
        by_doc = {REF_DOC_KEY: {"$in": list(query.doc_ids)}}
        where = by_doc if where is None else {"$and": [where, by_doc]}
    k = query.similarity_top_k
    mmr = mode == VectorStoreQueryMode.MMR
    lambda_mult = query.mmr_threshold if query.mmr_threshold is not None else kwargs.get("mmr_threshold")
    prefetch_k = kwargs.get("mmr_prefetch_k")
    if prefetch_k is None:
        prefetch_k = math.ceil(k * float(kwargs.get("mmr_prefetch_factor", _DEFAULT_MMR_PREFETCH_FACTOR)))
    return _Search(
        vector=list(query.query_embedding),
        k=k,
        filter=where,
        ids=list(query.node_ids) if query.node_ids else None,
        mmr=mmr,
        fetch_k=int(prefetch_k),
        lambda_mult=_DEFAULT_MMR_LAMBDA if lambda_mult is None else float(lambda_mult),
    )
