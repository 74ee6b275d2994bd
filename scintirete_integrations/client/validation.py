"""Checking what callers pass before anything is sent: names, counts, texts and vectors (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError

VectorsLike = Sequence[Sequence[float]] | np.ndarray


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
