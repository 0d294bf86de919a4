"""A fan-out item's retries: the attempts and the waits of ``Retry``, without tenacity."""

from __future__ import annotations

import asyncio

import pytest

from skyferry.jobs.fanout import run_with_retry
from skyferry.jobs.retry import Retry

pytestmark = pytest.mark.anyio


def test_the_waits_grow_by_the_backoff_up_to_the_longest() -> None:
    retry = Retry(attempts=10, initial_seconds=0.5, backoff=2.0, max_seconds=3.0)
    assert [retry.wait_after(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    # past float's range the wait is the longest, not an error
    assert Retry(attempts=2, backoff=10.0).wait_after(10_000) == 60.0


async def test_an_item_is_tried_again_until_it_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    sleep = asyncio.sleep

    async def recorded(seconds: float) -> None:
        waits.append(seconds)
        await sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recorded)
    calls = 0

    async def flaky(item: int) -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError(f"try {calls}")
        return item + 1

    outcome = await run_with_retry(7, 41, flaky, Retry(attempts=4, initial_seconds=0.25))
    assert (outcome.index, outcome.ok, outcome.output, outcome.attempts) == (7, True, 42, 3)
    assert waits == [0.25, 0.5]


async def test_an_item_that_always_fails_is_recorded_after_its_last_attempt() -> None:
    async def broken(item: int) -> int:
        raise ValueError(f"bad item {item}")

    outcome = await run_with_retry(3, 5, broken, Retry(attempts=2, initial_seconds=0))
    assert not outcome.ok
    assert (outcome.error_type, outcome.error_message, outcome.attempts) == (
        "ValueError",
        "bad item 5",
        2,
    )


async def test_a_cancelled_item_is_not_recorded_as_failed() -> None:
    async def slow(item: int) -> int:
        await asyncio.sleep(10)
        return item

    task = asyncio.create_task(run_with_retry(0, 1, slow, Retry(attempts=3, initial_seconds=0)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
