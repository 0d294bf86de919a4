"""Job kinds that exist only in tests: one that fails, one that overruns, one fan-out with
failures, one big fan-out that counts its items. Importing this module registers them, so
import it before an app starts."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

import skyferry
from skyferry.platform import current


class Empty(BaseModel):
    pass


class FanOutParams(BaseModel):
    items: int = 20
    fail_every: int = 5
    concurrency: int = 4
    rate_per_second: int | None = None
    across_workers: bool = False


class BlobParams(BaseModel):
    key: str


class ProjectNotFoundError(Exception):
    pass


@skyferry.step(retry=skyferry.Retry(attempts=2, initial_seconds=0.01))
async def find_project() -> None:
    raise ProjectNotFoundError("project 'apollo' does not exist")


@skyferry.step
async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@skyferry.step(retry=skyferry.Retry(attempts=1))
async def blob_size(key: str) -> int:
    return len(await current().blobs.read(key))


async def _item(value: int, fail_every: int) -> int:
    await asyncio.sleep(0.01)
    if fail_every and value % fail_every == 0:
        raise ValueError(f"item {value} is unlucky")
    return value * value


@skyferry.job("test.fail", params=Empty)
async def failing(ctx: skyferry.JobContext, params: Empty) -> None:
    await find_project()


@skyferry.job("test.read_blob", params=BlobParams)
async def read_blob(ctx: skyferry.JobContext, params: BlobParams) -> int:
    return await blob_size(params.key)


@skyferry.job("test.overrun", params=Empty, timeout_seconds=1.0)
async def overrun(ctx: skyferry.JobContext, params: Empty) -> None:
    await sleep(30)


@skyferry.fan_out_item("test.square")
async def square(item: list[int]) -> int:
    """``[value, fail_every]``: what ``_item`` is given, as the JSON a worker gets it in."""
    return await _item(item[0], item[1])


@skyferry.job("test.fanout", params=FanOutParams)
async def fan(ctx: skyferry.JobContext, params: FanOutParams) -> dict[str, Any]:
    rate = skyferry.RateLimit(params.rate_per_second) if params.rate_per_second else None
    retry = skyferry.Retry(attempts=2, initial_seconds=0.01)
    if params.across_workers:
        result = await ctx.fan_out(
            "squares",
            [[value, params.fail_every] for value in range(params.items)],
            square,
            concurrency=params.concurrency,
            rate_limit=rate,
            retry=retry,
            across_workers=True,
            chunk_size=4,
        )
    else:
        result = await ctx.fan_out(
            "squares",
            list(range(params.items)),
            lambda value: _item(value, params.fail_every),
            concurrency=params.concurrency,
            rate_limit=rate,
            retry=retry,
        )
    return {
        "outputs": result.outputs,
        "failed": [
            {"index": o.index, "error": o.error_type, "attempts": o.attempts} for o in result.failed
        ],
    }


class BigFanOutParams(BaseModel):
    items: int = 100_000
    concurrency: int = 50
    seconds_per_item: float = 0.005


@dataclass
class ItemCounter:
    """What the items of ``test.big_fanout`` did, read by the test from its own thread."""

    started: int = 0
    running: int = 0
    last_change: float = 0.0
    """time.monotonic() of the last start or end of an item"""

    def reset(self) -> None:
        self.started = self.running = 0
        self.last_change = 0.0


BIG_FAN_OUT = ItemCounter()


async def _counted_item(seconds: float) -> None:
    BIG_FAN_OUT.started += 1
    BIG_FAN_OUT.running += 1
    BIG_FAN_OUT.last_change = time.monotonic()
    try:
        await asyncio.sleep(seconds)
    finally:
        BIG_FAN_OUT.running -= 1
        BIG_FAN_OUT.last_change = time.monotonic()


@skyferry.job("test.big_fanout", params=BigFanOutParams)
async def big_fan(ctx: skyferry.JobContext, params: BigFanOutParams) -> int:
    result = await ctx.fan_out(
        "counted",
        range(params.items),
        lambda _: _counted_item(params.seconds_per_item),
        concurrency=params.concurrency,
        retry=skyferry.Retry(attempts=1),
    )
    return len(result.succeeded)


class ReportParams(BaseModel):
    key: str
    items: int = 10


@dataclass
class CallCounter:
    """How often ``test.report``'s costly work ran: its fan-out items and its provider step."""

    items: int = 0
    provider: int = 0


REPORT_CALLS = CallCounter()


async def _costly_item(n: int) -> int:
    REPORT_CALLS.items += 1
    return n


@skyferry.step(retry=skyferry.Retry(attempts=1))
async def ask_provider(items: int) -> str:
    REPORT_CALLS.provider += 1
    return f"a summary of {items} items"


@skyferry.job("test.report", params=ReportParams)
async def report(ctx: skyferry.JobContext, params: ReportParams) -> dict[str, Any]:
    """Costly work, then a step that fails while its blob is missing (as a full store would)."""
    fanned = await ctx.fan_out(
        "costly", list(range(params.items)), _costly_item, retry=skyferry.Retry(attempts=1)
    )
    summary = await ask_provider(params.items)
    size = await blob_size(params.key)
    return {"items": len(fanned.outputs), "summary": summary, "size": size}


class ArchiveParams(BaseModel):
    key: str
    size: int


@skyferry.step(retry=skyferry.Retry(attempts=1))
async def store_blob(key: str, size: int) -> None:
    await current().blobs.put(key, b"x" * size)


@skyferry.job("test.archive", params=ArchiveParams)
async def archive(ctx: skyferry.JobContext, params: ArchiveParams) -> str:
    """A provider call, then a write to the blob store (which a full disk fails)."""
    summary = await ask_provider(params.size)
    await store_blob(params.key, params.size)
    return summary
