"""Shared fixtures: one in-memory Scintirete Lite server for the whole session, and a real server when set.

Every test that takes ``address`` / ``password`` runs on Lite and, when ``SCINTIRETE_ADDRESS``
(and ``SCINTIRETE_PASSWORD``) name an unmodified Scintirete server, on that server too
(test ids end in ``[lite]`` / ``[server]``). Tests that need what only Lite offers (its
embedding provider, its files) take ``lite_server`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from scintirete_integrations.lite import HashEmbeddings, LiteServer

TARGETS = ["lite"] + (["server"] if os.environ.get("SCINTIRETE_ADDRESS") else [])


@pytest.fixture(scope="session")
def lite_server() -> Iterator[LiteServer]:
    """A started in-memory LiteServer with deterministic (not semantic) embeddings."""
    with LiteServer(embedding=HashEmbeddings(64)) as server:
        yield server


@pytest.fixture(scope="session", params=TARGETS)
def server_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def address(server_kind: str, lite_server: LiteServer) -> str:
    return lite_server.address if server_kind == "lite" else os.environ["SCINTIRETE_ADDRESS"]


@pytest.fixture(scope="session")
def password(server_kind: str, lite_server: LiteServer) -> str:
    return lite_server.password if server_kind == "lite" else os.environ.get("SCINTIRETE_PASSWORD", "")
