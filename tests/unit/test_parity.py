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


def _store_pairs(cls: type, async_name: Callable[[str], str]) -> list[tuple[str, str]]:
    """(sync, async) method names defined by ``cls`` itself whose async twin it also defines."""
    own = {
        name
        for name, member in vars(cls).items()
        if not name.startswith("_")
        and (isinstance(member, (classmethod, staticmethod)) or inspect.isfunction(member))
    }
    return [(name, async_name(name)) for name in sorted(own) if async_name(name) in own]


def _store_classes() -> list[tuple[type, Callable[[str], str]]]:
    from scintirete_integrations.langchain import ScintireteEmbeddings, ScintireteVectorStore
    from scintirete_integrations.llama_index import ScintireteVectorStore as LlamaStore

    def llama_twin(name: str) -> str:
        return "async_add" if name == "add" else "a" + name

    return [
        (ScintireteVectorStore, "a".__add__),
        (ScintireteEmbeddings, "a".__add__),
        (LlamaStore, llama_twin),
    ]


@pytest.mark.parametrize("index", range(3))
def test_store_sync_and_async_twins_agree(index: int) -> None:
    cls, twin = _store_classes()[index]
    pairs = _store_pairs(cls, twin)
    assert len(pairs) >= 2, f"{cls.__name__} should define sync/async pairs"
    for sync_name, async_name in pairs:
        sync_sig = inspect.signature(getattr(cls, sync_name))
        async_sig = inspect.signature(getattr(cls, async_name))
        assert list(sync_sig.parameters) == list(async_sig.parameters), f"{cls.__name__}.{sync_name}"
        assert inspect.iscoroutinefunction(getattr(cls, async_name)), f"{cls.__name__}.{async_name}"
