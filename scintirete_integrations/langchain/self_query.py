"""``ScintireteTranslator``: a LangChain ``StructuredQuery`` (self-query) -> the layer's filter dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.structured_query import (
    Comparator,
    Comparison,
    Operation,
    Operator,
    StructuredQuery,
    Visitor,
)

from .. import filters
from ..errors import InvalidArgumentError

_COMPARATORS: dict[Comparator, str] = {
    Comparator.EQ: "$eq",
    Comparator.NE: "$ne",
    Comparator.GT: "$gt",
    Comparator.GTE: "$gte",
    Comparator.LT: "$lt",
    Comparator.LTE: "$lte",
    Comparator.IN: "$in",
    Comparator.NIN: "$nin",
    Comparator.CONTAIN: "$contains",
    # LIKE has no pattern language here: it becomes a case-insensitive substring match.
    Comparator.LIKE: "$icontains",
}


def _query_value(value: Any) -> Any:
    # The self-query parser writes dates as {"date": "2024-01-31", "type": "date"} (and "datetime");
    # ISO strings compare in time order, so metadata stored as ISO strings filters correctly.
    if isinstance(value, Mapping) and value.get("type") in ("date", "datetime") and value["type"] in value:
        return value[value["type"]]
    return value


class ScintireteTranslator(Visitor):
    """Translates a LangChain ``StructuredQuery`` into the document layer's filter dict.

    Use it with a ``SelfQueryRetriever`` (``structured_query_translator=ScintireteTranslator()``),
    or directly::

        from langchain_core.structured_query import Comparator, Comparison, StructuredQuery

        query = StructuredQuery("cats", Comparison(comparator=Comparator.GTE, attribute="year", value=2020))
        ScintireteTranslator().visit_structured_query(query)
        # ('cats', {'filter': {'year': {'$gte': 2020}}})

    Comparators map to ``$eq $ne $gt $gte $lt $lte $in $nin $contains``; LIKE becomes ``$icontains``
    (surrounding ``%`` wildcards dropped). AND, OR and NOT map to ``$and``, ``$or`` and ``$not``.
    """

    allowed_comparators = tuple(_COMPARATORS)
    allowed_operators = (Operator.AND, Operator.OR, Operator.NOT)

    def visit_operation(self, operation: Operation) -> dict[str, Any]:
        """``$and`` / ``$or`` of the arguments; NOT of several arguments means none of them matches."""
        if operation.operator not in self.allowed_operators:
            supported = ", ".join(op.value.upper() for op in self.allowed_operators)
            raise InvalidArgumentError(
                f"operator {operation.operator!r} is not supported by Scintirete filters; "
                f"supported: {supported}"
            )
        arguments = [argument.accept(self) for argument in operation.arguments]
        if not arguments:
            raise InvalidArgumentError(
                f"operator {operation.operator.value.upper()} needs at least one argument"
            )
        if operation.operator is Operator.AND:
            return {"$and": arguments}
        if operation.operator is Operator.OR:
            return {"$or": arguments}
        return {"$not": arguments[0] if len(arguments) == 1 else {"$or": arguments}}

    def visit_comparison(self, comparison: Comparison) -> dict[str, Any]:
        """``{attribute: {operator: value}}``."""
        operator = _COMPARATORS.get(comparison.comparator)
        if operator is None:
            supported = ", ".join(comparator.value.upper() for comparator in _COMPARATORS)
            raise InvalidArgumentError(
                f"comparator {comparison.comparator!r} is not supported by Scintirete filters; "
                f"supported: {supported}"
            )
        value = _query_value(comparison.value)
        if operator in ("$in", "$nin") and not isinstance(value, (list, tuple)):
            value = [value]  # a model may write IN with a single value
        if operator == "$icontains":
            if not isinstance(value, str):
                raise InvalidArgumentError(f"LIKE on {comparison.attribute!r} needs a string, got {value!r}")
            value = value.strip("%")
        return {comparison.attribute: {operator: value}}

    def visit_structured_query(self, structured_query: StructuredQuery) -> tuple[str, dict[str, Any]]:
        """``(query, {"filter": ...})``, or ``(query, {})`` without a filter; the filter is validated here."""
        if structured_query.filter is None:
            return structured_query.query, {}
        where = structured_query.filter.accept(self)
        filters.validate(where)
        return structured_query.query, {"filter": where}
