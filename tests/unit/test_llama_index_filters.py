"""LlamaIndex MetadataFilters -> the filter language, query planning, and nodes <-> records; pure.

The meaning of every operator is checked against a brute-force evaluation, through the server,
in tests/integration/test_llama_index.py.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from llama_index.core.schema import (
    IndexNode,
    Node,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from scintirete_integrations import InvalidArgumentError, filters
from scintirete_integrations._metadata import decode_metadata, encode_metadata
from scintirete_integrations.documents import Record, ScoredRecord
from scintirete_integrations.llama_index import (
    FILTER_OPERATORS,
    ScintireteVectorStore,
    metadata_filters_to_filter,
    node_to_record,
    query_result,
    record_to_node,
)
from scintirete_integrations.llama_index.queries import _plan_search

F = FilterOperator


def _one(key: str, value: Any, operator: FilterOperator = F.EQ) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=operator)])


# -- the table and its errors --------------------------------------------------------------------


def test_every_filter_operator_is_in_the_table() -> None:
    assert set(FILTER_OPERATORS) == set(FilterOperator)


@pytest.mark.parametrize(
    ("mf", "expected"),
    [
        (_one("year", 2020), {"year": {"$eq": 2020}}),
        (_one("year", 2020, F.GTE), {"year": {"$gte": 2020}}),
        (_one("tag", ["a", "b"], F.ANY), {"tag": {"$in": ["a", "b"]}}),
        (_one("tag", ["a", "b"], F.ALL), {"tag": {"$all": ["a", "b"]}}),
        (_one("tag", "a", F.CONTAINS), {"tag": {"$contains": "a"}}),
        (_one("title", "Deep", F.TEXT_MATCH), {"title": {"$gte": "", "$contains": "Deep"}}),
        (_one("title", "deep", F.TEXT_MATCH_INSENSITIVE), {"title": {"$gte": "", "$icontains": "deep"}}),
        (
            _one("x", None, F.IS_EMPTY),
            {
                "$or": [
                    {"x": {"$exists": False}},
                    {"x": {"$eq": None}},
                    {"x": {"$eq": ""}},
                    {"x": {"$eq": []}},
                ]
            },
        ),
        (
            MetadataFilters(
                filters=[
                    MetadataFilter(key="a", value=1),
                    MetadataFilters(
                        filters=[MetadataFilter(key="b", value=2)], condition=FilterCondition.NOT
                    ),
                ],
                condition=FilterCondition.OR,
            ),
            {"$or": [{"a": {"$eq": 1}}, {"$not": {"b": {"$eq": 2}}}]},
        ),
        (MetadataFilters(filters=[]), None),
        (None, None),
    ],
)
def test_translations(mf: MetadataFilters | None, expected: dict[str, Any] | None) -> None:
    assert metadata_filters_to_filter(mf) == expected


def test_not_means_none_of_them_and_empty_matches_everything() -> None:
    not_filter = MetadataFilters(
        filters=[MetadataFilter(key="a", value=1), MetadataFilter(key="b", value=2)],
        condition=FilterCondition.NOT,
    )
    assert metadata_filters_to_filter(not_filter) == {"$not": {"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]}}
    nested_empty = MetadataFilters(filters=[MetadataFilters(filters=[]), MetadataFilter(key="a", value=1)])
    assert metadata_filters_to_filter(nested_empty) == {"$and": [{}, {"a": {"$eq": 1}}]}
    assert filters.matches(metadata_filters_to_filter(nested_empty), {"a": 1})


@pytest.mark.parametrize(
    "metadata",
    [{}, {"x": None}, {"x": ""}, {"x": []}, {"x": " "}, {"x": [""]}, {"x": 0}, {"x": False}, {"x": {}}],
)
def test_is_empty_agrees_with_llama_index_core(metadata: dict[str, Any]) -> None:
    mf = _one("x", None, F.IS_EMPTY)
    reference = build_metadata_filter_fn(lambda node_id: metadata, mf)
    assert filters.matches(metadata_filters_to_filter(mf), metadata) is reference("node")


def test_unsupported_operator_names_the_supported_ones() -> None:
    odd = MetadataFilter.model_construct(key="title", value="^A", operator="regex")
    with pytest.raises(InvalidArgumentError, match=r"'regex' on key 'title' is not supported.*EQ, NE, GT"):
        metadata_filters_to_filter(MetadataFilters(filters=[odd]))


def test_unsupported_condition_is_refused() -> None:
    odd = MetadataFilters.model_construct(filters=[MetadataFilter(key="a", value=1)], condition="xor")
    with pytest.raises(
        InvalidArgumentError, match="condition 'xor' is not supported; supported: and, or, not"
    ):
        metadata_filters_to_filter(odd)


def test_text_match_needs_a_string() -> None:
    with pytest.raises(InvalidArgumentError, match="needs a string value"):
        metadata_filters_to_filter(_one("title", 3, F.TEXT_MATCH))


def test_bad_operands_are_refused_by_the_filter_language() -> None:
    with pytest.raises(InvalidArgumentError, match=r"'\$in'.*needs a list"):
        filters.validate(metadata_filters_to_filter(_one("tag", "a", F.IN)))


# -- queries -------------------------------------------------------------------------------------


def test_plan_search_default_and_restrictions() -> None:
    query = VectorStoreQuery(
        query_embedding=[1.0, 0.0],
        similarity_top_k=3,
        node_ids=["n1", "n2"],
        doc_ids=["d1"],
        filters=_one("year", 2020),
    )
    plan = _plan_search(query, {})
    assert plan.vector == [1.0, 0.0] and plan.k == 3 and not plan.mmr
    assert plan.ids == ["n1", "n2"]
    assert plan.filter == {"$and": [{"year": {"$eq": 2020}}, {"ref_doc_id": {"$in": ["d1"]}}]}
    empty = _plan_search(VectorStoreQuery(query_embedding=[1.0], doc_ids=[], node_ids=[]), {})
    assert (empty.filter, empty.ids) == (None, None)  # LlamaIndex passes [] for "no restriction"


def test_plan_search_mmr_arguments() -> None:
    mmr = VectorStoreQueryMode.MMR
    plan = _plan_search(VectorStoreQuery(query_embedding=[1.0], similarity_top_k=3, mode=mmr), {})
    assert (plan.mmr, plan.lambda_mult, plan.fetch_k) == (True, 0.5, 12)
    plan = _plan_search(
        VectorStoreQuery(query_embedding=[1.0], similarity_top_k=3, mode=mmr),
        {"mmr_threshold": 0.2, "mmr_prefetch_factor": 2},
    )
    assert (plan.lambda_mult, plan.fetch_k) == (0.2, 6)
    plan = _plan_search(
        VectorStoreQuery(query_embedding=[1.0], similarity_top_k=3, mode=mmr, mmr_threshold=0.9),
        {"mmr_prefetch_k": 7},
    )
    assert (plan.lambda_mult, plan.fetch_k) == (0.9, 7)


def test_plan_search_keyword_modes_read_query_str_and_no_embedding() -> None:
    text = _plan_search(
        VectorStoreQuery(query_str="ERR_4031", similarity_top_k=3, sparse_top_k=7, mode="text_search"), {}
    )
    assert (text.kind, text.text, text.k, text.vector) == ("keyword", "ERR_4031", 3, None)
    sparse = VectorStoreQuery(query_str="ERR_4031", similarity_top_k=3, sparse_top_k=7, mode="sparse")
    assert (_plan_search(sparse, {}).kind, _plan_search(sparse, {}).k) == ("keyword", 7)
    default_depth = VectorStoreQuery(query_str="q", similarity_top_k=3, mode="sparse")
    assert _plan_search(default_depth, {}).k == 3
    with pytest.raises(InvalidArgumentError, match="query_str is required in mode 'text_search'"):
        _plan_search(VectorStoreQuery(query_embedding=[1.0], mode="text_search"), {})


def test_plan_search_hybrid_depths_and_alpha() -> None:
    query = VectorStoreQuery(
        query_embedding=[1.0], query_str="q", similarity_top_k=8, sparse_top_k=5, hybrid_top_k=3,
        alpha=0.2, mode="hybrid", doc_ids=["d1"],
    )  # fmt: skip
    plan = _plan_search(query, {})
    assert (plan.kind, plan.k, plan.dense_k, plan.keyword_k, plan.alpha) == ("hybrid", 3, 8, 5, 0.2)
    assert plan.filter == {"ref_doc_id": {"$in": ["d1"]}} and plan.vector == [1.0]
    defaults = _plan_search(
        VectorStoreQuery(query_embedding=[1.0], query_str="q", similarity_top_k=4, mode="hybrid"), {}
    )
    assert (defaults.k, defaults.dense_k, defaults.keyword_k, defaults.alpha) == (4, 4, 4, 0.5)
    with pytest.raises(InvalidArgumentError, match="query_embedding is required in mode 'hybrid'"):
        _plan_search(VectorStoreQuery(query_str="q", mode="hybrid"), {})
    with pytest.raises(InvalidArgumentError, match="query_str is required in mode 'hybrid'"):
        _plan_search(VectorStoreQuery(query_embedding=[1.0], mode="hybrid"), {})


@pytest.mark.parametrize(
    "mode",
    [m for m in VectorStoreQueryMode if m.value not in ("default", "mmr", "text_search", "sparse", "hybrid")],
)
def test_plan_search_refuses_other_modes(mode: VectorStoreQueryMode) -> None:
    query = VectorStoreQuery(query_embedding=[1.0], query_str="q", mode=mode)
    with pytest.raises(
        InvalidArgumentError,
        match=rf"mode '{mode.value}' is not supported.*'default', 'mmr', 'text_search', 'sparse', 'hybrid'",
    ):
        _plan_search(query, {})


def test_plan_search_refuses_missing_embedding_and_unknown_kwargs() -> None:
    with pytest.raises(InvalidArgumentError, match="query_embedding is required"):
        _plan_search(VectorStoreQuery(query_str="only text"), {})
    with pytest.raises(
        InvalidArgumentError, match=r"unknown query keyword argument.*alpha_boost.*mmr_threshold"
    ):
        _plan_search(VectorStoreQuery(query_embedding=[1.0]), {"alpha_boost": 1})


# -- nodes <-> records ---------------------------------------------------------------------------

METADATA: dict[str, Any] = {
    "page": 3,
    "score": 1.0,
    "ok": True,
    "none": None,
    "tags": ["a", 2, 2.5],
    "author": {"name": "Ada", "born": 1815},
}


def _through_the_wire(record: Record) -> Record:
    """What a read gives back: metadata through the layer's exact encoding, no vector."""
    return Record(
        record.id, record.text, None, decode_metadata(encode_metadata(record.metadata)), record.group
    )


@pytest.mark.parametrize(
    "node",
    [
        TextNode(
            id_="t1",
            text="hello world",
            metadata=METADATA,
            excluded_llm_metadata_keys=["page"],
            excluded_embed_metadata_keys=["author"],
            start_char_idx=4,
            end_char_idx=15,
            embedding=[0.1, 0.2],
            relationships={
                NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-1", metadata={"k": 1}),
                NodeRelationship.PREVIOUS: RelatedNodeInfo(node_id="t0"),
                NodeRelationship.NEXT: RelatedNodeInfo(node_id="t2"),
            },
        ),
        IndexNode(id_="i1", text="summary", index_id="sub-index", metadata={"n": 1}, embedding=[0.3, 0.4]),
        Node(id_="n1", text_resource={"text": "multi"}, metadata={"n": 2}, embedding=[0.5, 0.6]),
        TextNode(id_="empty", text="", embedding=[1.0, 0.0]),
    ],
    ids=lambda node: type(node).__name__,
)
def test_node_round_trip(node: Any) -> None:
    record = node_to_record(node)
    assert record.id == node.node_id and record.group == node.ref_doc_id
    assert list(record.vector) == node.embedding  # type: ignore[arg-type]
    back = record_to_node(_through_the_wire(record))
    assert type(back) is type(node)
    assert back.node_id == node.node_id
    assert back.get_content() == node.get_content()
    assert back.metadata == node.metadata
    assert {k: type(v) for k, v in back.metadata.items()} == {k: type(v) for k, v in node.metadata.items()}
    assert back.relationships == node.relationships
    assert back.excluded_llm_metadata_keys == node.excluded_llm_metadata_keys
    assert back.excluded_embed_metadata_keys == node.excluded_embed_metadata_keys
    assert back.hash == node.hash
    assert back.embedding is None


def test_node_to_record_needs_an_embedding_and_does_not_touch_the_node() -> None:
    node = TextNode(id_="x", text="t", metadata={"a": 1})
    with pytest.raises(InvalidArgumentError, match="node 'x' has no embedding"):
        node_to_record(node)
    node.embedding = [1.0]
    node_to_record(node)
    assert node.metadata == {"a": 1}


def test_record_to_node_refuses_foreign_records() -> None:
    with pytest.raises(InvalidArgumentError, match="record 'r' was not written by LlamaIndex"):
        record_to_node(Record("r", "text", None, {"a": 1}))


def test_query_result() -> None:
    records = [
        _through_the_wire(node_to_record(TextNode(id_=f"n{i}", text=f"t{i}", embedding=[1.0])))
        for i in range(2)
    ]
    hits = [ScoredRecord(records[0], 0.0, 1.0), ScoredRecord(records[1], 1.0, 0.5)]
    result = query_result(hits)
    assert result.ids == ["n0", "n1"]
    assert result.similarities == [1.0, 0.0]  # cosine similarity, as LlamaIndex's own stores
    assert query_result(hits, "inner_product").similarities == [-0.0, -1.0]  # the dot product
    assert query_result(hits, "l2").similarities == [1.0, 0.5]
    assert [n.get_content() for n in result.nodes or []] == ["t0", "t1"]
    assert query_result([]).ids == []


@pytest.mark.parametrize(
    ("sync_name", "async_name"),
    [
        ("add", "async_add"),
        ("delete", "adelete"),
        ("delete_nodes", "adelete_nodes"),
        ("get_nodes", "aget_nodes"),
        ("clear", "aclear"),
        ("query", "aquery"),
    ],
)
def test_store_sync_and_async_twins_match(sync_name: str, async_name: str) -> None:
    sync_method = getattr(ScintireteVectorStore, sync_name)
    async_method = getattr(ScintireteVectorStore, async_name)
    assert inspect.iscoroutinefunction(async_method)
    # Overridden here, not inherited from LlamaIndex's fallbacks that call the sync method.
    assert async_method.__qualname__ == f"ScintireteVectorStore.{async_name}"

    def named(method: Any) -> list[tuple[str, Any]]:  # **kwargs names follow LlamaIndex's base class
        parameters = inspect.signature(method).parameters.values()
        return [(p.name, p.default) for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]

    assert named(sync_method) == named(async_method)
