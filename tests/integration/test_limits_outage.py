"""A shared limit across a database outage: the work done under a slot is never failed because
giving the slot back met the outage, and a holder waiting for a slot waits for the database too.

This is how a books chapter failed for good: its text was written, then ``release`` raised.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from skyferry.jobs.limits import SharedLimit
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine
from tests.private_postgres import PrivatePostgres

pytestmark = pytest.mark.anyio

OUTAGE_SECONDS = 2.0


@pytest.fixture
def server() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def engine(server: PrivatePostgres) -> Iterator[sa.Engine]:
    url = server.create_database().replace("postgresql://", "postgresql+psycopg://")
    made = create_engine(url)
    migrations.upgrade(made)
    yield made
    made.dispose()


def outage(server: PrivatePostgres) -> threading.Timer:
    """Stop the server now; it comes back after OUTAGE_SECONDS."""
    server.stop()
    back = threading.Timer(OUTAGE_SECONDS, server.start)
    back.start()
    return back


async def test_giving_a_slot_back_during_an_outage_does_not_fail_the_work(
    server: PrivatePostgres, engine: sa.Engine
) -> None:
    limit = SharedLimit(engine, "test", 1, lease_seconds=30)
    async with limit.hold():
        back = outage(server)  # the work is done; the database goes before the release
    back.join()
    # the release waited for the database and gave the slot back, well before its lease ended
    assert await asyncio.to_thread(limit.holders) == 0


async def test_waiting_for_a_slot_outlasts_an_outage(
    server: PrivatePostgres, engine: sa.Engine
) -> None:
    limit = SharedLimit(engine, "test", 1, lease_seconds=30)
    async with limit.hold():
        pass  # the slot rows exist; the next acquire starts during the outage
    back = outage(server)
    try:
        async with limit.hold() as slot:
            assert slot == 0
    finally:
        back.join()
