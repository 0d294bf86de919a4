"""End-to-end fixtures: a private Postgres server a test may stop, restart and count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.private_postgres import PrivatePostgres


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running server of this test's own on a free port, removed afterwards."""
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.destroy()
