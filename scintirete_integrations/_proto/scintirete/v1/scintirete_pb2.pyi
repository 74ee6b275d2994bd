from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DistanceMetric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISTANCE_METRIC_UNSPECIFIED: _ClassVar[DistanceMetric]
    L2: _ClassVar[DistanceMetric]
    COSINE: _ClassVar[DistanceMetric]
    INNER_PRODUCT: _ClassVar[DistanceMetric]
DISTANCE_METRIC_UNSPECIFIED: DistanceMetric
L2: DistanceMetric
COSINE: DistanceMetric
INNER_PRODUCT: DistanceMetric

class AuthInfo(_message.Message):
    __slots__ = ("password",)
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    password: str
    def __init__(self, password: _Optional[str] = ...) -> None: ...

class HnswConfig(_message.Message):
    __slots__ = ("m", "ef_construction")
    M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    m: int
    ef_construction: int
    def __init__(self, m: _Optional[int] = ..., ef_construction: _Optional[int] = ...) -> None: ...

class Vector(_message.Message):
    __slots__ = ("id", "elements", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: int
    elements: _containers.RepeatedScalarFieldContainer[float]
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[int] = ..., elements: _Optional[_Iterable[float]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TextWithMetadata(_message.Message):
    __slots__ = ("id", "text", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: int
    text: str
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[int] = ..., text: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SearchResultItem(_message.Message):
    __slots__ = ("vector", "distance", "id", "metadata")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    vector: Vector
    distance: float
    id: int
    metadata: _struct_pb2.Struct
    def __init__(self, vector: _Optional[_Union[Vector, _Mapping]] = ..., distance: _Optional[float] = ..., id: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ("name", "dimension", "vector_count", "deleted_count", "memory_bytes", "metric_type", "hnsw_config")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    HNSW_CONFIG_FIELD_NUMBER: _ClassVar[int]
    name: str
    dimension: int
    vector_count: int
    deleted_count: int
    memory_bytes: int
    metric_type: DistanceMetric
    hnsw_config: HnswConfig
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., vector_count: _Optional[int] = ..., deleted_count: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., metric_type: _Optional[_Union[DistanceMetric, str]] = ..., hnsw_config: _Optional[_Union[HnswConfig, _Mapping]] = ...) -> None: ...

class EmbedTextResult(_message.Message):
    __slots__ = ("text", "embedding", "index")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    text: str
    embedding: _containers.RepeatedScalarFieldContainer[float]
    index: int
    def __init__(self, text: _Optional[str] = ..., embedding: _Optional[_Iterable[float]] = ..., index: _Optional[int] = ...) -> None: ...

class EmbeddingModel(_message.Message):
    __slots__ = ("id", "name", "dimension", "available", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    dimension: int
    available: bool
    description: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., dimension: _Optional[int] = ..., available: bool = ..., description: _Optional[str] = ...) -> None: ...

class CreateDatabaseRequest(_message.Message):
    __slots__ = ("auth", "name")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    name: str
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class CreateDatabaseResponse(_message.Message):
    __slots__ = ("name", "success", "message")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    success: bool
    message: str
    def __init__(self, name: _Optional[str] = ..., success: bool = ..., message: _Optional[str] = ...) -> None: ...

class DropDatabaseRequest(_message.Message):
    __slots__ = ("auth", "name")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    name: str
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class DropDatabaseResponse(_message.Message):
    __slots__ = ("name", "success", "message", "dropped_collections")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    success: bool
    message: str
    dropped_collections: int
    def __init__(self, name: _Optional[str] = ..., success: bool = ..., message: _Optional[str] = ..., dropped_collections: _Optional[int] = ...) -> None: ...

class ListDatabasesRequest(_message.Message):
    __slots__ = ("auth",)
    AUTH_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ...) -> None: ...

class ListDatabasesResponse(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("auth", "db_name", "collection_name", "metric_type", "hnsw_config")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    HNSW_CONFIG_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    collection_name: str
    metric_type: DistanceMetric
    hnsw_config: HnswConfig
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., metric_type: _Optional[_Union[DistanceMetric, str]] = ..., hnsw_config: _Optional[_Union[HnswConfig, _Mapping]] = ...) -> None: ...

class CreateCollectionResponse(_message.Message):
    __slots__ = ("db_name", "collection_name", "success", "message", "info")
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    db_name: str
    collection_name: str
    success: bool
    message: str
    info: CollectionInfo
    def __init__(self, db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., success: bool = ..., message: _Optional[str] = ..., info: _Optional[_Union[CollectionInfo, _Mapping]] = ...) -> None: ...

class DropCollectionRequest(_message.Message):
    __slots__ = ("auth", "db_name", "collection_name")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    collection_name: str
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ...) -> None: ...

class DropCollectionResponse(_message.Message):
    __slots__ = ("db_name", "collection_name", "success", "message", "dropped_vectors")
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_VECTORS_FIELD_NUMBER: _ClassVar[int]
    db_name: str
    collection_name: str
    success: bool
    message: str
    dropped_vectors: int
    def __init__(self, db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., success: bool = ..., message: _Optional[str] = ..., dropped_vectors: _Optional[int] = ...) -> None: ...

class GetCollectionInfoRequest(_message.Message):
    __slots__ = ("auth", "db_name", "collection_name")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    collection_name: str
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ("auth", "db_name")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ...) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ...) -> None: ...

class InsertVectorsRequest(_message.Message):
    __slots__ = ("auth", "db_name", "collection_name", "vectors")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    collection_name: str
    vectors: _containers.RepeatedCompositeFieldContainer[Vector]
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ...) -> None: ...

class InsertVectorsResponse(_message.Message):
    __slots__ = ("inserted_ids", "inserted_count")
    INSERTED_IDS_FIELD_NUMBER: _ClassVar[int]
    INSERTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    inserted_ids: _containers.RepeatedScalarFieldContainer[int]
    inserted_count: int
    def __init__(self, inserted_ids: _Optional[_Iterable[int]] = ..., inserted_count: _Optional[int] = ...) -> None: ...

class DeleteVectorsRequest(_message.Message):
    __slots__ = ("auth", "db_name", "collection_name", "ids")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    collection_name: str
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., ids: _Optional[_Iterable[int]] = ...) -> None: ...

class DeleteVectorsResponse(_message.Message):
    __slots__ = ("deleted_count",)
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    def __init__(self, deleted_count: _Optional[int] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("auth", "db_name", "collection_name", "query_vector", "top_k", "ef_search", "include_vector")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    QUERY_VECTOR_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTOR_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    collection_name: str
    query_vector: _containers.RepeatedScalarFieldContainer[float]
    top_k: int
    ef_search: int
    include_vector: bool
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., query_vector: _Optional[_Iterable[float]] = ..., top_k: _Optional[int] = ..., ef_search: _Optional[int] = ..., include_vector: bool = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResultItem]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResultItem, _Mapping]]] = ...) -> None: ...

class EmbedAndInsertRequest(_message.Message):
    __slots__ = ("auth", "db_name", "collection_name", "texts", "embedding_model")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    collection_name: str
    texts: _containers.RepeatedCompositeFieldContainer[TextWithMetadata]
    embedding_model: str
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., texts: _Optional[_Iterable[_Union[TextWithMetadata, _Mapping]]] = ..., embedding_model: _Optional[str] = ...) -> None: ...

class EmbedAndInsertResponse(_message.Message):
    __slots__ = ("inserted_ids", "inserted_count")
    INSERTED_IDS_FIELD_NUMBER: _ClassVar[int]
    INSERTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    inserted_ids: _containers.RepeatedScalarFieldContainer[int]
    inserted_count: int
    def __init__(self, inserted_ids: _Optional[_Iterable[int]] = ..., inserted_count: _Optional[int] = ...) -> None: ...

class EmbedAndSearchRequest(_message.Message):
    __slots__ = ("auth", "db_name", "collection_name", "query_text", "top_k", "embedding_model", "ef_search", "include_vector")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    QUERY_TEXT_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    EF_SEARCH_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTOR_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    db_name: str
    collection_name: str
    query_text: str
    top_k: int
    embedding_model: str
    ef_search: int
    include_vector: bool
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., query_text: _Optional[str] = ..., top_k: _Optional[int] = ..., embedding_model: _Optional[str] = ..., ef_search: _Optional[int] = ..., include_vector: bool = ...) -> None: ...

class EmbedTextRequest(_message.Message):
    __slots__ = ("auth", "texts", "embedding_model")
    AUTH_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    texts: _containers.RepeatedScalarFieldContainer[str]
    embedding_model: str
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ..., texts: _Optional[_Iterable[str]] = ..., embedding_model: _Optional[str] = ...) -> None: ...

class EmbedTextResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EmbedTextResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EmbedTextResult, _Mapping]]] = ...) -> None: ...

class ListEmbeddingModelsRequest(_message.Message):
    __slots__ = ("auth",)
    AUTH_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ...) -> None: ...

class ListEmbeddingModelsResponse(_message.Message):
    __slots__ = ("models", "default_model")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[EmbeddingModel]
    default_model: str
    def __init__(self, models: _Optional[_Iterable[_Union[EmbeddingModel, _Mapping]]] = ..., default_model: _Optional[str] = ...) -> None: ...

class SaveRequest(_message.Message):
    __slots__ = ("auth",)
    AUTH_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ...) -> None: ...

class SaveResponse(_message.Message):
    __slots__ = ("success", "message", "snapshot_size", "duration_seconds")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_SIZE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    snapshot_size: int
    duration_seconds: float
    def __init__(self, success: bool = ..., message: _Optional[str] = ..., snapshot_size: _Optional[int] = ..., duration_seconds: _Optional[float] = ...) -> None: ...

class BgSaveRequest(_message.Message):
    __slots__ = ("auth",)
    AUTH_FIELD_NUMBER: _ClassVar[int]
    auth: AuthInfo
    def __init__(self, auth: _Optional[_Union[AuthInfo, _Mapping]] = ...) -> None: ...

class BgSaveResponse(_message.Message):
    __slots__ = ("success", "message", "job_id")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    job_id: str
    def __init__(self, success: bool = ..., message: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...
