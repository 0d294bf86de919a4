"""The demo job kind: N timed steps, one after another or fanned out, to try the engine with.

Each step appends a row to ``skyferry_demo_steps``; the kill tests count those rows to prove that
a step that finished never runs again. Written against the public API only, as any service is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy.engine import Engine

import skyferry
from skyferry.config import Settings
from skyferry.http.bodies import JsonBool, JsonFloat, JsonInt
from skyferry.http.problems import errors
from skyferry.storage.sql import new_metadata

tables = new_metadata()

demo_steps = sa.Table(
    "skyferry_demo_steps",
    tables,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(200), nullable=False, index=True),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=False),
)


class DemoSettings(BaseModel):
    """Bounds on what anyone may ask of the demo job (``SKYFERRY_DEMO__<FIELD>``)."""

    max_steps: int = Field(default=10_000, ge=0, le=100_000)
    max_seconds_per_step: float = Field(default=5.0, ge=0, le=600)


class DemoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: JsonInt = Field(default=10, ge=0, le=100_000, description="How many steps to run.")
    seconds_per_step: JsonFloat = Field(default=0.5, ge=0, le=600, description="Simulated work.")
    parallel: JsonInt = Field(
        default=1, ge=1, le=1000, description="1 runs steps in order; more fans them out."
    )
    record_steps: JsonBool = Field(
        default=True, description="Log each finished step in the database (off for benchmarks)."
    )


@skyferry.job("demo", params=DemoParams)
async def demo(ctx: skyferry.JobContext, params: DemoParams) -> dict[str, Any]:
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
            await work(ctx.id, step, params.seconds_per_step, params.record_steps)
            await ctx.progress(step + 1, params.steps, f"step {step + 1} of {params.steps}")
        failed = 0
    return {"steps": params.steps, "failed": failed}


async def _work(job_id: str, step: int, seconds: float, record: bool) -> int:
    if seconds:
        await asyncio.sleep(seconds)
    if record:
        await asyncio.to_thread(_record_step, job_id, step)
    return step


work = skyferry.step(name="work")(_work)
"""One demo step, checkpointed: a step that finished never runs again."""


@asynccontextmanager
async def _open_step_log(platform: skyferry.Platform) -> AsyncIterator[Engine]:
    yield platform.database


step_log = skyferry.Resource("demo.step_log", _open_step_log)
"""Where finished steps are recorded: the platform's database."""


def _record_step(job_id: str, step: int) -> None:
    with step_log.get().begin() as connection:
        connection.execute(
            demo_steps.insert().values(job_id=job_id, step=step, finished_at=time.time())
        )


def _request_model(limits: DemoSettings) -> type[DemoParams]:
    """``DemoParams`` as this server takes them: its schema states the server's own bounds, so
    what ``/openapi.json`` allows is what the server accepts (and a larger job is a 422 from
    validation, like any other value out of range)."""
    steps = min(10, limits.max_steps)
    seconds = min(0.5, limits.max_seconds_per_step)
    return create_model(
        "DemoParams",
        __base__=DemoParams,
        steps=(
            JsonInt,
            Field(
                default=steps,
                ge=0,
                le=limits.max_steps,
                description="How many steps to run; this server's limit is "
                "SKYFERRY_DEMO__MAX_STEPS.",
            ),
        ),
        seconds_per_step=(
            JsonFloat,
            Field(
                default=seconds,
                ge=0,
                le=limits.max_seconds_per_step,
                description="Simulated work; this server's limit is "
                "SKYFERRY_DEMO__MAX_SECONDS_PER_STEP.",
            ),
        ),
    )


def _router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["demo"])

    async def start_demo(
        request: Request,
        params: DemoParams | list[DemoParams],
        idempotency_key: skyferry.IdempotencyKey = None,
    ) -> Response:
        if isinstance(params, list):
            keys = skyferry.batch_keys(idempotency_key, len(params))
            return skyferry.accepted(await demo.submit_many(params, keys))
        return skyferry.accepted(await demo.submit(params, idempotency_key))

    # FastAPI reads the body's model from the annotation: this server's bounded one
    bounded = _request_model(settings.of(DemoSettings))
    start_demo.__annotations__["params"] = skyferry.one_or_many(bounded)
    router.post(
        "/jobs/demo",
        status_code=202,
        response_model=skyferry.Job | list[skyferry.Job],
        summary="Start a demo job (or a list of them): timed steps, in order or fanned out",
        description="A JSON list of params (at most 1000) submits every job in one transaction "
        "and answers the list of jobs; with an `Idempotency-Key`, item n gets the key "
        "`{key}/{n}`, so the same list sent again returns the same jobs (200).",
        responses={200: {"description": "A repeat with the same Idempotency-Key."}, **errors()},
    )(start_demo)
    return router


service = skyferry.Service(
    name="demo",
    router=_router,
    settings=DemoSettings,
    tables=tables,
    migrations=Path(__file__).parent / "migrations",
    resources=[step_log],
)
