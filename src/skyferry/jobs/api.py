"""HTTP routes for jobs (``/jobs/...``) and ``accepted``, the answer routes give a submit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from skyferry.http.problems import errors
from skyferry.jobs.current import JobNotFinishedError, Jobs, current_engine
from skyferry.jobs.kinds import Submission
from skyferry.jobs.models import Job, JobPage, JobResult, JobStatus

router = APIRouter(prefix="/jobs", tags=["jobs"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Repeat a submit with the same key to get the same job back (200).",
    ),
]
"""A submit route's ``Idempotency-Key`` header (public as ``skyferry.IdempotencyKey``):
``idempotency_key: skyferry.IdempotencyKey = None``, passed on to ``JobKind.submit``."""
JobId = Annotated[str, Path(max_length=100, description="The id a submit answered with.")]


def get_engine(request: Request) -> Jobs:
    return current_engine()


Engine = Annotated[Jobs, Depends(get_engine)]


def accepted(
    submission: Submission | Sequence[Submission],
    *,
    body: Any = None,
    location: str | None = None,
) -> JSONResponse:
    """The answer to a submit: ``202 Accepted`` with ``Location: /jobs/{id}`` for a new job,
    ``200`` for an idempotent repeat that returns the first submit's job.

    For a batch (``submit_many``'s list) the body is the list of jobs, in order, and the status
    ``202`` when the batch created any job (``200`` when every item was a repeat); a batch has
    no one ``Location`` unless ``location`` gives one.

    ``body`` (a pydantic model or JSON-able value) replaces the job record as the response
    body, and ``location`` the ``Location``: a service shows its own resource.
    """
    if isinstance(submission, Submission):
        jobs: Any = submission.job.model_dump(mode="json")
        created = submission.created
        headers = {"Location": location or f"/jobs/{submission.job.id}"}
    else:
        jobs = [item.job.model_dump(mode="json") for item in submission]
        created = any(item.created for item in submission)
        headers = {"Location": location} if location else {}
    if body is None:
        content: Any = jobs
    elif hasattr(body, "model_dump"):
        content = body.model_dump(mode="json")
    else:
        content = body
    return JSONResponse(content, status_code=202 if created else 200, headers=headers)


def batch_keys(idempotency_key: str | None, count: int) -> list[str | None]:
    """Each item's key for a batch sent with one ``Idempotency-Key``: item ``n`` gets
    ``{key}/{n}``, so the same list sent again returns the same jobs."""
    if idempotency_key is None:
        return [None] * count
    return [f"{idempotency_key}/{n}" for n in range(count)]


@router.get("", response_model=JobPage, summary="List jobs, newest first", responses=errors())
async def list_jobs(
    engine: Engine,
    kind: Annotated[str | None, Query(max_length=100, pattern=r"^[\x21-\x7e]+$")] = None,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> JobPage:
    return await engine.list_jobs(kind=kind, status=status, limit=limit, cursor=cursor)


@router.get("/{job_id}", response_model=Job, summary="A job's status, progress and timings")
async def get_job(engine: Engine, job_id: JobId) -> Job:
    return await engine.get(job_id)


@router.get(
    "/{job_id}/result",
    response_model=JobResult,
    summary="A finished job's result",
    responses=errors(409),
)
async def get_result(engine: Engine, job_id: JobId) -> JobResult:
    job = await engine.get(job_id)
    if job.status is not JobStatus.SUCCEEDED:
        raise JobNotFinishedError(job)
    return JobResult(id=job.id, kind=job.kind, result=await engine.result(job_id))


@router.post("/{job_id}/cancel", response_model=Job, summary="Cancel a queued or running job")
async def cancel_job(engine: Engine, job_id: JobId) -> Job:
    return await engine.cancel(job_id)


@router.post(
    "/{job_id}/retry",
    response_model=Job,
    status_code=202,
    summary="Run a failed job again from its last checkpoint",
    description="Finished steps (and finished fan-out items) keep their checkpoints and do not "
    "run again; the step that failed runs again. The job keeps its id: `Location` names it.",
    responses=errors(409),
)
async def retry_job(engine: Engine, job_id: JobId) -> JSONResponse:
    job = await engine.retry(job_id)
    return JSONResponse(
        job.model_dump(mode="json"), status_code=202, headers={"Location": f"/jobs/{job.id}"}
    )
