"""LangChain's own standard vector-store suite, run unchanged against ScintireteVectorStore.

Each test gets a fresh, empty collection on the session's server (the ``address`` fixture),
dropped afterwards. The embeddings are the suite's own deterministic fakes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from scintirete_integrations.langchain import ScintireteVectorStore


class TestScintireteVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, address: str, password: str) -> Iterator[ScintireteVectorStore]:
        store = ScintireteVectorStore(
            self.get_embeddings(),
            collection_name=f"lc-standard-{uuid.uuid4().hex}",
            address=address,
            password=password,
        )
        try:
            yield store
        finally:
            store.delete_collection()

    @property
    def has_get_by_ids(self) -> bool:
        return True
