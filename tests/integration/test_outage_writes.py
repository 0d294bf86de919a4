"""What job code writes outside DBOS's checkpoints, across a database outage: progress, fan-out
checkpoints and shared-limit slots wait for the database instead of failing the job.

Each of these failed jobs for good in a 10 s outage: ``ctx.progress()`` raised, the fan-out
checkpoint writer's error aborted the whole fan-out, and a books chapter failed after its text
was written because giving its provider slot back raised.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa

from skyferry.config import load_settings
from skyferry.jobs.context import JobContext
from skyferry.jobs.fanout import run_fan_out
from skyferry.jobs.limits import SharedLimit
from skyferry.jobs.retry import Retry
from skyferry.jobs.tables import fanout_items, job_progress
from skyferry.platform import Platform, open_platform
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
    migrations.upgrade(made, [])
    yield made
    made.dispose()


@pytest.fixture
async def rt(engine: sa.Engine) -> AsyncIterator[Platform]:
    """The platform job code sees, as a worker opens it."""
    url = engine.url.render_as_string(hide_password=False)
    settings = load_settings(database_url=url, blob_url="memory://")
    async with open_platform(settings, [], migrate=False) as platform:
        yield platform


def outage(server: PrivatePostgres) -> threading.Timer:
    """Stop the server now; it comes back after OUTAGE_SECONDS."""
    server.stop()
    back = threading.Timer(OUTAGE_SECONDS, server.start)
    back.start()
    return back


async def test_giving_a_slot_back_during_an_outage_does_not_fail_the_work(
    server: PrivatePostgres, engine: sa.Engine
) -> None:
    limit = SharedLimit(engine, "test", 1, lease_seconds=30, keep_seconds=0)
    async with limit.hold():
        back = outage(server)  # the work is done; the database goes before the release
    back.join()
    # the release waited for the database and gave the slot back, well before its lease ended
    assert await asyncio.to_thread(limit.holders) == 0


async def test_waiting_for_a_slot_outlasts_an_outage(
    server: PrivatePostgres, engine: sa.Engine
) -> None:
    limit = SharedLimit(engine, "test", 1, lease_seconds=30, keep_seconds=0)
    async with limit.hold():
        pass  # the slot rows exist; the next acquire starts during the outage
    back = outage(server)
    try:
        async with limit.hold() as slot:
            assert slot == 0
    finally:
        back.join()


async def test_a_progress_write_during_an_outage_lands_when_the_database_is_back(
    server: PrivatePostgres, rt: Platform
) -> None:
    back = outage(server)
    try:
        ctx = JobContext("job-1", "demo")
        await ctx.progress(3, 10, "step 3 of 10")  # the write goes on while the job does
        await ctx.flush()  # what the engine awaits before the job ends
    finally:
        back.join()
    with rt.database.connect() as connection:
        row = connection.execute(sa.select(job_progress.c.done, job_progress.c.total)).one()
    assert tuple(row) == (3, 10)


async def test_a_fan_out_goes_on_when_its_checkpoints_meet_an_outage(
    server: PrivatePostgres, rt: Platform
) -> None:
    async def item(n: int) -> int:
        await asyncio.sleep(0.1)  # no database here: items finish while it is away
        return n * n

    task = asyncio.create_task(
        run_fan_out(
            rt.database,
            "job-1",
            "squares",
            list(range(40)),
            item,
            concurrency=4,
            rate_limit=None,
            retry=Retry(attempts=1),
            on_progress=None,
            give_up_after=60,
        )
    )
    await asyncio.sleep(0.3)  # some items are checkpointed, most are not
    started = time.monotonic()
    back = await asyncio.to_thread(outage, server)
    try:
        result = await task
    finally:
        back.join()
    assert time.monotonic() - started >= OUTAGE_SECONDS
    assert result.outputs == [n * n for n in range(40)]
    with rt.database.connect() as connection:
        checkpointed = connection.execute(sa.select(sa.func.count()).select_from(fanout_items))
        assert checkpointed.scalar_one() == 40
