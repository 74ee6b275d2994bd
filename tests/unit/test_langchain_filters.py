"""ScintireteTranslator: LangChain structured queries -> the document layer's filter dicts (no server)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.structured_query import Comparator, Comparison, Operation, Operator, StructuredQuery

from scintirete_integrations import InvalidArgumentError
from scintirete_integrations.filters import compile as compile_filter
from scintirete_integrations.langchain import ScintireteTranslator

translate = ScintireteTranslator()


def cmp(comparator: Comparator, attribute: str, value: Any) -> Comparison:
    return Comparison(comparator=comparator, attribute=attribute, value=value)


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        (Comparator.EQ, "en", {"lang": {"$eq": "en"}}),
        (Comparator.NE, "en", {"lang": {"$ne": "en"}}),
        (Comparator.GT, 3, {"lang": {"$gt": 3}}),
        (Comparator.GTE, 3, {"lang": {"$gte": 3}}),
        (Comparator.LT, 2.5, {"lang": {"$lt": 2.5}}),
        (Comparator.LTE, "b", {"lang": {"$lte": "b"}}),
        (Comparator.IN, ["en", "de"], {"lang": {"$in": ["en", "de"]}}),
        (Comparator.NIN, ["en"], {"lang": {"$nin": ["en"]}}),
        (Comparator.CONTAIN, "rag", {"lang": {"$contains": "rag"}}),
        (Comparator.LIKE, "%Eng%", {"lang": {"$icontains": "Eng"}}),
    ],
)
def test_every_comparator(comparator: Comparator, value: Any, expected: dict[str, Any]) -> None:
    assert translate.visit_comparison(cmp(comparator, "lang", value)) == expected


def test_every_langchain_comparator_and_operator_is_supported() -> None:
    assert set(ScintireteTranslator.allowed_comparators or ()) == set(Comparator)
    assert set(ScintireteTranslator.allowed_operators or ()) == set(Operator)


def test_operators_nest() -> None:
    tree = Operation(
        operator=Operator.OR,
        arguments=[
            Operation(
                operator=Operator.AND,
                arguments=[cmp(Comparator.GTE, "year", 2020), cmp(Comparator.EQ, "author.name", "ann")],
            ),
            Operation(operator=Operator.NOT, arguments=[cmp(Comparator.IN, "lang", ["en", "de"])]),
        ],
    )
    assert tree.accept(translate) == {
        "$or": [
            {"$and": [{"year": {"$gte": 2020}}, {"author.name": {"$eq": "ann"}}]},
            {"$not": {"lang": {"$in": ["en", "de"]}}},
        ]
    }


def test_not_of_several_arguments_means_none_of_them() -> None:
    where = translate.visit_operation(
        Operation(operator=Operator.NOT, arguments=[cmp(Comparator.EQ, "a", 1), cmp(Comparator.EQ, "b", 2)])
    )
    assert where == {"$not": {"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]}}
    match = compile_filter(where)
    assert match({"a": 3, "b": 3}) and not match({"a": 1, "b": 3}) and not match({"a": 3, "b": 2})


def test_structured_query_with_and_without_filter() -> None:
    assert translate.visit_structured_query(StructuredQuery("cats", None)) == ("cats", {})
    query = StructuredQuery("cats", cmp(Comparator.LT, "year", 2000), limit=2)
    assert translate.visit_structured_query(query) == ("cats", {"filter": {"year": {"$lt": 2000}}})


def test_translated_filters_mean_what_the_comparators_say() -> None:
    records = [
        {"year": 2019, "tags": ["pet"], "title": "The Cat"},
        {"year": 2023, "tags": ["news"], "title": "Markets"},
    ]

    def matching(comparison: Comparison) -> list[int]:
        match = compile_filter(translate.visit_comparison(comparison))
        return [i for i, record in enumerate(records) if match(record)]

    assert matching(cmp(Comparator.GT, "year", 2020)) == [1]
    assert matching(cmp(Comparator.NIN, "tags", ["pet"])) == [1]
    assert matching(cmp(Comparator.CONTAIN, "tags", "pet")) == [0]
    assert matching(cmp(Comparator.LIKE, "title", "cat")) == [0]  # case-insensitive substring
    assert matching(cmp(Comparator.NE, "year", 2019)) == [1]


def test_dates_from_the_self_query_parser_become_iso_strings() -> None:
    date = cmp(Comparator.GTE, "published", {"date": "2024-01-31", "type": "date"})
    assert translate.visit_comparison(date) == {"published": {"$gte": "2024-01-31"}}
    moment = cmp(Comparator.LT, "at", {"datetime": "2024-01-31T10:00:00", "type": "datetime"})
    assert translate.visit_comparison(moment) == {"at": {"$lt": "2024-01-31T10:00:00"}}


def test_in_with_a_single_value_is_a_one_element_list() -> None:
    assert translate.visit_comparison(cmp(Comparator.IN, "lang", "en")) == {"lang": {"$in": ["en"]}}


def test_unsupported_or_invalid_input_fails_clearly() -> None:
    unknown = Comparison.model_construct(comparator="regex", attribute="a", value="x")
    with pytest.raises(InvalidArgumentError, match=r"comparator 'regex' is not supported.*EQ, NE, GT"):
        translate.visit_comparison(unknown)
    xor = Operation.model_construct(operator="xor", arguments=[cmp(Comparator.EQ, "a", 1)])
    with pytest.raises(InvalidArgumentError, match=r"operator 'xor' is not supported.*AND, OR, NOT"):
        translate.visit_operation(xor)
    with pytest.raises(InvalidArgumentError, match="needs at least one argument"):
        translate.visit_operation(Operation(operator=Operator.AND, arguments=[]))
    with pytest.raises(InvalidArgumentError, match="LIKE on 'title' needs a string"):
        translate.visit_comparison(cmp(Comparator.LIKE, "title", 3))
    # The whole filter is validated by the filter language before any search runs.
    with pytest.raises(InvalidArgumentError, match=r"'\$gt'.*needs a number or a string"):
        translate.visit_structured_query(StructuredQuery("q", cmp(Comparator.GT, "year", [1, 2])))
    with pytest.raises(InvalidArgumentError, match="reserved prefix"):
        translate.visit_structured_query(StructuredQuery("q", cmp(Comparator.EQ, "_sci_id", "a")))
