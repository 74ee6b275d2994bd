"""LlamaIndex ``MetadataFilters`` -> the filter language of :mod:`scintirete_integrations.filters`.

One translation table, :data:`FILTER_OPERATORS`, maps each ``FilterOperator``; AND, OR and NOT
nest to any depth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from .._metadata import plain_value
from ..errors import InvalidArgumentError


def _op(name: str) -> Callable[[str, Any], dict[str, Any]]:
    return lambda key, value: {key: {name: value}}


def _text_match(name: str) -> Callable[[str, Any], dict[str, Any]]:
    def build(key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, str):
            raise InvalidArgumentError(
                f"a text-match filter on {key!r} needs a string value, got {type(value).__name__} {value!r}"
            )
        # "$gte": "" holds for every string and for nothing else: it keeps the match to string fields.
        return {key: {"$gte": "", name: value}}

    return build


def _is_empty(key: str, value: Any) -> dict[str, Any]:
    # As llama-index-core's build_metadata_filter_fn: missing, None, "" or [].
    return {"$or": [{key: {"$exists": False}}, {key: {"$eq": None}}, {key: {"$eq": ""}}, {key: {"$eq": []}}]}


#: The one translation table: a LlamaIndex operator, a key and a value -> a filter of filters.py.
FILTER_OPERATORS: Mapping[FilterOperator, Callable[[str, Any], dict[str, Any]]] = {
    FilterOperator.EQ: _op("$eq"),
    FilterOperator.NE: _op("$ne"),
    FilterOperator.GT: _op("$gt"),
    FilterOperator.GTE: _op("$gte"),
    FilterOperator.LT: _op("$lt"),
    FilterOperator.LTE: _op("$lte"),
    FilterOperator.IN: _op("$in"),
    FilterOperator.NIN: _op("$nin"),
    FilterOperator.ANY: _op("$in"),  # a list field with any element among the values
    FilterOperator.ALL: _op("$all"),  # a list field holding every one of the values
    FilterOperator.CONTAINS: _op("$contains"),  # a list element, or a substring of a string field
    FilterOperator.TEXT_MATCH: _text_match("$contains"),  # substring of a string field
    FilterOperator.TEXT_MATCH_INSENSITIVE: _text_match("$icontains"),
    FilterOperator.IS_EMPTY: _is_empty,  # missing, null, "" or an empty list
}


def metadata_filters_to_filter(filters: MetadataFilters | None) -> dict[str, Any] | None:
    """Translate LlamaIndex ``MetadataFilters`` into a filter of :mod:`scintirete_integrations.filters`.

    AND, OR and NOT nest to any depth. NOT means "none of the filters match", as in LlamaIndex's own
    ``build_metadata_filter_fn``. An empty ``MetadataFilters`` matches everything. Keys with dots
    reach into nested metadata (``"author.name"``), and a stored key holding dots wins over the
    path. Returns None when there is nothing to filter.

    >>> metadata_filters_to_filter(MetadataFilters(filters=[MetadataFilter(key="year", value=2020, operator=">=")]))
    {'year': {'$gte': 2020}}
    """
    if filters is None:
        return None
    return _translate(filters) or None


def _translate(filters: MetadataFilters) -> dict[str, Any]:
    parts = [
        _translate(item) if isinstance(item, MetadataFilters) else _translate_one(item)
        for item in filters.filters
    ]
    if not parts:
        return {}
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return parts[0] if len(parts) == 1 else {"$and": parts}
    any_of = parts[0] if len(parts) == 1 else {"$or": parts}
    if condition == FilterCondition.OR:
        return any_of
    if condition == FilterCondition.NOT:
        return {"$not": any_of}
    supported = ", ".join(c.value for c in FilterCondition)
    raise InvalidArgumentError(f"filter condition {condition!r} is not supported; supported: {supported}")


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _float32_value(value: Any) -> Any:
    """A float that is exactly a float32 value, read as that float32 (see ``_metadata.plain_value``).

    ``MetadataFilter`` turns a numpy value into a Python float before the store sees it:
    ``np.float32(0.1)`` arrives as ``0.10000000149011612``, while the store holds it as ``0.1``.
    Only floats that a float32 widens to change; ``0.1`` or ``2.5`` stay as they are.
    """
    if isinstance(value, list):
        return [_float32_value(item) for item in value]
    if type(value) is float and abs(value) <= _FLOAT32_MAX and float(np.float32(value)) == value:
        return plain_value(np.float32(value))
    return value


def _translate_one(item: MetadataFilter) -> dict[str, Any]:
    build = FILTER_OPERATORS.get(item.operator)
    if build is None:
        supported = ", ".join(op.name for op in FILTER_OPERATORS)
        raise InvalidArgumentError(
            f"filter operator {item.operator!r} on key {item.key!r} is not supported by "
            f"ScintireteVectorStore; supported: {supported}"
        )
    return build(item.key, _float32_value(item.value))
