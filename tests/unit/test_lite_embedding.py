"""Embedding providers that need no network: hashing, callables, and argument checks."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from scintirete_integrations.lite.embedding import (
    CallableEmbeddings,
    EmbeddingError,
    EmbeddingProvider,
    HashEmbeddings,
    OpenAIEmbeddings,
    as_provider,
)


def test_hash_embeddings_are_deterministic_normalised_and_lexical() -> None:
    provider = HashEmbeddings(128, seed=3)
    vectors = provider.embed(["The quick brown fox", "the quick brown dog", "tax law of 1901", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (4, 128)
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0)
    assert not vectors[3].any()  # empty text: zeros
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert np.array_equal(HashEmbeddings(128, seed=3).embed_one("The quick brown fox"), vectors[0])
    assert not np.array_equal(HashEmbeddings(128, seed=4).embed_one("The quick brown fox"), vectors[0])
    # Pinned values: the same in every process and on every platform (CRC32, not hash()).
    pinned = HashEmbeddings(16).embed_one("hello world") * np.sqrt(21)  # 21 = sum of squared slot counts
    assert pinned.round(3).tolist() == [0, 1, -1, 1, -1, 0, 3, 0, -1, 0, 2, -1, 0, -1, 0, -1]


def test_hash_embeddings_models_and_model_names() -> None:
    provider = HashEmbeddings(32)
    assert provider.default_model == "hash-32"
    [model] = provider.models()
    assert (model.id, model.dimension, model.available) == ("hash-32", 32, True)
    assert "not semantic" in model.description
    assert provider.embed(["x"], "hash-32").shape == (1, 32)
    with pytest.raises(
        EmbeddingError, match="unknown embedding model 'other'; this server provides 'hash-32'"
    ):
        provider.embed(["x"], "other")
    assert HashEmbeddings(8, model="mine").default_model == "mine"
    with pytest.raises(ValueError, match="dimension must be positive"):
        HashEmbeddings(0)
    assert repr(provider) == "HashEmbeddings(32, seed=0)"


def test_callable_embeddings_check_shape_and_learn_the_dimension() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return [[float(len(text)), 1.0, 0.0] for text in texts]

    provider = CallableEmbeddings(embed, model="len")
    assert provider.models()[0].dimension == 0  # unknown until the first call
    assert provider.embed(("ab", "c")).tolist() == [[2.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
    assert calls == [["ab", "c"]]
    assert provider.models()[0].dimension == 3
    assert provider.default_model == "len"
    assert "len" in repr(provider)
    with pytest.raises(EmbeddingError, match="returned shape \\(1, 3\\) for 2 texts"):
        CallableEmbeddings(lambda texts: [[1.0, 2.0, 3.0]]).embed(["a", "b"])
    with pytest.raises(EmbeddingError, match="not a list of vectors"):
        CallableEmbeddings(lambda texts: [["x"]]).embed(["a"])
    with pytest.raises(EmbeddingError, match="dimension 2, expected 3"):
        CallableEmbeddings(lambda texts: [[1.0, 2.0]], dimension=3).embed(["a"])
    with pytest.raises(EmbeddingError, match="unknown embedding model"):
        provider.embed(["a"], "other")


def test_openai_embeddings_validate_the_url_and_hide_the_key() -> None:
    provider = OpenAIEmbeddings("https://example.invalid/v1/", "sk-secret", "m", dimension=3)
    assert provider.url == "https://example.invalid/v1/embeddings"
    assert "sk-secret" not in repr(provider)
    assert provider.default_model == "m"
    assert provider.models()[0].dimension == 3
    assert provider.embed([]).shape == (0, 3)
    with pytest.raises(ValueError, match="http\\(s\\) URL"):
        OpenAIEmbeddings("file:///etc/passwd")


def test_as_provider_accepts_providers_functions_and_none() -> None:
    hashing = HashEmbeddings(4)
    assert as_provider(hashing) is hashing
    assert as_provider(None) is None
    wrapped = as_provider(lambda texts: [[1.0] for _ in texts])
    assert isinstance(wrapped, CallableEmbeddings)
    assert isinstance(wrapped, EmbeddingProvider)
    with pytest.raises(TypeError, match="EmbeddingProvider or a callable"):
        as_provider(42)  # type: ignore[arg-type]


def test_the_docstring_examples_run() -> None:
    from scintirete_integrations.lite import embedding as embedding_module

    results = doctest.testmod(embedding_module)
    assert results.attempted > 0 and results.failed == 0
