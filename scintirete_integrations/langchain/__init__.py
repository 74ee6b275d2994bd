"""LangChain integration: a vector store, server-side embeddings and a self-query translator.

Install with the ``langchain`` extra (``pip install "scintirete-integrations[langchain]"``)::

    from langchain_core.documents import Document
    from scintirete_integrations.langchain import ScintireteVectorStore

    store = ScintireteVectorStore(my_embeddings, collection_name="notes")   # embedded Lite server
    store.add_documents([Document("the cat sat", metadata={"year": 2024}, id="a")])
    store.similarity_search("cat", k=1, filter={"year": {"$gte": 2020}})
    store.as_retriever(search_type="mmr", search_kwargs={"k": 3}).invoke("cats")
    store.as_retriever(search_kwargs={"retrieval_mode": "hybrid"}).invoke("ERR_4031")

Everything here is a thin shell over :mod:`scintirete_integrations.documents`, which owns
string ids, metadata encoding, filtering, scores and MMR; this module only converts between
LangChain ``Document`` objects and the layer's ``Record`` objects.

- :class:`ScintireteVectorStore`: the ``VectorStore``, natively sync and async.
- :class:`RetrievalMode`: dense, keyword (BM25) or hybrid retrieval, per store or per call.
- :class:`ScintireteEmbeddings`: ``Embeddings`` computed by the server's ``EmbedText`` RPC.
- :class:`MiniLMEmbeddings`: all-MiniLM-L6-v2 in this process (the ``model`` extra).
- :class:`ScintireteTranslator`: turns a ``StructuredQuery`` (from a ``SelfQueryRetriever``)
  into the document layer's Mongo-style filter dict.
"""

from __future__ import annotations

from .embeddings import MiniLMEmbeddings, ScintireteEmbeddings
from .modes import RetrievalMode
from .reads import RELEVANCE_FUNCTIONS
from .self_query import ScintireteTranslator
from .store import ScintireteVectorStore

__all__ = [
    "RELEVANCE_FUNCTIONS",
    "MiniLMEmbeddings",
    "RetrievalMode",
    "ScintireteEmbeddings",
    "ScintireteTranslator",
    "ScintireteVectorStore",
]
