"""Job kinds that exist only in tests: one that fails, one that overruns, one fan-out with
failures. Importing this module registers them, so import it before an app starts."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from skyferry.jobs import runtime
from skyferry.jobs.context import JobContext
from skyferry.jobs.fanout import RateLimit
from skyferry.jobs.kinds import get_kind, job
from skyferry.jobs.retry import Retry


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


async def _fail() -> None:
    raise ProjectNotFoundError("project 'apollo' does not exist")


async def _blob_size(key: str) -> int:
    return len(await runtime.current().blobs.read(key))


async def _item(value: int, fail_every: int) -> int:
    await asyncio.sleep(0.01)
    if fail_every and value % fail_every == 0:
        raise ValueError(f"item {value} is unlucky")
    return value * value


if get_kind("test.fail") is None:

    @job("test.fail", params=Empty)
    async def failing(ctx: JobContext, params: Empty) -> None:
        await ctx.step_with(_fail, None, Retry(attempts=2, initial_seconds=0.01), None)

    @job("test.read_blob", params=BlobParams)
    async def read_blob(ctx: JobContext, params: BlobParams) -> int:
        return await ctx.step_with(_blob_size, None, Retry(attempts=1), None, params.key)

    @job("test.overrun", params=Empty, timeout_seconds=1.0)
    async def overrun(ctx: JobContext, params: Empty) -> None:
        await ctx.step(asyncio.sleep, 30)

    @job("test.fanout", params=FanOutParams)
    async def fan(ctx: JobContext, params: FanOutParams) -> dict[str, Any]:
        result = await ctx.fan_out(
            "squares",
            list(range(params.items)),
            lambda value: _item(value, params.fail_every),
            concurrency=params.concurrency,
            rate_limit=RateLimit(params.rate_per_second) if params.rate_per_second else None,
            retry=Retry(attempts=2, initial_seconds=0.01),
        )
        return {
            "outputs": result.outputs,
            "failed": [
                {"index": o.index, "error": o.error_type, "attempts": o.attempts}
                for o in result.failed
            ],
        }
