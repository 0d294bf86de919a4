"""``skyferry.SharedRate`` on SQLite and Postgres: a sliding-window limit held by several
"workers" (each its own engine and its own SharedRate, sharing only the database)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from skyferry import SharedRate
from skyferry.config import load_settings
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

pytestmark = pytest.mark.anyio

CALLS, PERIOD = 4, 0.5


@pytest.fixture
def engines(database_url: str) -> Iterator[list[sa.Engine]]:
    settings = load_settings(database_url=database_url)
    settings.ensure_local_dirs()
    made = [create_engine(settings.sqlalchemy_url) for _ in range(3)]
    migrations.upgrade(made[0], [])
    yield made
    for engine in made:
        engine.dispose()


async def test_no_window_holds_more_calls_than_the_rate(engines: list[sa.Engine]) -> None:
    rates = [SharedRate(engine, "api", CALLS, PERIOD, margin=0) for engine in engines]
    times: list[float] = []

    async def call(rate: SharedRate) -> None:
        await rate.wait()
        times.append(time.time())

    started = time.time()
    await asyncio.gather(*(call(rates[i % 3]) for i in range(20)))
    times.sort()
    # the first CALLS go together (the limit allows a burst): closer than a limit spacing
    # calls evenly would let them, which is PERIOD / CALLS apart. Measured from the first call,
    # not from the start, so that the database's first access under a loaded machine is not
    # counted against the burst
    assert times[CALLS - 1] - times[0] < (CALLS - 1) * PERIOD / CALLS
    # then each window admits CALLS more
    for k in range(CALLS, len(times)):
        assert times[k] - times[k - CALLS] >= PERIOD, f"call {k} broke the window"
    # and no slower than the limit needs: 20 calls at 4 per 0.5 s (+0.1 s slack) is 4 windows
    assert times[-1] - started < 4 * (PERIOD + 0.1) + 1.0


async def test_a_rate_of_one_spaces_every_call(engines: list[sa.Engine]) -> None:
    rate = SharedRate(engines[0], "slow", 1, 0.2, margin=0)
    stamps = []
    for _ in range(4):
        await rate.wait()
        stamps.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(gap >= 0.2 for gap in gaps), gaps


def test_a_rate_needs_a_positive_limit(engines: list[sa.Engine]) -> None:
    with pytest.raises(ValueError, match="calls >= 1"):
        SharedRate(engines[0], "bad", 0, 1.0)
    with pytest.raises(ValueError, match="margin"):
        SharedRate(engines[0], "bad", 1, 1.0, margin=1.5)
