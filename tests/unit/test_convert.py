"""Every converter pair round-trips over shared fixtures."""

from __future__ import annotations

import pytest

from scintirete_integrations import _convert as convert
from scintirete_integrations.errors import InvalidArgumentError
from scintirete_integrations.models import CollectionInfo, EmbeddingModel, HnswConfig, Metric, SearchHit

from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb  # isort: skip

INFOS = [
    CollectionInfo("docs", 384, 10, 2, 4096, Metric.COSINE, HnswConfig(16, 200)),
    CollectionInfo("empty", 0, 0, 0, 0, Metric.L2, HnswConfig(4, 50)),
    CollectionInfo("ip", 3, 1, 0, 1, Metric.INNER_PRODUCT, HnswConfig()),
]
METADATA = [{}, {"a": 1.5, "b": "x", "c": True, "d": None, "e": [1.0, "y", {"z": []}], "f": {"g": {}}}]


@pytest.mark.parametrize("info", INFOS, ids=lambda i: i.name)
def test_collection_info_round_trip(info: CollectionInfo) -> None:
    assert convert.collection_info_from_pb(convert.collection_info_to_pb(info)) == info


@pytest.mark.parametrize("metric", list(Metric))
def test_metric_round_trip(metric: Metric) -> None:
    assert convert.metric_from_pb(convert.metric_to_pb(metric)) is metric


def test_unknown_metric_names_the_choices() -> None:
    with pytest.raises(InvalidArgumentError, match="'l2', 'cosine', 'inner_product'"):
        convert.metric_to_pb("manhattan")
    assert convert.metric_from_pb(0) is None and convert.metric_from_pb(99) is None


@pytest.mark.parametrize("metadata", METADATA)
def test_metadata_round_trip(metadata: dict) -> None:
    assert convert.metadata_from_pb(convert.metadata_to_pb(metadata)) == metadata


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"when": object()}, "metadata when is a object"),
        ({"x": float("nan")}, "must be finite"),
        ({"n": {1: "a"}}, "keys must be strings"),
        ({"deep": [{"b": b"bytes"}]}, r"deep\[0\]\.b is a bytes"),
    ],
)
def test_metadata_that_is_not_json_is_refused_by_path(metadata: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        convert.metadata_to_pb(metadata)


@pytest.mark.parametrize("vector", [None, [0.5, -1.0]])
@pytest.mark.parametrize("metadata", METADATA)
def test_hit_round_trip(vector: list[float] | None, metadata: dict) -> None:
    hit = SearchHit(id=7, distance=0.25, metadata=metadata, vector=vector)
    assert convert.hit_from_pb(convert.hit_to_pb(hit)) == hit


def test_embedding_model_round_trip_and_ordering() -> None:
    model = EmbeddingModel("m1", "Model one", 8, True, "test")
    assert convert.embedding_model_from_pb(convert.embedding_model_to_pb(model)) == model
    response = pb.EmbedTextResponse(
        results=[
            pb.EmbedTextResult(text="b", embedding=[2.0], index=1),
            pb.EmbedTextResult(text="a", embedding=[1.0], index=0),
        ]
    )
    assert convert.embeddings_from_pb(response) == [[1.0], [2.0]]
    models = convert.embedding_models_from_pb(
        pb.ListEmbeddingModelsResponse(models=[convert.embedding_model_to_pb(model)], default_model="m1")
    )
    assert models.default_model == "m1" and models.models == [model]


def test_vector_to_pb_keeps_elements_and_metadata() -> None:
    message = convert.vector_to_pb([1.0, 2.0], {"k": "v"})
    assert list(message.elements) == [1.0, 2.0]
    assert convert.metadata_from_pb(message.metadata) == {"k": "v"}


def test_hnsw_round_trip() -> None:
    assert convert.hnsw_from_pb(convert.hnsw_to_pb(HnswConfig(8, 100))) == HnswConfig(8, 100)
