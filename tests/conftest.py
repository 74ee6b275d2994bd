"""Shared fixtures: one in-memory Scintirete Lite server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scintirete_integrations.lite import HashEmbeddings, LiteServer


@pytest.fixture(scope="session")
def lite_server() -> Iterator[LiteServer]:
    """A started in-memory LiteServer with deterministic (not semantic) embeddings."""
    with LiteServer(embedding=HashEmbeddings(64)) as server:
        yield server


@pytest.fixture(scope="session")
def address(lite_server: LiteServer) -> str:
    return lite_server.address


@pytest.fixture(scope="session")
def password(lite_server: LiteServer) -> str:
    return lite_server.password
