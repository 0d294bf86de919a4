"""Big fan-outs: items stream through a bounded number of tasks, and a cancel stops them at once.

Before, a fan-out made one task per item up front: 100,000 items peaked at 230 MB (tracemalloc),
and cancelling the job left those tasks to unwind on the worker's event loop.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

import tests.kinds
from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.jobs.fanout import run_fan_out
from skyferry.jobs.retry import Retry
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine
from tests.polling import poll
from tests.servers import serve_in_thread

ITEMS = 20_000
CONCURRENCY = 10
QUIET_SECONDS = 1.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    made = create_engine(f"sqlite:///{tmp_path}/fanout.db")
    migrations.upgrade(made, [])
    yield made
    made.dispose()


def test_a_big_fan_out_holds_a_bounded_number_of_tasks_and_little_memory(
    engine: sa.Engine,
) -> None:
    most_tasks = 0
    calls = 0

    async def item(n: int) -> int:
        nonlocal most_tasks, calls
        calls += 1
        if n % 500 == 0:
            most_tasks = max(most_tasks, len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        return n

    def fan_out() -> list[int]:
        result = asyncio.run(
            run_fan_out(
                engine,
                "job-1",
                "big",
                range(ITEMS),
                item,
                concurrency=CONCURRENCY,
                rate_limit=None,
                retry=Retry(attempts=1),
                on_progress=None,
            )
        )
        return list(result.outputs)

    tracemalloc.start()
    try:
        outputs = fan_out()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"{ITEMS} items: tracemalloc peak {peak / 1e6:.1f} MB, at most {most_tasks} tasks")
    assert outputs == list(range(ITEMS))
    # two tasks per slot, the checkpoint writer and asyncio.run's main task (before: 20,002)
    assert most_tasks <= 2 * CONCURRENCY + 2
    # measured: 8.8 MB, the outcomes included; with a task per item 36.8 MB
    assert peak < 16_000_000, f"peak {peak / 1e6:.1f} MB"

    # resumed with every item checkpointed: all outcomes come back, no item runs again
    calls = 0
    started = time.monotonic()
    assert fan_out() == list(range(ITEMS))
    assert calls == 0
    print(f"resume of {ITEMS} checkpointed items: {time.monotonic() - started:.2f} s")


@pytest.fixture
def client(database_url: str) -> Iterator[httpx.Client]:
    settings = load_settings(
        database_url=database_url,
        blob_url="memory://",
        log_format="text",
        auto_migrate=True,
        shutdown_grace_seconds=0,
    )
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield http


def test_cancelling_a_100000_item_fan_out_stops_it_within_2_s(client: httpx.Client) -> None:
    counter = tests.kinds.BIG_FAN_OUT
    counter.reset()
    submission = asyncio.run(tests.kinds.big_fan.submit(tests.kinds.BigFanOutParams()))
    job_id = submission.job.id
    poll(client, job_id, lambda job: job["progress"]["done"] >= 200)

    asked = time.monotonic()
    assert client.post(f"/jobs/{job_id}/cancel").status_code == 200
    assert poll(client, job_id)["status"] == "cancelled"
    # the items stop too (DBOS notices a cancel within about 1 s): none runs, and none has
    # started or ended for a while
    while counter.running or time.monotonic() - counter.last_change < QUIET_SECONDS:
        assert time.monotonic() - asked < 30, "the fan-out's items did not stop"
        time.sleep(0.02)
    stopped = counter.last_change - asked
    started = counter.started
    print(f"cancel: the last item stopped {stopped:.2f} s after the request; {started} started")
    assert stopped <= 2.0
    assert started < 100_000

    # and the worker is free: the next job runs at once
    demo = client.post("/jobs/demo", json={"steps": 1, "seconds_per_step": 0}).json()
    assert poll(client, demo["id"], timeout=5)["status"] == "succeeded"
    assert counter.started == started
