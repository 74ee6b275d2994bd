"""LangChain ``Embeddings``: :class:`ScintireteEmbeddings` (computed by the server, the ``EmbedText``
RPC) and :class:`MiniLMEmbeddings` (the bundled all-MiniLM-L6-v2 model, in this process)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.embeddings import Embeddings

from .._demo_embeddings import MODEL_NAME, encode_with_model, require_model
from ..client import USE_CLIENT_DEFAULT, AsyncScintireteClient, ScintireteClient, Timeout
from ..documents import resolve_clients
from ..errors import InvalidArgumentError, explain_embedding_failure
from ._records import DEFAULT_BATCH_SIZE, check_batch_size

# Added to the server's "failed to get embeddings" when the store or ScintireteEmbeddings asked it to embed.
PASS_EMBEDDINGS = (
    "a store given no embedding (and ScintireteEmbeddings) embed on the server: pass a LangChain "
    "Embeddings object, e.g. ScintireteVectorStore(OpenAIEmbeddings(), ...), or configure an "
    "embedding model on the server"
)


class ScintireteEmbeddings(Embeddings):
    """Embeddings computed by the Scintirete server's embedding model (the ``EmbedText`` RPC).

    ::

        from scintirete_integrations.langchain import ScintireteEmbeddings

        embeddings = ScintireteEmbeddings("text-embedding-3-small", address="localhost:9090", password="pw")
        embeddings.embed_documents(["first text", "second text"])   # two vectors, in order
        await embeddings.aembed_query("a question")

    ``model`` names one of the server's models (None: its default). Texts go to the server
    ``batch_size`` at a time. Connection arguments work as for :class:`ScintireteVectorStore`.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        address: str | None = None,
        password: str | None = None,
        client: ScintireteClient | None = None,
        async_client: AsyncScintireteClient | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if model is not None and (not isinstance(model, str) or not model):
            raise InvalidArgumentError(f"model must be a non-empty string or None, got {model!r}")
        self.model = model
        self.batch_size = check_batch_size(batch_size)
        self.timeout = timeout
        self._client, self._async_client = resolve_clients(
            address=address,
            password=password,
            data_dir=data_dir,
            client=client,
            async_client=async_client,
            **dict(client_options or {}),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, address={self._client.address!r})"

    def _chunks(self, texts: Iterable[str]) -> list[list[str]]:
        if isinstance(texts, str):
            raise InvalidArgumentError("texts must be a list of strings, not a single string")
        text_list = list(texts)
        return [
            text_list[start : start + self.batch_size] for start in range(0, len(text_list), self.batch_size)
        ]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (an empty list gives an empty list)."""
        vectors: list[list[float]] = []
        for chunk in self._chunks(texts):
            with explain_embedding_failure(PASS_EMBEDDINGS):
                vectors += self._client.embed_text(chunk, model=self.model, timeout=self.timeout)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        with explain_embedding_failure(PASS_EMBEDDINGS):
            return self._client.embed_text([text], model=self.model, timeout=self.timeout)[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`."""
        vectors: list[list[float]] = []
        for chunk in self._chunks(texts):
            with explain_embedding_failure(PASS_EMBEDDINGS):
                vectors += await self._async_client.embed_text(chunk, model=self.model, timeout=self.timeout)
        return vectors

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`."""
        with explain_embedding_failure(PASS_EMBEDDINGS):
            return (await self._async_client.embed_text([text], model=self.model, timeout=self.timeout))[0]


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 embeddings computed in this process, on CPU, offline: 384-d, unit length.

    Needs the ``model`` extra (``pip install torch==2.13.0 'scintirete-integrations[model]'``);
    without it, making one raises ``ModelUnavailableError`` (a ``RuntimeError``) saying what to
    install. The model loads on the first text and is shared by every instance::

        from scintirete_integrations.langchain import MiniLMEmbeddings, ScintireteVectorStore

        store = ScintireteVectorStore(MiniLMEmbeddings(), collection_name="notes")
        store.add_texts(["Bleed the radiator to let trapped air out."])
    """

    #: The Hugging Face name of the model.
    model_name = MODEL_NAME
    #: Length of every vector.
    dimension = 384

    def __init__(self) -> None:
        require_model("MiniLMEmbeddings")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        if isinstance(texts, str):
            raise InvalidArgumentError("texts must be a list of strings, not a single string")
        return encode_with_model(texts)

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text (queries and documents share one space)."""
        return encode_with_model([text])[0]
