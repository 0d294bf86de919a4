"""The download memory budget: first come first served, released from any thread."""

from __future__ import annotations

import asyncio
import threading

from skyferry.services.datasets.admission import MemoryBudget


def test_a_download_that_fits_starts_and_one_that_does_not_waits_its_turn() -> None:
    async def scenario() -> list[str]:
        budget = MemoryBudget(100)
        first = await budget.reserve(60, wait_seconds=1)
        assert first is not None
        order: list[str] = []

        async def wait_for(name: str, need: int) -> None:
            reservation = await budget.reserve(need, wait_seconds=5)
            assert reservation is not None
            order.append(name)

        wide = asyncio.create_task(wait_for("wide", 70))
        await asyncio.sleep(0.05)
        # 30 would fit now, but the wide one came first: no overtaking
        narrow = asyncio.create_task(wait_for("narrow", 30))
        await asyncio.sleep(0.05)
        assert order == []
        # released from a producer thread, as a download's end is
        threading.Thread(target=first.release).start()
        await asyncio.gather(wide, narrow)
        first.release()  # a second release changes nothing
        assert budget.free == 0
        return order

    assert asyncio.run(scenario()) == ["wide", "narrow"]


def test_no_memory_within_the_wait_is_a_refusal_and_leaves_the_queue() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(100)
        held = await budget.reserve(100, wait_seconds=1)
        assert held is not None
        assert await budget.reserve(10, wait_seconds=0) is None
        assert await budget.reserve(90, wait_seconds=0.05) is None
        held.release()
        assert budget.free == 100
        again = await budget.reserve(90, wait_seconds=0)
        assert again is not None

    asyncio.run(scenario())


def test_a_download_larger_than_the_budget_runs_alone() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(100)
        huge = await budget.reserve(10_000, wait_seconds=0)
        assert huge is not None
        assert huge.size == 100
        assert await budget.reserve(1, wait_seconds=0) is None

    asyncio.run(scenario())


def test_a_cancelled_wait_gives_nothing_away() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(100)
        held = await budget.reserve(100, wait_seconds=1)
        assert held is not None
        waiting = asyncio.create_task(budget.reserve(50, wait_seconds=5))
        await asyncio.sleep(0.05)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        held.release()
        assert budget.free == 100

    asyncio.run(scenario())
