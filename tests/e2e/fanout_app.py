"""A team's app whose job fans out across the worker processes, as ``skyferry worker
tests.e2e.fanout_app:app`` runs it; tests/e2e/test_fanout_workers.py and
bench/fanout_workers.py drive it.

Each item sleeps (simulated I/O) and, when asked, records which process ran it and when in
``fanout_runs``, so a test can count the runs of every item and the starts in any second.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import skyferry
from skyferry import platform

app = FastAPI()
skyferry.install(app)

RUNS_TABLE = (
    "CREATE TABLE IF NOT EXISTS fanout_runs (item INTEGER, pid INTEGER, started DOUBLE PRECISION)"
)


class Spread(BaseModel):
    items: int
    seconds: float
    concurrency: int
    chunk_size: int = 100
    calls_per_second: int | None = None
    record: bool = True
    across_workers: bool = True


def _record(item: int, started: float) -> None:
    with platform.current().database.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO fanout_runs VALUES (:item, :pid, :started)"),
            {"item": item, "pid": os.getpid(), "started": started},
        )


@skyferry.fan_out_item("tests.sleep")
async def sleep_item(item: dict[str, Any]) -> list[int]:
    """``[index, pid]``: which item it was, and which process ran it."""
    started = time.time()
    await asyncio.sleep(item["seconds"])
    if item["record"]:
        await asyncio.to_thread(_record, item["i"], started)
    return [int(item["i"]), os.getpid()]


@skyferry.job("tests.spread", params=Spread)
async def spread(ctx: skyferry.JobContext, params: Spread) -> dict[str, Any]:
    items = [
        {"i": i, "seconds": params.seconds, "record": params.record} for i in range(params.items)
    ]
    rate = skyferry.RateLimit(params.calls_per_second) if params.calls_per_second else None
    started = time.time()
    result = await ctx.fan_out(
        "items",
        items,
        sleep_item,
        concurrency=params.concurrency,
        rate_limit=rate,
        retry=skyferry.Retry(attempts=1),
        across_workers=params.across_workers,
        chunk_size=params.chunk_size,
    )
    ran_by = Counter(str(pid) for _, pid in result.outputs)
    return {
        "succeeded": len(result.succeeded),
        "in_order": [index for index, _ in result.outputs] == list(range(params.items)),
        "items_per_process": dict(ran_by),
        "seconds": time.time() - started,
    }


@app.post("/spread")
async def submit(params: Spread) -> JSONResponse:
    return skyferry.accepted(await spread.submit(params))
