"""Every sync/async pair exposes the same public names with the same signatures."""

from __future__ import annotations

import inspect

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
