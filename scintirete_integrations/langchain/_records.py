"""Documents <-> document-layer records, and the checks of what callers pass the store.

Pure functions shared by the store's sync and async methods: none of them does I/O.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeAlias

from langchain_core.documents import Document

from .. import filters
from .._metadata import encode_metadata, plain_metadata
from ..client import check_unicode
from ..documents import Record, new_id
from ..errors import InvalidArgumentError
from ..filters import Filter, matches_everything

#: What ``filter=`` accepts: the document layer's Mongo-style dict, or a predicate over Documents.
DocumentFilter: TypeAlias = Filter | Callable[[Document], bool]

DEFAULT_BATCH_SIZE = 256

# -- pure helpers shared by the sync and async methods ------------------------------------------------


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (what record metadata is), about 3x cheaper than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value  # str, int, float, bool, None: immutable


def to_document(record: Record) -> Document:
    # A copy: the layer's cached records must not change when a caller edits a returned Document.
    return Document(page_content=record.text, metadata=_copy_json(dict(record.metadata)), id=record.id)


def check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidArgumentError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def reject_extra(method: str, kwargs: Mapping[str, Any], supported: str) -> None:
    # A misspelt option (filters=, top_k=) silently ignored would return wrong results.
    if kwargs:
        names = ", ".join(sorted(kwargs))
        raise TypeError(f"{method}() got unexpected keyword argument(s) {names}; supported: {supported}")


#: What the retriever's search types pass on (similarity, mmr, similarity_score_threshold), and
#: the retrieval mode's settings (which searches by vector check, and refuse unless dense). A
#: retriever whose search_type was changed keeps its search_kwargs, so every search method
#: accepts these and ignores the ones it has no use for, as peer stores do.
_SEARCH_TYPE_KEYS = frozenset(
    {"k", "filter", "fetch_k", "lambda_mult", "score_threshold", "retrieval_mode", "fusion", "alpha"}
)


def reject_extra_search(method: str, kwargs: Mapping[str, Any], supported: str) -> None:
    reject_extra(
        method, {key: value for key, value in kwargs.items() if key not in _SEARCH_TYPE_KEYS}, supported
    )


def make_records(
    texts: Iterable[str],
    metadatas: Iterable[Mapping[str, Any] | None] | None,
    ids: Iterable[str | None] | None,
    batch_size: int,
) -> list[Record]:
    """Records for one add call; each input is iterated exactly once, so generators work.

    Missing ids (None) get :func:`new_id`; a blank id ("" or spaces) is refused. Metadata dicts are referenced, never modified:
    the document layer encodes a copy.
    """
    if isinstance(texts, str):
        raise InvalidArgumentError("texts must be an iterable of strings, not a single string")
    if isinstance(ids, str):
        raise InvalidArgumentError("ids must be a list of strings, not a single string")
    text_list = list(texts)
    for index, text in enumerate(text_list):
        if not isinstance(text, str):
            raise InvalidArgumentError(f"texts[{index}] must be a string, got {type(text).__name__}")
        check_unicode(text, f"texts[{index}]")
    # As in LangChain's base class, an empty metadatas or ids list means "none given".
    metadata_list = list(metadatas) if metadatas is not None else []
    id_list = list(ids) if ids is not None else []
    if metadata_list and len(metadata_list) != len(text_list):
        raise InvalidArgumentError(
            f"got {len(metadata_list)} metadatas for {len(text_list)} texts; give one per text (or none)"
        )
    if id_list and len(id_list) != len(text_list):
        raise InvalidArgumentError(
            f"got {len(id_list)} ids for {len(text_list)} texts; give one per text (or none)"
        )
    records: list[Record] = []
    seen: set[str] = set()
    for index, text in enumerate(text_list):
        metadata = metadata_list[index] if metadata_list else None
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgumentError(f"metadatas[{index}] must be a dict, got {type(metadata).__name__}")
        if len(text_list) > batch_size:  # several writes: refuse bad metadata before the first one
            encode_metadata(metadata)
        sid = id_list[index] if id_list else None
        if sid is None:
            sid = new_id()
        elif isinstance(sid, str) and not sid.strip():
            raise InvalidArgumentError(
                f"ids[{index}] is blank ({sid!r}); give a non-empty id, or None to have one generated"
            )
        if not isinstance(sid, str):
            raise InvalidArgumentError(f"ids[{index}] must be a string, got {type(sid).__name__}")
        # Checked over the whole call, not per batch, so the outcome never depends on batch_size.
        if sid in seen:
            raise InvalidArgumentError(f"id {sid!r} appears twice in one call; ids must be unique")
        seen.add(sid)
        records.append(Record(sid, text, None, metadata if metadata is not None else {}))
    return records


def documents_input(
    documents: Iterable[Document], ids: Sequence[str | None] | None
) -> tuple[list[str], list[Mapping[str, Any]], list[str | None]]:
    """Texts, metadatas and ids of ``documents``; explicit ``ids`` win over ``Document.id``."""
    docs = list(documents)
    for index, doc in enumerate(docs):
        if not isinstance(doc, Document):
            raise InvalidArgumentError(f"documents[{index}] must be a Document, got {type(doc).__name__}")
    doc_ids: list[str | None] = list(ids) if ids else [doc.id for doc in docs]
    return [doc.page_content for doc in docs], [doc.metadata for doc in docs], doc_ids


def batches(records: list[Record], batch_size: int) -> Iterable[list[Record]]:
    for start in range(0, len(records), batch_size):
        yield records[start : start + batch_size]


def with_vectors(records: list[Record], vectors: Sequence[Sequence[float]]) -> list[Record]:
    if len(vectors) != len(records):
        raise InvalidArgumentError(
            f"the embedding model returned {len(vectors)} vectors for {len(records)} texts"
        )
    return [replace(record, vector=vector) for record, vector in zip(records, vectors, strict=True)]


def _canonical(metadata: Mapping[str, Any]) -> str:
    # JSON tells 1 from 1.0 and True from 1, as the layer's exact metadata does.
    return json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _same_metadata(stored: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    try:
        try:
            given_text = _canonical(given)
        except TypeError:  # numpy values, say: compare what the layer would store
            given_text = _canonical(plain_metadata(given))
        return _canonical(stored) == given_text
    except (TypeError, ValueError):  # not storable: the write will say what is wrong with it
        return False


def changed(batch: list[Record], stored: Iterable[Record]) -> list[Record]:
    """The records of ``batch`` that are not already stored with the same text, group and metadata."""
    by_id = {record.id: record for record in stored}
    return [
        record
        for record in batch
        if (old := by_id.get(record.id)) is None
        or old.text != record.text
        or old.group != record.group
        or not _same_metadata(old.metadata, record.metadata)
    ]


def vector_list(embeddings: Iterable[Sequence[float]], count: int) -> list[Sequence[float]]:
    if isinstance(embeddings, str):
        raise InvalidArgumentError("embeddings must be a list of vectors, not a string")
    vectors = list(embeddings)
    if len(vectors) != count:
        raise InvalidArgumentError(f"got {len(vectors)} embeddings for {count} texts; give one per text")
    return vectors


def split_pairs(text_embeddings: Iterable[tuple[str, Sequence[float]]]) -> tuple[list[str], list[Any]]:
    pairs = list(text_embeddings)
    for index, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidArgumentError(
                f"text_embeddings[{index}] must be a (text, vector) pair, got {pair!r}"
            )
    return [text for text, _ in pairs], [vector for _, vector in pairs]


def check_window(limit: int | None, offset: int) -> None:
    for name, value in (("limit", limit), ("offset", offset)):
        if value is None and name == "limit":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgumentError(f"{name} must be a non-negative integer, got {value!r}")


def check_id_list(ids: Sequence[str] | None) -> None:
    if isinstance(ids, str):
        raise InvalidArgumentError("ids must be a list of strings, not a single string")


def window(documents: list[Document], limit: int | None, offset: int) -> list[Document]:
    return documents[offset:] if limit is None else documents[offset : offset + limit]


def in_order(records: Iterable[Record], ids: Sequence[str]) -> list[Record]:
    """The records whose id is in ``ids``, in the order of ``ids``."""
    by_id = {record.id: record for record in records}
    return [by_id[sid] for sid in ids if sid in by_id]


def documents_passing(
    records: Iterable[Record], predicate: Callable[[Document], bool] | None
) -> list[Document]:
    documents = (to_document(record) for record in records)
    return [doc for doc in documents if predicate is None or predicate(doc)]


def pages(
    records: list[Record], predicate: Callable[[Document], bool] | None, size: int
) -> Iterator[list[Document]]:
    page: list[Document] = []
    for record in records:
        doc = to_document(record)
        if predicate is None or predicate(doc):
            page.append(doc)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def split_filter(filter: DocumentFilter | None) -> tuple[Filter | None, Callable[[Document], bool] | None]:
    """(Mongo-style dict, document predicate): at most one is set."""
    if filter is None or isinstance(filter, Mapping):
        filters.validate(filter)
        return filter, None
    if callable(filter):
        return None, filter
    raise InvalidArgumentError(
        "filter must be a dict such as {'year': {'$gte': 2020}} or a callable taking a Document "
        f"and returning a bool, got {type(filter).__name__}"
    )


def select_ids(records: Iterable[Record], predicate: Callable[[Document], bool]) -> list[str]:
    return [record.id for record in records if predicate(to_document(record))]


def delete_filter(
    ids: Sequence[str] | None, filter: DocumentFilter | None
) -> tuple[Filter | None, Callable[[Document], bool] | None]:
    """``split_filter`` for ``delete``: refuses ids with a filter, and a filter with no condition."""
    if ids is not None and filter is not None:
        raise InvalidArgumentError("pass ids or filter to delete(), not both")
    where, predicate = split_filter(filter)
    if filter is not None and predicate is None and matches_everything(where):
        raise InvalidArgumentError(
            f"delete(filter={filter!r}) would delete every document: the filter places no condition. "
            "To delete every document, call delete() with no arguments"
        )
    return where, predicate


def either_filter(filter: DocumentFilter | None, where: DocumentFilter | None) -> DocumentFilter | None:
    """``filter=``, or its alias ``where=`` (``get`` took only ``where`` before); not both."""
    if filter is not None and where is not None:
        raise InvalidArgumentError("pass filter= or its alias where=, not both")
    return where if filter is None else filter


def check_score_threshold(score_threshold: Any) -> float | None:
    """``score_threshold`` as a float (None: no threshold), or InvalidArgumentError saying what it needs."""
    if score_threshold is None:
        return None
    if (
        isinstance(score_threshold, bool)
        or not isinstance(score_threshold, numbers.Real)
        or not math.isfinite(float(score_threshold))
    ):
        raise InvalidArgumentError(
            f"score_threshold must be a number between 0 and 1 (relevance, higher is closer), "
            f"got {type(score_threshold).__name__} {score_threshold!r}"
        )
    return float(score_threshold)
