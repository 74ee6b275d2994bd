"""Embedding providers behind the ``Embed*`` RPCs of Scintirete Lite.

A provider lists its models, names a default, and turns texts into a float32 matrix.
Three implementations:

- :class:`OpenAIEmbeddings`: any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint
  (OpenAI, Azure-style gateways, Ollama, vLLM, LM Studio...), over the standard library only.
- :class:`CallableEmbeddings`: any Python function ``list[str] -> vectors``, such as a local
  sentence-transformers model.
- :class:`HashEmbeddings`: deterministic and offline, for tests and demos. It hashes words
  and character trigrams into a fixed dimension: texts sharing words score close, but it
  is NOT semantic ("car" and "automobile" are unrelated to it).

Any failure inside a provider becomes, on the wire, INTERNAL "failed to get embeddings: ..."
as on the real server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..models import EmbeddingModel

__all__ = [
    "CallableEmbeddings",
    "EmbeddingError",
    "EmbeddingProvider",
    "HashEmbeddings",
    "OpenAIEmbeddings",
    "as_provider",
]

Matrix = np.ndarray[Any, np.dtype[np.float32]]


class EmbeddingError(RuntimeError):
    """A provider could not embed: endpoint unreachable, bad answer, unknown model..."""


@runtime_checkable
class EmbeddingProvider(Protocol):
    """What LiteServer needs from an embedding backend."""

    @property
    def default_model(self) -> str:
        """The model used when a request names none."""
        ...

    def models(self) -> list[EmbeddingModel]:
        """The models this provider serves (dimension 0 while still unknown)."""
        ...

    def embed(self, texts: Sequence[str], model: str | None = None) -> Matrix:
        """One float32 row per text, in order; raises EmbeddingError on failure."""
        ...


def _as_matrix(vectors: Any, count: int, source: str) -> Matrix:
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(f"{source} returned something that is not a list of vectors: {exc}") from None
    if matrix.ndim != 2 or len(matrix) != count:
        raise EmbeddingError(f"{source} returned shape {matrix.shape} for {count} texts")
    return matrix


def _check_model(requested: str | None, default: str) -> str:
    if requested and requested != default:
        raise EmbeddingError(f"unknown embedding model {requested!r}; this server provides {default!r}")
    return default


class HashEmbeddings:
    """Deterministic offline embeddings: NOT semantic, for tests and demos only.

    Each lower-cased word and each character trigram is hashed (CRC32, seeded) to a signed
    slot of a ``dimension``-long vector, which is then L2-normalised. The same text gives
    the same vector in every process and on every platform; an empty text gives zeros.

    >>> provider = HashEmbeddings(64)
    >>> provider.embed(["hello world"]).shape
    (1, 64)
    >>> provider.default_model
    'hash-64'
    """

    def __init__(self, dimension: int = 256, *, seed: int = 0, model: str | None = None) -> None:
        if dimension <= 0:
            raise ValueError(f"dimension must be positive, got {dimension}")
        self.dimension = dimension
        self.seed = seed & 0xFFFFFFFF
        self._model = model or f"hash-{dimension}"

    def __repr__(self) -> str:
        return f"HashEmbeddings({self.dimension}, seed={self.seed})"

    @property
    def default_model(self) -> str:
        return self._model

    def models(self) -> list[EmbeddingModel]:
        description = "deterministic hashing of words and character trigrams; not semantic"
        return [EmbeddingModel(self._model, self._model, self.dimension, True, description)]

    def _features(self, text: str) -> list[str]:
        lowered = text.lower()
        padded = f" {lowered} "
        return lowered.split() + [padded[i : i + 3] for i in range(len(padded) - 2)]

    def embed_one(self, text: str) -> Matrix:
        """The vector of one text."""
        vector = np.zeros(self.dimension, np.float32)
        hashes = np.array([zlib.crc32(f.encode("utf-8"), self.seed) for f in self._features(text)], np.uint64)
        if len(hashes):
            signs = np.where(hashes >> np.uint64(31) & np.uint64(1), -1.0, 1.0).astype(np.float32)
            np.add.at(vector, (hashes % np.uint64(self.dimension)).astype(np.intp), signs)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def embed(self, texts: Sequence[str], model: str | None = None) -> Matrix:
        _check_model(model, self._model)
        matrix = np.zeros((len(texts), self.dimension), np.float32)
        for row, text in enumerate(texts):
            matrix[row] = self.embed_one(text)
        return matrix


class CallableEmbeddings:
    """Wrap a function ``list[str] -> vectors`` (lists, or a 2-d array) as a provider.

    >>> provider = CallableEmbeddings(lambda texts: [[float(len(t)), 1.0] for t in texts], model="len")
    >>> provider.embed(["abc"]).tolist()
    [[3.0, 1.0]]
    >>> provider.models()[0].dimension
    2
    """

    def __init__(
        self, function: Callable[[list[str]], Any], *, model: str = "callable", dimension: int | None = None
    ) -> None:
        self.function = function
        self._model = model
        self._dimension = dimension or 0

    def __repr__(self) -> str:
        return f"CallableEmbeddings({self.function!r}, model={self._model!r})"

    @property
    def default_model(self) -> str:
        return self._model

    def models(self) -> list[EmbeddingModel]:
        return [EmbeddingModel(self._model, self._model, self._dimension, True, "a Python callable")]

    def embed(self, texts: Sequence[str], model: str | None = None) -> Matrix:
        _check_model(model, self._model)
        matrix = _as_matrix(self.function(list(texts)), len(texts), f"embedding function {self._model!r}")
        if self._dimension and matrix.shape[1] != self._dimension:
            raise EmbeddingError(
                f"embedding function returned dimension {matrix.shape[1]}, expected {self._dimension}"
            )
        self._dimension = matrix.shape[1]
        return matrix


class OpenAIEmbeddings:
    """An OpenAI-compatible embeddings endpoint: ``POST {base_url}/embeddings``.

    Sends ``{"model": ..., "input": [...]}`` in batches of ``batch_size`` with
    ``Authorization: Bearer <api_key>`` when a key is given. A request may name another
    model; it is passed through to the endpoint. The key never appears in repr or errors.

    ::

        provider = OpenAIEmbeddings("https://api.openai.com/v1", api_key, "text-embedding-3-small")
        LiteServer(embedding=provider)
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str = "text-embedding-3-small",
        *,
        dimension: int | None = None,
        timeout: float = 30.0,
        batch_size: int = 256,
    ) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.url = base_url.rstrip("/") + "/embeddings"
        self._api_key = api_key
        self._model = model
        self._dimension = dimension or 0
        self.timeout = timeout
        self.batch_size = max(1, batch_size)

    def __repr__(self) -> str:
        return f"OpenAIEmbeddings({self.url!r}, model={self._model!r})"

    @property
    def default_model(self) -> str:
        return self._model

    def models(self) -> list[EmbeddingModel]:
        return [
            EmbeddingModel(
                self._model, self._model, self._dimension, True, f"OpenAI-compatible at {self.url}"
            )
        ]

    def embed(self, texts: Sequence[str], model: str | None = None) -> Matrix:
        name = model or self._model
        batches = [
            self._post(name, list(texts[i : i + self.batch_size]))
            for i in range(0, len(texts), self.batch_size)
        ]
        if not batches:
            return np.zeros((0, self._dimension), np.float32)
        matrix = np.concatenate(batches) if len(batches) > 1 else batches[0]
        if name == self._model:
            self._dimension = matrix.shape[1]
        return matrix

    def _post(self, model: str, texts: list[str]) -> Matrix:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = json.dumps({"model": model, "input": texts}).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read(500).decode("utf-8", "replace")
            raise EmbeddingError(f"{self.url} answered HTTP {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            raise EmbeddingError(f"cannot reach {self.url}: {exc.reason}") from None
        except (OSError, ValueError) as exc:
            raise EmbeddingError(f"embedding request to {self.url} failed: {exc}") from None
        return _as_matrix(_embeddings_of(payload), len(texts), self.url)


def _embeddings_of(payload: Any) -> list[Any]:
    """The vectors of an OpenAI embeddings answer, in input order."""
    try:
        items = sorted(payload["data"], key=lambda item: item.get("index", 0))
        return [item["embedding"] for item in items]
    except (KeyError, TypeError, AttributeError):
        raise EmbeddingError("the embeddings answer has no 'data' list of {'embedding': [...]}") from None


def as_provider(embedding: EmbeddingProvider | Callable[[list[str]], Any] | None) -> EmbeddingProvider | None:
    """Accept a provider, a plain function (wrapped in CallableEmbeddings), or None."""
    if embedding is None or isinstance(embedding, EmbeddingProvider):
        return embedding
    if callable(embedding):
        return CallableEmbeddings(embedding)
    raise TypeError(f"embedding must be an EmbeddingProvider or a callable, got {type(embedding).__name__}")
