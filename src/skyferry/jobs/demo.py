"""The demo job kind: N timed steps, one after another or fanned out, to try the engine with.

Each step appends a row to ``skyferry_demo_steps``; the kill tests count those rows to prove that
a step that finished never runs again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from skyferry.jobs import runtime
from skyferry.jobs.api import Engine, IdempotencyKey, accept
from skyferry.jobs.context import JobContext
from skyferry.jobs.kinds import get_kind, job
from skyferry.jobs.models import Job
from skyferry.registry import Service
from skyferry.storage.sql import metadata

demo_steps = sa.Table(
    "skyferry_demo_steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(200), nullable=False, index=True),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=False),
)


class DemoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(default=10, ge=0, le=100_000, description="How many steps to run.")
    seconds_per_step: float = Field(default=0.5, ge=0, le=600, description="Simulated work.")
    parallel: int = Field(
        default=1, ge=1, le=1000, description="1 runs steps in order; more fans them out."
    )
    record_steps: bool = Field(
        default=True, description="Log each finished step in the database (off for benchmarks)."
    )


@job("demo", params=DemoParams)
async def demo(ctx: JobContext, params: DemoParams) -> dict[str, Any]:
    if params.steps == 0:
        return {"steps": 0, "failed": 0}
    if params.parallel > 1:
        result = await ctx.fan_out(
            "steps",
            list(range(params.steps)),
            lambda step: _work(ctx.id, step, params.seconds_per_step, params.record_steps),
            concurrency=params.parallel,
        )
        failed = len(result.failed)
    else:
        await ctx.progress(0, params.steps, "starting")
        for step in range(params.steps):
            await ctx.step(_work, ctx.id, step, params.seconds_per_step, params.record_steps)
            await ctx.progress(step + 1, params.steps, f"step {step + 1} of {params.steps}")
        failed = 0
    return {"steps": params.steps, "failed": failed}


async def _work(job_id: str, step: int, seconds: float, record: bool) -> int:
    if seconds:
        await asyncio.sleep(seconds)
    if record:
        await asyncio.to_thread(_record_step, job_id, step)
    return step


def _record_step(job_id: str, step: int) -> None:
    with runtime.current().database.begin() as connection:
        connection.execute(
            demo_steps.insert().values(job_id=job_id, step=step, finished_at=time.time())
        )


router = APIRouter(tags=["demo"])


@router.post(
    "/jobs/demo",
    status_code=202,
    response_model=Job,
    summary="Start a demo job: timed steps, in order or fanned out",
)
async def start_demo(
    engine: Engine, params: DemoParams, idempotency_key: IdempotencyKey = None
) -> Response:
    kind = get_kind("demo")
    assert kind is not None
    return await accept(engine, kind, params, idempotency_key)


service = Service(name="demo", router=lambda settings: router)
