"""HTTP routes for jobs (``/jobs/...``) and the helper service routes use to accept work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from skyferry.jobs.engine import (
    IdempotencyConflictError,
    JobEngine,
    JobNotFinishedError,
    JobNotFoundError,
    SubmitNotConfirmedError,
)
from skyferry.jobs.kinds import JobKind
from skyferry.jobs.models import Job, JobPage, JobResult, JobStatus
from skyferry.jobs.records import InvalidCursorError
from skyferry.problems import Problem, database_unavailable

router = APIRouter(prefix="/jobs", tags=["jobs"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Repeat a submit with the same key to get the same job back.",
    ),
]


def get_engine(request: Request) -> JobEngine:
    engine: JobEngine = request.app.state.jobs
    return engine


Engine = Annotated[JobEngine, Depends(get_engine)]


async def accept(
    engine: JobEngine,
    kind: JobKind[Any],
    params: BaseModel,
    idempotency_key: str | None,
    *,
    body: dict[str, Any] | None = None,
) -> JSONResponse:
    """Enqueue and answer ``202 Accepted`` with ``Location: /jobs/{id}``.

    ``body`` replaces the job record as the response body (services show their own resource).
    A repeated idempotent submit answers 200 with the same job. When the database is
    unreachable the answer is 503 naming the id the job would have, so a client can tell
    whether the job exists once the database is back.
    """
    try:
        job, created = await engine.submit(kind, params, idempotency_key)
    except IdempotencyConflictError as exc:
        raise Problem(422, str(exc), title="Idempotency-Key reused", job_id=exc.job_id) from exc
    except SubmitNotConfirmedError as exc:
        raise database_unavailable(str(exc), job_id=exc.job_id) from exc
    content = body if body is not None else job.model_dump(mode="json")
    return JSONResponse(
        content,
        status_code=202 if created else 200,
        headers={"Location": f"/jobs/{job.id}"},
    )


async def find_job(engine: JobEngine, job_id: str) -> Job:
    try:
        return await engine.get(job_id)
    except JobNotFoundError as exc:
        raise Problem(404, str(exc)) from exc


@router.get("", response_model=JobPage, summary="List jobs, newest first")
async def list_jobs(
    engine: Engine,
    kind: Annotated[str | None, Query(max_length=100)] = None,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    try:
        return await engine.list_jobs(kind=kind, status=status, limit=limit, cursor=cursor)
    except InvalidCursorError as exc:
        raise Problem(400, str(exc)) from exc


@router.get("/{job_id}", response_model=Job, summary="A job's status, progress and timings")
async def get_job(engine: Engine, job_id: str) -> Job:
    return await find_job(engine, job_id)


@router.get("/{job_id}/result", response_model=JobResult, summary="A finished job's result")
async def get_result(engine: Engine, job_id: str) -> JobResult:
    job = await find_job(engine, job_id)
    try:
        result = await engine.result(job_id)
    except JobNotFinishedError as exc:
        raise Problem(409, str(exc), job_status=job.status.value) from exc
    return JobResult(id=job.id, kind=job.kind, result=result)


@router.post("/{job_id}/cancel", response_model=Job, summary="Cancel a queued or running job")
async def cancel_job(engine: Engine, job_id: str) -> Job:
    await find_job(engine, job_id)
    return await engine.cancel(job_id)
