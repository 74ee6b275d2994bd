"""Wire conversions: protobuf messages <-> the dataclasses of ``models.py``.

Pure functions, shared by both clients and by the Lite servicer. Converters
come in pairs named ``<thing>_to_pb`` / ``<thing>_from_pb``.

Metadata here is plain JSON: a ``google.protobuf.Struct`` keeps only JSON
values and turns every number into a double. Restoring ints and other types
exactly is the document layer's job (``_metadata.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import struct_pb2

from .errors import InvalidArgumentError
from .models import CollectionInfo, EmbeddingModel, EmbeddingModels, HnswConfig, Metric, SearchHit

from ._proto.scintirete.v1 import scintirete_pb2 as pb  # isort: skip

_METRIC_TO_PB = {Metric.L2: pb.L2, Metric.COSINE: pb.COSINE, Metric.INNER_PRODUCT: pb.INNER_PRODUCT}
_METRIC_FROM_PB: dict[int, Metric] = {int(number): metric for metric, number in _METRIC_TO_PB.items()}


def metric_to_pb(metric: Metric | str) -> pb.DistanceMetric:
    """``Metric`` (or its name) -> the ``DistanceMetric`` enum number."""
    try:
        return _METRIC_TO_PB[Metric.parse(metric)]
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None


def metric_from_pb(number: int) -> Metric | None:
    """Enum number -> ``Metric``; None for UNSPECIFIED or an unknown number."""
    return _METRIC_FROM_PB.get(number)


def hnsw_to_pb(config: HnswConfig) -> pb.HnswConfig:
    return pb.HnswConfig(m=config.m, ef_construction=config.ef_construction)


def hnsw_from_pb(message: pb.HnswConfig) -> HnswConfig:
    return HnswConfig(m=message.m, ef_construction=message.ef_construction)


def collection_info_to_pb(info: CollectionInfo) -> pb.CollectionInfo:
    return pb.CollectionInfo(
        name=info.name,
        dimension=info.dimension,
        vector_count=info.vector_count,
        deleted_count=info.deleted_count,
        memory_bytes=info.memory_bytes,
        metric_type=_METRIC_TO_PB[info.metric] if info.metric else pb.DISTANCE_METRIC_UNSPECIFIED,
        hnsw_config=hnsw_to_pb(info.hnsw),
    )


def collection_info_from_pb(message: pb.CollectionInfo) -> CollectionInfo:
    return CollectionInfo(
        name=message.name,
        dimension=message.dimension,
        vector_count=message.vector_count,
        deleted_count=message.deleted_count,
        memory_bytes=message.memory_bytes,
        metric=metric_from_pb(message.metric_type),
        hnsw=hnsw_from_pb(message.hnsw_config),
    )


# -- metadata: JSON dict <-> Struct ---------------------------------------------------------------


def _check_json(value: Any, path: str) -> None:
    """Raise InvalidArgumentError naming ``path`` when ``value`` is not a JSON value."""
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgumentError(f"metadata {path} is {value!r}; JSON numbers must be finite")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgumentError(f"metadata {path} has key {key!r}; keys must be strings")
            _check_json(item, f"{path}.{key}" if path else key)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    raise InvalidArgumentError(
        f"metadata {path or 'value'} is a {type(value).__name__}, which JSON cannot hold; "
        "convert it to str, int, float, bool, None, list or dict first"
    )


def _set_value(target: struct_pb2.Value, value: Any) -> None:
    if value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, (int, float)):
        target.number_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, Mapping):
        struct = target.struct_value
        struct.SetInParent()  # an empty dict must still arrive as a dict
        for key, item in value.items():
            _set_value(struct.fields[key], item)
    else:  # list or tuple, checked before
        items = target.list_value
        items.SetInParent()
        for item in value:
            _set_value(items.values.add(), item)


def metadata_to_pb(
    metadata: Mapping[str, Any] | None, target: struct_pb2.Struct | None = None, *, checked: bool = False
) -> struct_pb2.Struct:
    """Fill ``target`` (or a new Struct) from a JSON dict, rejecting non-JSON values by path.

    ``checked=True`` skips that check for input already known to be JSON (the document layer's).
    """
    struct = target if target is not None else struct_pb2.Struct()
    if metadata:
        if not checked:
            _check_json(metadata, "")
        try:
            _fill_struct(struct, metadata)
        except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from a bad decode
            struct.Clear()
            raise InvalidArgumentError(
                f"metadata holds a string that is not valid Unicode ({exc.reason}); protobuf strings must be UTF-8"
            ) from None
    return struct


def _fill_struct(struct: struct_pb2.Struct, metadata: Mapping[str, Any]) -> None:
    try:
        struct.update(metadata)  # protobuf's own loop: about twice as fast as ours
    except (ValueError, TypeError):  # tuples and non-dict mappings, which it refuses
        struct.Clear()
        fields = struct.fields
        for key, value in metadata.items():
            _set_value(fields[key], value)


def _value_from_pb(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: _value_from_pb(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_value_from_pb(item) for item in value.list_value.values]
    return None


def metadata_from_pb(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Struct -> JSON dict, keys sorted (map order on the wire is arbitrary). Numbers come back as floats."""
    return {key: _value_from_pb(value) for key, value in sorted(struct.fields.items())}


# -- vectors, hits, embeddings --------------------------------------------------------------------


def vector_to_pb(elements: Sequence[float], metadata: Mapping[str, Any] | None = None) -> pb.Vector:
    message = pb.Vector(elements=elements)
    if metadata:
        metadata_to_pb(metadata, message.metadata)
    return message


def hit_to_pb(hit: SearchHit) -> pb.SearchResultItem:
    item = pb.SearchResultItem(id=hit.id, distance=hit.distance)
    metadata_to_pb(hit.metadata, item.metadata)
    item.vector.id = hit.id
    metadata_to_pb(hit.metadata, item.vector.metadata)
    if hit.vector is not None:
        item.vector.elements.extend(hit.vector)
    return item


def hit_from_pb(item: pb.SearchResultItem) -> SearchHit:
    vector = list(item.vector.elements) if item.HasField("vector") and item.vector.elements else None
    return SearchHit(
        id=item.id, distance=item.distance, metadata=metadata_from_pb(item.metadata), vector=vector
    )


def embedding_model_from_pb(message: pb.EmbeddingModel) -> EmbeddingModel:
    return EmbeddingModel(
        id=message.id,
        name=message.name,
        dimension=message.dimension,
        available=message.available,
        description=message.description,
    )


def embedding_model_to_pb(model: EmbeddingModel) -> pb.EmbeddingModel:
    return pb.EmbeddingModel(
        id=model.id,
        name=model.name,
        dimension=model.dimension,
        available=model.available,
        description=model.description,
    )


def embedding_models_from_pb(message: pb.ListEmbeddingModelsResponse) -> EmbeddingModels:
    return EmbeddingModels(
        models=[embedding_model_from_pb(m) for m in message.models], default_model=message.default_model
    )


def embeddings_from_pb(message: pb.EmbedTextResponse) -> list[list[float]]:
    """Embeddings in input order (the server's ``index`` says which text each belongs to)."""
    ordered = sorted(message.results, key=lambda result: result.index)
    return [list(result.embedding) for result in ordered]
