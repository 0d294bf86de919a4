"""Job kinds that exist only in tests: one that fails, one that overruns, one fan-out with
failures. Importing this module registers them, so import it before an app starts."""

from __future__ import annotations

import asyncio
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


@skyferry.job("test.fanout", params=FanOutParams)
async def fan(ctx: skyferry.JobContext, params: FanOutParams) -> dict[str, Any]:
    result = await ctx.fan_out(
        "squares",
        list(range(params.items)),
        lambda value: _item(value, params.fail_every),
        concurrency=params.concurrency,
        rate_limit=skyferry.RateLimit(params.rate_per_second) if params.rate_per_second else None,
        retry=skyferry.Retry(attempts=2, initial_seconds=0.01),
    )
    return {
        "outputs": result.outputs,
        "failed": [
            {"index": o.index, "error": o.error_type, "attempts": o.attempts} for o in result.failed
        ],
    }
