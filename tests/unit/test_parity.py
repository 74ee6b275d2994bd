"""Every sync/async pair exposes the same public names with the same signatures."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from scintirete_integrations.client import AsyncScintireteClient, ScintireteClient
from scintirete_integrations.documents import AsyncDocumentCollection, DocumentCollection

# Names that exist on one side only, on purpose.
ONE_SIDED = {"__enter__", "__exit__", "__aenter__", "__aexit__", "async_twin", "sync_twin"}

PAIRS = [(ScintireteClient, AsyncScintireteClient), (DocumentCollection, AsyncDocumentCollection)]


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_") and name not in ONE_SIDED
    }


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda c: c.__name__)
def test_same_public_names(sync_cls: type, async_cls: type) -> None:
    assert sorted(_public(sync_cls)) == sorted(_public(async_cls))


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda c: c.__name__)
def test_same_signatures_and_async_methods_are_coroutines(sync_cls: type, async_cls: type) -> None:
    sync_methods, async_methods = _public(sync_cls), _public(async_cls)
    for name, signature in sync_methods.items():
        assert async_methods[name].parameters.keys() == signature.parameters.keys(), name
        for key, param in signature.parameters.items():
            assert async_methods[name].parameters[key].default == param.default, f"{name}({key})"
        member = getattr(async_cls, name)
        if not isinstance(inspect.getattr_static(async_cls, name), (classmethod, staticmethod)):
            assert inspect.iscoroutinefunction(member), f"{async_cls.__name__}.{name} must be async"


def _langchain_twin(name: str) -> str:
    return "a" + name


def _llama_twin(name: str) -> str:
    if name.startswith("_get_"):  # BaseEmbedding's hooks: _get_query_embedding / _aget_query_embedding
        return "_a" + name[1:]
    return "async_add" if name == "add" else "a" + name


def _own_methods(cls: type, private_prefix: tuple[str, ...] | None) -> set[str]:
    """Methods ``cls`` defines itself: the public ones, or those starting with ``private_prefix``."""
    return {
        name
        for name, member in vars(cls).items()
        if (name.startswith(private_prefix) if private_prefix else not name.startswith("_"))
        and (isinstance(member, (classmethod, staticmethod)) or inspect.isfunction(member))
    }


def _is_async(cls: type, name: str) -> bool:
    member = getattr(cls, name)  # an async generator (``ascroll``) is the twin of a generator
    return inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member)


def missing_twins(
    cls: type, twin: Callable[[str], str], private_prefix: tuple[str, ...] | None = None
) -> list[str]:
    """What is wrong with ``cls``'s sync/async pairs: a sync method without its async twin, an
    async method whose sync twin is missing, or a twin that is not a coroutine function."""
    own = _own_methods(cls, private_prefix) - NO_TWIN.get(_key(cls), set())
    sync = {name for name in own if not _is_async(cls, name)}
    problems = [f"{name} has no async twin {twin(name)}" for name in sorted(sync) if twin(name) not in own]
    problems += [f"{twin(name)} is not async" for name in sorted(sync) if twin(name) in sync]
    twins = {twin(name) for name in sync}
    problems += [f"{name} has no sync twin" for name in sorted(own - sync - twins)]
    return problems


#: Methods defined on one side only, on purpose, per class.
NO_TWIN = {
    "scintirete_integrations.llama_index.store.ScintireteVectorStore": {"class_name", "model_post_init"},
    "scintirete_integrations.llama_index.embeddings.ScintireteEmbedding": {"class_name", "model_post_init"},
    "scintirete_integrations.llama_index.embeddings.MiniLMEmbedding": {"class_name", "model_post_init"},
}


def _key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


def _store_classes() -> list[tuple[type, Callable[[str], str], tuple[str, ...] | None]]:
    from scintirete_integrations.langchain import ScintireteEmbeddings, ScintireteVectorStore
    from scintirete_integrations.langchain.reads import Reads
    from scintirete_integrations.langchain.writes import Writes
    from scintirete_integrations.llama_index import MiniLMEmbedding, ScintireteEmbedding
    from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaStore

    return [
        # The LangChain store is built in layers, each defining its own methods.
        (ScintireteVectorStore, _langchain_twin, None),
        (Reads, _langchain_twin, None),
        (Writes, _langchain_twin, None),
        (ScintireteEmbeddings, _langchain_twin, None),
        (LlamaStore, _llama_twin, None),
        (ScintireteEmbedding, _llama_twin, ("_get_", "_aget_")),  # LlamaIndex calls the private hooks
        (MiniLMEmbedding, _llama_twin, ("_get_", "_aget_")),
    ]


@pytest.mark.parametrize("index", range(7))
def test_every_store_method_has_its_async_twin(index: int) -> None:
    cls, twin, private_prefix = _store_classes()[index]
    assert missing_twins(cls, twin, private_prefix) == []
    assert len(_own_methods(cls, private_prefix)) >= 4, f"{cls.__name__} should define sync/async pairs"


@pytest.mark.parametrize("index", range(7))
def test_store_sync_and_async_twins_agree(index: int) -> None:
    cls, twin, private_prefix = _store_classes()[index]
    own = _own_methods(cls, private_prefix)
    for sync_name in sorted(name for name in own if not _is_async(cls, name) and twin(name) in own):
        sync_sig = inspect.signature(getattr(cls, sync_name))
        async_sig = inspect.signature(getattr(cls, twin(sync_name)))
        assert list(sync_sig.parameters) == list(async_sig.parameters), f"{cls.__name__}.{sync_name}"


@pytest.mark.parametrize("index", range(7))
def test_a_deleted_or_renamed_twin_is_found(index: int) -> None:
    cls, twin, private_prefix = _store_classes()[index]
    own = _own_methods(cls, private_prefix) - NO_TWIN.get(_key(cls), set())
    some_async = sorted(name for name in own if _is_async(cls, name))[0]
    members = dict(vars(cls))
    deleted = type(cls.__name__, (), {k: v for k, v in members.items() if k != some_async})
    assert missing_twins(deleted, twin, private_prefix), f"deleting {some_async} went unnoticed"
    renamed = type(
        cls.__name__, (), {(k + "_renamed" if k == some_async else k): v for k, v in members.items()}
    )
    assert missing_twins(renamed, twin, private_prefix), f"renaming {some_async} went unnoticed"


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda c: c.__name__)
def test_every_client_and_collection_method_has_its_async_twin(sync_cls: type, async_cls: type) -> None:
    sync_methods, async_methods = _public(sync_cls), _public(async_cls)
    assert [name for name in sync_methods if name not in async_methods] == []
    assert [name for name in async_methods if name not in sync_methods] == []


CONNECTION_ARGUMENTS = [
    "address",
    "password",
    "client",
    "async_client",
    "data_dir",
    "timeout",
    "client_options",
]


@pytest.mark.parametrize("index", range(4))
def test_adapters_take_the_same_connection_arguments(index: int) -> None:
    # The stores and embeddings themselves, not the layers a store is built from.
    cls = [cls for cls, _, _ in _store_classes() if "__init__" in vars(cls)][index]
    parameters = inspect.signature(cls.__init__).parameters
    assert [name for name in CONNECTION_ARGUMENTS if name not in parameters] == []
    assert [parameters[name].kind for name in CONNECTION_ARGUMENTS] == [inspect.Parameter.KEYWORD_ONLY] * 7
