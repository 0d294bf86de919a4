"""The shared limit behind provider_concurrency, on SQLite and Postgres.

Each "worker" here has its own engine and its own SharedLimit, sharing nothing but the
database, as separate processes would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from skyferry.config import load_settings
from skyferry.jobs import limits
from skyferry.jobs.limits import SharedLimit
from skyferry.jobs.tables import limit_slots
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

pytestmark = pytest.mark.anyio


@pytest.fixture
def engines(database_url: str) -> Iterator[list[sa.Engine]]:
    settings = load_settings(database_url=database_url)
    settings.ensure_local_dirs()
    made = [create_engine(settings.sqlalchemy_url) for _ in range(3)]
    migrations.upgrade(made[0], [])
    yield made
    for engine in made:
        engine.dispose()


async def test_never_more_holders_than_slots(engines: list[sa.Engine]) -> None:
    limits = [SharedLimit(engine, "test", 3) for engine in engines]
    holding = 0
    most = 0
    finished = 0

    async def work(limit: SharedLimit) -> None:
        nonlocal holding, most, finished
        async with limit.hold():
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.02)
            holding -= 1
        finished += 1

    await asyncio.gather(*(work(limits[i % 3]) for i in range(24)))
    assert finished == 24
    assert 1 <= most <= 3
    for limit in limits:
        await limit.close()
    assert limits[0].holders() == 0


async def test_a_dead_holders_slot_frees_itself_when_its_lease_runs_out(
    engines: list[sa.Engine],
) -> None:
    dead = SharedLimit(engines[0], "test", 1, lease_seconds=0.3, keep_seconds=0)
    await asyncio.to_thread(dead._ensure_slots)
    assert await asyncio.to_thread(dead.try_acquire, "killed-worker") == 0  # never released
    alive = SharedLimit(engines[1], "test", 1, lease_seconds=0.3, keep_seconds=0)
    assert alive.try_acquire("other") is None
    async with asyncio.timeout(30):
        async with alive.hold() as slot:
            assert slot == 0
            assert dead.try_acquire("killed-worker") is None


async def test_a_live_holder_keeps_its_slot_past_the_lease(engines: list[sa.Engine]) -> None:
    limit = SharedLimit(engines[0], "test", 1, lease_seconds=0.3, keep_seconds=0)
    rival = SharedLimit(engines[1], "test", 1, lease_seconds=0.3)
    async with limit.hold():
        deadline = time.monotonic() + 1.0  # over three leases
        while time.monotonic() < deadline:
            assert await asyncio.to_thread(rival.try_acquire, "rival") is None
            await asyncio.sleep(0.05)
    assert rival.try_acquire("rival") == 0


async def test_a_cancelled_holder_gives_its_slot_back(engines: list[sa.Engine]) -> None:
    limit = SharedLimit(engines[0], "test", 1, keep_seconds=0)
    entered = asyncio.Event()

    async def hold_forever() -> None:
        async with limit.hold():
            entered.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(hold_forever())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limit.holders() == 0


class CountedLimit(SharedLimit):
    """A SharedLimit that counts the slots it takes from and gives back to the database."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.taken = 0
        self.given_back = 0

    def try_acquire(self, holder: str) -> int | None:
        slot = super().try_acquire(holder)
        self.taken += slot is not None
        return slot

    def release(self, slots: list[int], holder: str) -> None:
        super().release(slots, holder)
        self.given_back += len(slots)


async def test_a_slot_serves_a_processs_holders_one_after_another_from_one_take(
    engines: list[sa.Engine],
) -> None:
    limit = CountedLimit(engines[0], "test", 1, keep_seconds=1)
    for _ in range(10):  # a book's chapters, each holding the slot for its provider call
        async with limit.hold():
            await asyncio.sleep(0.01)
    assert (limit.taken, limit.given_back) == (1, 0)
    assert limit.holders() == 1  # kept for the next holder
    await limit.close()
    assert (limit.taken, limit.given_back) == (1, 1)
    assert limit.holders() == 0


async def test_a_freed_slot_goes_to_a_waiting_holder_of_the_same_process(
    engines: list[sa.Engine],
) -> None:
    limit = CountedLimit(engines[0], "test", 1, keep_seconds=1)
    order: list[str] = []

    async def work(name: str) -> None:
        async with limit.hold():
            order.append(name)
            await asyncio.sleep(0.1)

    await asyncio.gather(work("first"), work("second"), work("third"))
    assert sorted(order) == ["first", "second", "third"]
    assert (limit.taken, limit.given_back) == (1, 0)  # handed from holder to holder
    await limit.close()
    assert limit.holders() == 0


async def test_a_kept_slot_goes_back_after_keep_seconds(engines: list[sa.Engine]) -> None:
    limit = SharedLimit(engines[0], "test", 1, keep_seconds=0.2)
    rival = SharedLimit(engines[1], "test", 1)
    async with limit.hold():
        pass
    assert await asyncio.to_thread(rival.try_acquire, "rival") is None  # kept
    async with asyncio.timeout(10), rival.hold() as slot:  # and then given back
        assert slot == 0


async def test_a_busy_process_lets_other_processes_have_their_turn(
    engines: list[sa.Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "_SHARE_AFTER_SECONDS", 0.3)
    busy = SharedLimit(engines[0], "test", 1)
    other = SharedLimit(engines[1], "test", 1)
    stop = asyncio.Event()

    async def keep_busy() -> None:  # always a holder waiting here when the slot is freed
        while not stop.is_set():
            async with busy.hold():
                await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(keep_busy()) for _ in range(3)]
    try:
        await asyncio.sleep(0.05)
        async with asyncio.timeout(10), other.hold():
            assert busy.holders() == 1  # this process's, and busy's holders wait
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await busy.close()


async def test_slots_beyond_a_smaller_setting_are_not_handed_out(
    engines: list[sa.Engine],
) -> None:
    wide = SharedLimit(engines[0], "test", 4)
    await asyncio.to_thread(wide._ensure_slots)
    narrow = SharedLimit(engines[1], "test", 2)
    taken = [narrow.try_acquire(f"h{i}") for i in range(3)]
    assert sorted(slot for slot in taken if slot is not None) == [0, 1]
    assert taken[2] is None
    with engines[0].connect() as connection:
        rows = connection.execute(sa.select(sa.func.count()).select_from(limit_slots)).scalar()
    assert rows == 4


def test_bad_arguments_are_refused() -> None:
    engine = sa.create_engine("sqlite://")
    with pytest.raises(ValueError, match="at least 1 slot"):
        SharedLimit(engine, "x", 0)
    with pytest.raises(ValueError, match="lease_seconds"):
        SharedLimit(engine, "x", 1, lease_seconds=0)
    with pytest.raises(ValueError, match="keep_seconds"):
        SharedLimit(engine, "x", 1, keep_seconds=-1)
