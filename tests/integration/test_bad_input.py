"""Bad input through every layer: the client (sync and async), the document layer, both stores.

Each refused call must raise a clear error and leave the server exactly as it was (compared
through the public client before and after). Unicode and emoji are accepted everywhere and
round-trip exactly, also through a restart.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from lite_helpers import server_state
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from scintirete_integrations import (
    AsyncDocumentCollection,
    AsyncScintireteClient,
    DocumentCollection,
    InvalidArgumentError,
    Record,
    RequestTooLargeError,
    ScintireteClient,
    ScintireteError,
)
from scintirete_integrations.langchain import ScintireteVectorStore as LangChainStore
from scintirete_integrations.lite import HashEmbeddings, LiteServer
from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaIndexStore

DB = "bad"
DIM = 4
LIMIT = 64 * 1024  # the smallest max_message_bytes a client accepts
BIG = "x" * (LIMIT + 1)


class ConstantEmbeddings(Embeddings):
    """An embedding model gone wrong: every text gets the same (bad) vector."""

    def __init__(self, vector: list[float]) -> None:
        self.vector = vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(self.vector) for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return list(self.vector)


@dataclass
class Env:
    server: LiteServer
    client: ScintireteClient
    aclient: AsyncScintireteClient
    small: ScintireteClient  # max_message_bytes = LIMIT
    docs: DocumentCollection
    adocs: AsyncDocumentCollection
    small_docs: DocumentCollection
    lc: LangChainStore
    lc_small: LangChainStore
    lc_server_embeds: LangChainStore
    li: LlamaIndexStore


def node(node_id: str, embedding: list[float] | None, text: str = "t", **metadata: Any) -> TextNode:
    return TextNode(id_=node_id, text=text, embedding=embedding, metadata=metadata)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with LiteServer(embedding=HashEmbeddings(DIM), max_receive_message_bytes=4 * LIMIT) as server:
        address, password = server.address, server.password
        client = ScintireteClient(address, password=password)
        small = ScintireteClient(address, password=password, max_message_bytes=LIMIT)
        client.ensure_collection(DB, "c", "l2")
        client.insert_vectors(DB, "c", np.eye(DIM), [{"row": i} for i in range(DIM)])
        docs = DocumentCollection("docs", client, db=DB, metric="l2")
        docs.upsert([Record(f"r{i}", f"text {i}", np.eye(DIM)[i], {"i": i}) for i in range(DIM)])
        lc = LangChainStore(
            DeterministicFakeEmbedding(size=DIM), collection_name="lc", db_name=DB, client=client
        )
        lc.add_texts(["one", "two"], [{"n": 1}, {"n": 2}], ids=["a", "b"])
        li = LlamaIndexStore("li", DB, client=client)
        li.add([node("n1", [1.0, 0.0, 0.0, 0.0], "first", year=2024)])
        yield Env(
            server=server,
            client=client,
            aclient=AsyncScintireteClient(address, password=password),
            small=small,
            docs=docs,
            adocs=docs.async_twin(AsyncScintireteClient(address, password=password)),
            small_docs=DocumentCollection("docs", small, db=DB, metric="l2"),
            lc=lc,
            lc_small=LangChainStore(
                DeterministicFakeEmbedding(size=DIM), collection_name="lc", db_name=DB, client=small
            ),
            lc_server_embeds=LangChainStore(None, collection_name="lc", db_name=DB, client=client),
            li=li,
        )


Q = [1.0, 0.0, 0.0, 0.0]
NAN = math.nan
INF = math.inf
Case = tuple[str, Callable[[Env], Any], type[Exception], str]

CLIENT_CASES: list[Case] = [
    ("wrong dimension insert", lambda e: e.client.insert_vectors(DB, "c", [[1.0, 2.0, 3.0]]), InvalidArgumentError, "dimension 3.*dimension 4"),
    ("wrong dimension query", lambda e: e.client.search(DB, "c", [1.0, 2.0]), InvalidArgumentError, "query vector has dimension 2"),
    ("NaN element", lambda e: e.client.insert_vectors(DB, "c", [[1.0, NAN, 0.0, 0.0]]), InvalidArgumentError, r"vectors\[0\] contains NaN or infinity"),
    ("infinite element", lambda e: e.client.insert_vectors(DB, "c", [Q, [INF, 0.0, 0.0, 0.0]]), InvalidArgumentError, r"vectors\[1\] contains NaN or infinity"),
    ("element beyond float32", lambda e: e.client.insert_vectors(DB, "c", [[1e39, 0.0, 0.0, 0.0]]), InvalidArgumentError, "too large for float32"),
    ("NaN query", lambda e: e.client.search(DB, "c", [NAN, 0.0, 0.0, 0.0]), InvalidArgumentError, "NaN or infinity"),
    ("empty vector", lambda e: e.client.insert_vectors(DB, "c", [[]]), InvalidArgumentError, "is empty"),
    ("no vectors", lambda e: e.client.insert_vectors(DB, "c", []), InvalidArgumentError, "no vectors given"),
    ("ragged vectors", lambda e: e.client.insert_vectors(DB, "c", [Q, [1.0]]), InvalidArgumentError, "ragged"),
    ("empty query", lambda e: e.client.search(DB, "c", []), InvalidArgumentError, "query vector is empty"),
    ("strings as elements", lambda e: e.client.insert_vectors(DB, "c", [["a", "b", "c", "d"]]), InvalidArgumentError, "only numbers"),
    ("strings as query", lambda e: e.client.search(DB, "c", ["a", "b", "c", "d"]), InvalidArgumentError, "only numbers"),
    ("metadata: object", lambda e: e.client.insert_vectors(DB, "c", [Q], [{"o": object()}]), InvalidArgumentError, "metadata o is a object, which JSON cannot hold"),
    ("metadata: set", lambda e: e.client.insert_vectors(DB, "c", [Q], [{"s": {1}}]), InvalidArgumentError, "metadata s is a set"),
    ("metadata: bytes", lambda e: e.client.insert_vectors(DB, "c", [Q], [{"b": b"x"}]), InvalidArgumentError, "metadata b is a bytes"),
    ("metadata: datetime", lambda e: e.client.insert_vectors(DB, "c", [Q], [{"d": datetime.date(2024, 1, 1)}]), InvalidArgumentError, "metadata d is a date"),
    ("metadata: NaN", lambda e: e.client.insert_vectors(DB, "c", [Q], [{"x": NAN}]), InvalidArgumentError, "must be finite"),
    ("metadata: int key", lambda e: e.client.insert_vectors(DB, "c", [Q], [{1: "x"}]), InvalidArgumentError, "keys must be strings"),
    ("metadata: lone surrogate", lambda e: e.client.insert_vectors(DB, "c", [Q], [{"k": "\ud800"}]), InvalidArgumentError, "not valid Unicode"),
    ("metadata count mismatch", lambda e: e.client.insert_vectors(DB, "c", [Q, Q], [{}]), InvalidArgumentError, "2 vectors but 1 metadata"),
    ("metadata above the message limit", lambda e: e.small.insert_vectors(DB, "c", [Q], [{"t": BIG}]), InvalidArgumentError, "message limit"),
    ("metadata above the server's limit", lambda e: e.client.insert_vectors(DB, "c", [Q], [{"t": BIG * 4}]), RequestTooLargeError, "larger than max.*max_message_bytes"),
    ("query text above the server's limit", lambda e: e.client.embed_and_search(DB, "c", BIG * 4), RequestTooLargeError, "larger than max.*max_message_bytes"),
    ("texts above the server's limit", lambda e: e.client.embed_text([BIG, BIG, BIG, BIG]), RequestTooLargeError, "larger than max.*max_message_bytes"),
    ("text above the message limit", lambda e: e.small.embed_and_insert(DB, "c", [BIG]), InvalidArgumentError, "more than max_message_bytes"),
    ("empty text: embed_text", lambda e: e.client.embed_text([""]), InvalidArgumentError, r"texts\[0\] must be a non-empty string"),
    ("empty text: embed_and_insert", lambda e: e.client.embed_and_insert(DB, "c", ["ok", ""]), InvalidArgumentError, r"texts\[1\] must be a non-empty string"),
    ("empty text: embed_and_search", lambda e: e.client.embed_and_search(DB, "c", ""), InvalidArgumentError, "non-empty string"),
    ("no texts", lambda e: e.client.embed_text([]), InvalidArgumentError, "no texts given"),
    ("a string for texts", lambda e: e.client.embed_text("abc"), InvalidArgumentError, "not a single string"),
    ("unknown metric", lambda e: e.client.create_collection(DB, "new", "hamming"), InvalidArgumentError, "unknown metric 'hamming'"),
    ("top_k 0", lambda e: e.client.search(DB, "c", Q, 0), InvalidArgumentError, "top_k must be a positive integer"),
    ("top_k -1", lambda e: e.client.search(DB, "c", Q, -1), InvalidArgumentError, "top_k must be a positive integer"),
    ("top_k True", lambda e: e.client.search(DB, "c", Q, True), InvalidArgumentError, "top_k must be a positive integer"),
    ("top_k 2.5", lambda e: e.client.search(DB, "c", Q, 2.5), InvalidArgumentError, "top_k must be a positive integer"),
    ("top_k beyond int32", lambda e: e.client.search(DB, "c", Q, 2**31), InvalidArgumentError, "int32"),
    ("ef_search 0", lambda e: e.client.search(DB, "c", Q, 1, ef_search=0), InvalidArgumentError, "ef_search must be a positive"),
    ("empty database name", lambda e: e.client.create_database(""), InvalidArgumentError, "database name must be a non-empty string"),
    ("None database name", lambda e: e.client.create_collection(None, "x"), InvalidArgumentError, "database name"),
    ("int collection name", lambda e: e.client.create_collection(DB, 5), InvalidArgumentError, "collection name"),
    ("lone surrogate name", lambda e: e.client.create_database("db-\udcff"), InvalidArgumentError, "not valid Unicode"),
    ("no ids to delete", lambda e: e.client.delete_vectors(DB, "c", []), InvalidArgumentError, "no ids"),
    ("negative id", lambda e: e.client.delete_vectors(DB, "c", [-1]), InvalidArgumentError, "unsigned 64-bit"),
    ("id beyond uint64", lambda e: e.client.delete_vectors(DB, "c", [2**64]), InvalidArgumentError, "unsigned 64-bit"),
]  # fmt: skip

ASYNC_CLIENT_CASES: list[Case] = [
    ("async: wrong dimension insert", lambda e: e.aclient.insert_vectors(DB, "c", [[1.0, 2.0]]), InvalidArgumentError, "dimension"),
    ("async: NaN query", lambda e: e.aclient.search(DB, "c", [NAN, 0.0, 0.0, 0.0]), InvalidArgumentError, "NaN"),
    ("async: ragged vectors", lambda e: e.aclient.insert_vectors(DB, "c", [Q, [1.0]]), InvalidArgumentError, "ragged"),
    ("async: metadata not JSON", lambda e: e.aclient.insert_vectors(DB, "c", [Q], [{"s": {1}}]), InvalidArgumentError, "set"),
    ("async: empty text", lambda e: e.aclient.embed_text([""]), InvalidArgumentError, "non-empty"),
    ("async: unknown metric", lambda e: e.aclient.create_collection(DB, "new", "hamming"), InvalidArgumentError, "unknown metric"),
    ("async: top_k 0", lambda e: e.aclient.search(DB, "c", Q, 0), InvalidArgumentError, "top_k"),
    ("async: empty name", lambda e: e.aclient.create_database(""), InvalidArgumentError, "database name"),
    ("async: query text above the server's limit", lambda e: e.aclient.embed_and_search(DB, "c", BIG * 4), RequestTooLargeError, "larger than max.*max_message_bytes"),
]  # fmt: skip


def rec(sid: Any = "new", vector: Any = Q, text: Any = "t", **metadata: Any) -> Record:
    return Record(sid, text, vector, metadata)


DOCUMENT_CASES: list[Case] = [
    ("wrong dimension upsert", lambda e: e.docs.upsert([rec(vector=[1.0, 2.0])]), InvalidArgumentError, "has dimension 2, but collection 'docs' holds 4-dimensional"),
    ("wrong dimension query", lambda e: e.docs.search([1.0, 2.0]), InvalidArgumentError, "query vector has dimension 2"),
    ("NaN vector", lambda e: e.docs.upsert([rec(vector=[NAN, 0.0, 0.0, 0.0])]), InvalidArgumentError, "NaN or infinity"),
    ("infinite vector", lambda e: e.docs.upsert([rec(vector=[INF, 0.0, 0.0, 0.0])]), InvalidArgumentError, "NaN or infinity"),
    ("NaN query", lambda e: e.docs.search([NAN, 0.0, 0.0, 0.0]), InvalidArgumentError, "NaN or infinity"),
    ("empty vector", lambda e: e.docs.upsert([rec(vector=[])]), InvalidArgumentError, "is empty"),
    ("missing vector", lambda e: e.docs.upsert([rec(vector=None)]), InvalidArgumentError, "has no vector"),
    ("ragged vectors", lambda e: e.docs.upsert([rec("p", Q), rec("q", [1.0, 2.0])]), InvalidArgumentError, "dimension"),
    ("a string as vector", lambda e: e.docs.upsert([rec(vector="abcd")]), InvalidArgumentError, "only numbers"),
    ("text not a string", lambda e: e.docs.upsert([rec(text=b"bytes")]), InvalidArgumentError, "must be a string"),
    ("empty text, server embeds", lambda e: e.docs.upsert_texts([Record("e", "")]), InvalidArgumentError, "non-empty string"),
    ("text above the message limit", lambda e: e.small_docs.upsert([rec(text=BIG)]), InvalidArgumentError, "message limit"),
    ("metadata above the message limit", lambda e: e.small_docs.upsert([rec(big=BIG)]), InvalidArgumentError, "message limit"),
    ("metadata not JSON", lambda e: e.docs.upsert([rec(when=datetime.datetime(2024, 1, 1))]), InvalidArgumentError, "isoformat"),
    ("metadata not a dict", lambda e: e.docs.upsert([Record("m", "t", Q, [1, 2])]), InvalidArgumentError, "must be a dict"),  # type: ignore[arg-type]
    ("reserved key _sci_id", lambda e: e.docs.upsert([rec(_sci_id="r0")]), InvalidArgumentError, "reserved prefix '_sci_'"),
    ("reserved key _sci_k", lambda e: e.docs.upsert([rec(_sci_k="x")]), InvalidArgumentError, "reserved prefix"),
    ("filter: unknown operator", lambda e: e.docs.search(Q, filter={"i": {"$regex": "^1"}}), InvalidArgumentError, r"unknown operator '\$regex'.*supported"),
    ("filter: $gt on a list", lambda e: e.docs.scan({"i": {"$gt": [1]}}), InvalidArgumentError, r"'\$gt'.*needs a number or a string"),
    ("filter: $in not a list", lambda e: e.docs.scan({"i": {"$in": 1}}), InvalidArgumentError, r"\$in"),
    ("filter: empty $and", lambda e: e.docs.delete_where({"$and": []}), InvalidArgumentError, r"\$and"),
    ("filter: $exists not bool", lambda e: e.docs.delete_where({"i": {"$exists": 1}}), InvalidArgumentError, "true or false"),
    ("filter: reserved field", lambda e: e.docs.delete_where({"_sci_id": "r0"}), InvalidArgumentError, "_sci_"),
    ("filter: not a dict", lambda e: e.docs.scan(["i"]), InvalidArgumentError, "filter"),
    ("filter: NaN operand", lambda e: e.docs.scan({"i": {"$lt": NAN}}), InvalidArgumentError, "needs a number or a string, got float nan"),
    ("unknown metric", lambda e: DocumentCollection("x", e.client, db=DB, metric="hamming"), InvalidArgumentError, "unknown metric 'hamming'"),
    ("k 0", lambda e: e.docs.search(Q, 0), InvalidArgumentError, "k must be a positive integer"),
    ("k -3", lambda e: e.docs.mmr(Q, -3), InvalidArgumentError, "k must be a positive integer"),
    ("k True", lambda e: e.docs.search(Q, True), InvalidArgumentError, "k must be a positive integer"),
    ("lambda_mult 2", lambda e: e.docs.mmr(Q, 2, lambda_mult=2.0), InvalidArgumentError, "lambda_mult"),
    ("empty collection name", lambda e: DocumentCollection("", e.client), InvalidArgumentError, "collection name"),
    ("reserved collection name", lambda e: DocumentCollection("x.__sci_staging", e.client), InvalidArgumentError, "reserved"),
    ("empty database name", lambda e: DocumentCollection("x", e.client, db="").upsert([rec()]), InvalidArgumentError, "database name"),
    ("duplicate ids in one batch", lambda e: e.docs.upsert([rec("d"), rec("d", text="other")]), InvalidArgumentError, "'d' appears twice"),
    ("empty id", lambda e: e.docs.upsert([rec("")]), InvalidArgumentError, "non-empty string"),
    ("int id", lambda e: e.docs.upsert([rec(7)]), InvalidArgumentError, "non-empty string"),
    ("lone surrogate id", lambda e: e.docs.upsert([rec("id-\ud800")]), InvalidArgumentError, "not valid Unicode"),
    ("lone surrogate text", lambda e: e.docs.upsert([rec(text="\udfff")]), InvalidArgumentError, "not valid Unicode"),
    ("a string for ids", lambda e: e.docs.delete("r0"), InvalidArgumentError, "not a single string"),
    ("async: wrong dimension upsert", lambda e: e.adocs.upsert([rec(vector=[1.0])]), InvalidArgumentError, "dimension"),
    ("async: duplicate ids", lambda e: e.adocs.upsert([rec("d"), rec("d")]), InvalidArgumentError, "twice"),
    ("async: bad filter", lambda e: e.adocs.search(Q, filter={"$nor": []}), InvalidArgumentError, "operator"),
    ("async: k 0", lambda e: e.adocs.search(Q, 0), InvalidArgumentError, "k must be"),
]  # fmt: skip


def five_texts_bad_metadata_last(e: Env) -> Any:
    metadatas = [{"n": i} for i in range(4)] + [{"n": {1, 2}}]
    return e.lc.add_texts(
        [f"t{i}" for i in range(5)], metadatas, ids=[f"p{i}" for i in range(5)], batch_size=2
    )


def lc_with(e: Env, embedding: Embeddings, **options: Any) -> LangChainStore:
    return LangChainStore(embedding, collection_name="lc", db_name=DB, client=e.client, **options)


LANGCHAIN_CASES: list[Case] = [
    ("wrong dimension embeddings", lambda e: lc_with(e, DeterministicFakeEmbedding(size=DIM + 1)).add_texts(["x"]), InvalidArgumentError, "dimension 5"),
    ("wrong dimension query", lambda e: lc_with(e, DeterministicFakeEmbedding(size=2)).similarity_search("x"), InvalidArgumentError, "dimension 2"),
    ("NaN embeddings", lambda e: lc_with(e, ConstantEmbeddings([NAN] * DIM)).add_texts(["x"]), InvalidArgumentError, "NaN or infinity"),
    ("NaN query embedding", lambda e: lc_with(e, ConstantEmbeddings([NAN] * DIM)).similarity_search("x"), InvalidArgumentError, "NaN or infinity"),
    ("empty embedding", lambda e: lc_with(e, ConstantEmbeddings([])).add_texts(["x"]), InvalidArgumentError, "empty"),
    ("empty text, server embeds", lambda e: e.lc_server_embeds.add_texts(["fine", ""]), InvalidArgumentError, "non-empty string"),
    ("text above the message limit", lambda e: e.lc_small.add_texts([BIG]), InvalidArgumentError, "message limit"),
    ("metadata not JSON", lambda e: e.lc.add_texts(["x"], [{"d": datetime.date(2024, 1, 1)}]), InvalidArgumentError, "isoformat"),
    ("metadata not JSON in a later batch", five_texts_bad_metadata_last, InvalidArgumentError, "set"),
    ("reserved metadata key", lambda e: e.lc.add_texts(["x"], [{"_sci_h": "abc"}]), InvalidArgumentError, "reserved prefix"),
    ("metadatas count mismatch", lambda e: e.lc.add_texts(["x", "y"], [{}, {}, {}]), InvalidArgumentError, "3 metadatas for 2 texts"),
    ("filter: unknown operator", lambda e: e.lc.similarity_search("x", filter={"n": {"$like": "a"}}), InvalidArgumentError, "unknown operator"),
    ("filter: bad operand", lambda e: e.lc.delete(filter={"n": {"$all": []}}), InvalidArgumentError, r"\$all"),
    ("filter: neither dict nor callable", lambda e: e.lc.similarity_search("x", filter="n = 1"), InvalidArgumentError, "filter must be a dict"),
    ("unknown metric", lambda e: lc_with(e, DeterministicFakeEmbedding(size=DIM), metric="hamming"), InvalidArgumentError, "unknown metric"),
    ("k 0", lambda e: e.lc.similarity_search("x", k=0), InvalidArgumentError, "k must be a positive integer"),
    ("k -1 with scores", lambda e: e.lc.similarity_search_with_score("x", k=-1), InvalidArgumentError, "k must be a positive integer"),
    ("empty collection name", lambda e: LangChainStore(DeterministicFakeEmbedding(size=DIM), collection_name="", client=e.client), InvalidArgumentError, "collection name"),
    ("duplicate ids in one call", lambda e: e.lc.add_texts(["x", "y"], ids=["dup", "dup"]), InvalidArgumentError, "'dup' appears twice"),
    ("int id", lambda e: e.lc.add_texts(["x"], ids=[5]), InvalidArgumentError, "must be a string"),
    ("lone surrogate text", lambda e: e.lc.add_texts(["\ud834"]), InvalidArgumentError, "not valid Unicode"),
    ("async: duplicate ids", lambda e: e.lc.aadd_texts(["x", "y"], ids=["dup", "dup"]), InvalidArgumentError, "twice"),
    ("async: k 0", lambda e: e.lc.asimilarity_search("x", k=0), InvalidArgumentError, "k must be"),
]  # fmt: skip


def query(**options: Any) -> VectorStoreQuery:
    return VectorStoreQuery(**{"query_embedding": Q, "similarity_top_k": 2, **options})


def filters(*items: MetadataFilter) -> MetadataFilters:
    return MetadataFilters(filters=list(items))


LLAMA_INDEX_CASES: list[Case] = [
    ("wrong dimension embedding", lambda e: e.li.add([node("w", [1.0, 2.0])]), InvalidArgumentError, "dimension 2"),
    ("wrong dimension query", lambda e: e.li.query(query(query_embedding=[1.0])), InvalidArgumentError, "dimension 1"),
    ("NaN embedding", lambda e: e.li.add([node("w", [NAN, 0.0, 0.0, 0.0])]), InvalidArgumentError, "NaN or infinity"),
    ("no embedding", lambda e: e.li.add([node("ok", Q), node("w", None)]), InvalidArgumentError, "has no embedding"),
    ("empty embedding", lambda e: e.li.add([node("w", [])]), InvalidArgumentError, "empty"),
    ("text above the message limit", lambda e: LlamaIndexStore("li", DB, client=e.small).add([node("w", Q, BIG)]), InvalidArgumentError, "message limit"),
    ("metadata not serializable", lambda e: e.li.add([node("w", Q, o=object())]), InvalidArgumentError, "cannot hold"),
    ("metadata datetime", lambda e: e.li.add([node("w", Q, when=datetime.datetime(2024, 1, 1))]), InvalidArgumentError, "isoformat"),
    ("reserved metadata key", lambda e: e.li.add([node("w", Q, _sci_g="x")]), InvalidArgumentError, "reserved prefix"),
    ("filter: text match on a number", lambda e: e.li.query(query(filters=filters(MetadataFilter(key="year", value=1, operator=FilterOperator.TEXT_MATCH)))), InvalidArgumentError, "needs a string value"),
    ("filter: $in operand not a list", lambda e: e.li.get_nodes(filters=filters(MetadataFilter(key="year", value=2024, operator=FilterOperator.IN))), InvalidArgumentError, r"\$in"),
    ("filter: $gt on a list", lambda e: e.li.delete_nodes(filters=filters(MetadataFilter(key="year", value=[1], operator=FilterOperator.GT))), InvalidArgumentError, r"\$gt"),
    ("unsupported query mode", lambda e: e.li.query(query(mode=VectorStoreQueryMode.SVM)), InvalidArgumentError, "not supported"),
    ("no query embedding", lambda e: e.li.query(VectorStoreQuery(query_str="q", similarity_top_k=1)), InvalidArgumentError, "query_embedding is required"),
    ("unknown metric", lambda e: LlamaIndexStore("li", DB, client=e.client, metric="hamming"), InvalidArgumentError, "unknown metric"),
    ("similarity_top_k 0", lambda e: e.li.query(query(similarity_top_k=0)), InvalidArgumentError, "k must be a positive integer"),
    ("empty collection name", lambda e: LlamaIndexStore("", DB, client=e.client), InvalidArgumentError, "collection name"),
    ("duplicate node ids in one add", lambda e: e.li.add([node("d", Q), node("d", Q, "again")]), InvalidArgumentError, "'d' appears twice"),
    ("lone surrogate id", lambda e: e.li.add([node("\udc80", Q)]), InvalidArgumentError, "not valid Unicode"),
    ("async: duplicate node ids", lambda e: e.li.async_add([node("d", Q), node("d", Q)]), InvalidArgumentError, "twice"),
    ("async: similarity_top_k 0", lambda e: e.li.aquery(query(similarity_top_k=0)), InvalidArgumentError, "k must be"),
]  # fmt: skip

ALL_CASES = [
    pytest.param(layer, *case, id=f"{layer}: {case[0]}")
    for layer, cases in (
        ("client", CLIENT_CASES + ASYNC_CLIENT_CASES),
        ("documents", DOCUMENT_CASES),
        ("langchain", LANGCHAIN_CASES),
        ("llama_index", LLAMA_INDEX_CASES),
    )
    for case in cases
]


@pytest.mark.parametrize(("layer", "label", "call", "error", "message"), ALL_CASES)
async def test_bad_input_is_refused_and_the_server_is_unchanged(
    env: Env, layer: str, label: str, call: Callable[[Env], Any], error: type[Exception], message: str
) -> None:
    before = server_state(env.client)
    with pytest.raises(error, match=message) as caught:
        result = call(env)
        if isinstance(result, Awaitable):
            await result
    if isinstance(caught.value, ScintireteError) and caught.value.code is not None:
        assert not env.client.retry.should_retry(caught.value.rpc or "", caught.value)  # never resent
    assert server_state(env.client) == before, f"{layer}: {label} changed the server"


# -- accepted on purpose: documented behaviour, not errors -----------------------------------------


def test_empty_text_is_a_valid_document_when_the_caller_embeds(env: Env) -> None:
    """A Record's text is optional (vectors may stand alone); only server-side embedding needs text."""
    env.docs.upsert([Record("no-text", "", [0.5, 0.5, 0.0, 0.0])])
    assert env.docs.get(["no-text"])[0].text == ""
    [ident] = env.lc.add_texts([""], ids=["lc-empty"])
    assert env.lc.get_by_ids([ident])[0].page_content == ""
    env.docs.delete(["no-text"])
    env.lc.delete(["lc-empty"])


def test_both_stores_refuse_the_same_metadata(env: Env) -> None:
    """One rule, the document layer's: LlamaIndex's node_to_metadata_dict would stringify these silently."""
    for value, hint in ((datetime.time(1, 2), "isoformat"), (b"xy", "decode"), (NAN, "NaN")):
        with pytest.raises(InvalidArgumentError, match=hint):
            env.li.add([node("conv", [0.0, 1.0, 0.0, 0.0], v=value)])
        with pytest.raises(InvalidArgumentError, match=hint):
            env.lc.add_texts(["conv"], [{"v": value}])
    assert env.li.get_nodes(["conv"]) == []


def test_duplicate_ids_in_one_delete_are_counted_once(env: Env) -> None:
    env.docs.upsert([Record("dd", "t", [0.0, 0.0, 1.0, 1.0])])
    assert env.docs.delete(["dd", "dd"]) == 1
    [first] = env.client.insert_vectors(DB, "c", [[0.0, 0.0, 0.0, 1.0]])
    assert env.client.delete_vectors(DB, "c", [first, first]) == 1


def test_wrong_types_from_the_caller_never_reach_the_server_half_built(env: Env) -> None:
    """A batch is checked as a whole before the first request: a bad last record stops all of it."""
    before = server_state(env.client)
    batch = [rec(f"ok{i}", [float(i), 1.0, 0.0, 0.0]) for i in range(50)] + [rec("bad", [NAN] * DIM)]
    with pytest.raises(InvalidArgumentError):
        env.docs.upsert(batch)
    with pytest.raises(InvalidArgumentError):
        env.li.add([node(f"ok{i}", [float(i), 1.0, 0.0, 0.0]) for i in range(50)] + [node("bad", None)])
    assert server_state(env.client) == before


# -- unicode and emoji everywhere ------------------------------------------------------------------

U_DB = "数据库 🗄️"
U_COLLECTION = "コレクション 🚀 ñ"
U_METADATA = {"ключ 🔑": "значение 🎉", "emoji": "👩‍👩‍👧‍👦", "nested": {"ü": ["🙂", 1, 2.5]}, "rtl": "مرحبا"}


def test_unicode_and_emoji_round_trip_through_the_client_and_a_restart(tmp_path: Path) -> None:
    with LiteServer(tmp_path / "data", password="pässwörd 🔐") as server:
        client = ScintireteClient(server.address, password="pässwörd 🔐")
        client.ensure_collection(U_DB, U_COLLECTION, "cosine")
        [ident] = client.insert_vectors(U_DB, U_COLLECTION, [Q], [U_METADATA])
        [hit] = client.search(U_DB, U_COLLECTION, Q, 1)
        assert (hit.id, hit.metadata["ключ 🔑"], hit.metadata["nested"]) == (
            ident,
            "значение 🎉",
            {"ü": ["🙂", 1.0, 2.5]},
        )
        docs = DocumentCollection("документы 📄", client, db=U_DB)
        docs.upsert([Record("id-🙂-é", "texte 🙂 naïve", Q, U_METADATA, group="groupe 🧩")])
        before = server_state(client)
    with LiteServer(tmp_path / "data", password="pässwörd 🔐") as server:
        client = ScintireteClient(server.address, password="pässwörd 🔐")
        assert server_state(client) == before
        assert U_DB in client.list_databases()
        docs = DocumentCollection("документы 📄", client, db=U_DB)
        [record] = docs.get(["id-🙂-é"])
        assert (record.text, dict(record.metadata), record.group) == (
            "texte 🙂 naïve",
            U_METADATA,
            "groupe 🧩",
        )


async def test_unicode_and_emoji_round_trip_through_the_document_layer(env: Env) -> None:
    docs = DocumentCollection("ドキュメント 📚", env.client, db=U_DB, metric="l2")
    records = [
        Record("🙂", "smile 🙂", [1.0, 0.0, 0.0, 0.0], {**U_METADATA, "n": 1}, group="g 🧩"),
        Record("é-ü-ß", "umlaut ü", [0.0, 1.0, 0.0, 0.0], {"ключ 🔑": "другое", "n": 2}),
    ]
    assert docs.upsert(records) == ["🙂", "é-ü-ß"]
    assert [r.id for r in docs.get(["é-ü-ß", "🙂"])] == ["é-ü-ß", "🙂"]
    assert [r.id for r in docs.scan({"ключ 🔑": "значение 🎉"})] == ["🙂"]
    assert [r.id for r in docs.scan({"nested.ü": {"$contains": "🙂"}})] == ["🙂"]
    [hit] = docs.search([1.0, 0.1, 0.0, 0.0], 1, filter={"emoji": {"$icontains": "👩‍👩‍👧‍👦"}})
    assert (hit.record.id, hit.record.text, hit.record.group) == ("🙂", "smile 🙂", "g 🧩")
    adocs = AsyncDocumentCollection("ドキュメント 📚", env.aclient, db=U_DB, metric="l2")
    assert [r.id for r in await adocs.get(["🙂"])] == ["🙂"]
    assert await adocs.delete(["🙂"]) == 1
    assert [r.id for r in docs.scan()] == ["é-ü-ß"]
    assert docs.drop()


def test_unicode_and_emoji_round_trip_through_both_stores(env: Env) -> None:
    lc = LangChainStore(
        DeterministicFakeEmbedding(size=DIM), collection_name="ラング 🦜", db_name=U_DB, client=env.client
    )
    ids = lc.add_texts(
        ["Grüße aus Köln 🍺", "東京タワー 🗼"], [U_METADATA, {"city": "東京"}], ids=["köln-🍺", "東京-🗼"]
    )
    assert ids == ["köln-🍺", "東京-🗼"]
    [doc] = lc.get_by_ids(["東京-🗼"])
    assert (doc.page_content, doc.metadata) == ("東京タワー 🗼", {"city": "東京"})
    [found] = lc.similarity_search("Grüße aus Köln 🍺", k=1, filter={"ключ 🔑": "значение 🎉"})
    assert (found.id, found.metadata) == ("köln-🍺", U_METADATA)

    li = LlamaIndexStore("ラマ 🦙", U_DB, client=env.client)
    li.add([node("節点-🦙", Q, "テキスト 🦙", **U_METADATA)])
    [got] = li.get_nodes(filters=filters(MetadataFilter(key="rtl", value="مرحبا")))
    assert (got.node_id, got.get_content(), got.metadata["nested"]) == (
        "節点-🦙",
        "テキスト 🦙",
        {"ü": ["🙂", 1, 2.5]},
    )
    result = li.query(
        query(filters=filters(MetadataFilter(key="emoji", value="👩", operator=FilterOperator.TEXT_MATCH)))
    )
    assert result.ids == ["節点-🦙"]
