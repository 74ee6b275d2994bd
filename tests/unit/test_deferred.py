"""DeferredDict: built on first use, a dict in every way after it."""

from __future__ import annotations

import pytest

from scintirete_integrations.documents.deferred import DeferredDict


def test_nothing_is_built_until_used_and_the_build_runs_once() -> None:
    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"a": 1, "b": 2}

    column = DeferredDict(build)
    assert not column.built and calls == [] and "not built" in repr(column)
    assert column.get("a") == 1 and column.built and calls == [1]
    column["c"] = 3
    del column["a"]
    assert list(column) == ["b", "c"] and len(column) == 2 and "b" in column and calls == [1]
    assert column.pop("b") == 2 and column.get("b") is None and column.get("b", 7) == 7


@pytest.mark.parametrize("first", ["get", "set", "delete", "iterate", "len", "contains", "compare"])
def test_any_first_use_sees_the_whole_dict(first: str) -> None:
    column = DeferredDict(lambda: {"a": 1, "b": 2})
    model = {"a": 1, "b": 2}
    for target in (column, model):
        if first == "get":
            assert target["a"] == 1
        elif first == "set":
            target["z"] = 9
        elif first == "delete":
            del target["b"]
        elif first == "iterate":
            assert list(target.items()) == [("a", 1), ("b", 2)]
        elif first == "len":
            assert len(target) == 2
        elif first == "contains":
            assert "b" in target
    assert column == model and model == column and dict(column) == model
    assert column == DeferredDict(lambda: dict(model)) and column != {"other": 0}
    with pytest.raises(KeyError):
        column["missing"]
