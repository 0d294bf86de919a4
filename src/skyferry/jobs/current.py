"""The process's job engine as routes, job handles and handlers see it: the ``Jobs`` protocol,
``current_engine``, and the errors its commands raise.

Kept apart from ``skyferry.jobs.engine`` (DBOS, SQLAlchemy) so that importing a route or a job
kind costs neither: a process imports them when it starts its engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from skyferry.errors import DatabaseUnavailable, SkyferryError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from skyferry.jobs.kinds import JobKind, Submission
    from skyferry.jobs.models import Job, JobPage, JobStatus


class JobNotFoundError(SkyferryError):
    status = 404
    title = "Job not found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}", job_id=job_id)
        self.job_id = job_id


class IdempotencyConflictError(SkyferryError):
    """The Idempotency-Key was used before with a different request."""

    status = 422
    title = "Idempotency-Key reused"

    def __init__(self, job_id: str) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different request "
            f"(job {job_id}); use a new key for a new request",
            job_id=job_id,
        )
        self.job_id = job_id


class SubmitNotConfirmedError(DatabaseUnavailable):
    """The database became unreachable during a submit: the job may or may not exist now.

    ``job_id`` is the id the job has if it was created: ``GET /jobs/{job_id}`` tells, and a
    submit repeated with the same Idempotency-Key returns that job instead of a second one.
    A batch names its first job: the batch is one transaction, so that job exists exactly when
    every job of the batch does.
    """

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"the database is unreachable; job {job_id} may not have been created. "
            "Repeat the request with the same Idempotency-Key, or GET the job, once it is back",
            job_id=job_id,
        )
        self.job_id = job_id


class JobNotFinishedError(SkyferryError):
    status = 409
    title = "Job not finished"

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"job {job.id} is {job.status.value}; it has no result", job_status=job.status.value
        )
        self.job = job


class JobNotFailedError(SkyferryError):
    """Only a failed job can be retried: a running one is still trying, a finished one is done."""

    status = 409
    title = "Job not failed"

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"job {job.id} is {job.status.value}; only a failed job can be retried",
            job_status=job.status.value,
        )
        self.job = job


class EngineError(RuntimeError):
    """The engine is used where none runs, or a second one is started in one process."""


class Jobs(Protocol):
    """What job handles and the ``/jobs`` routes ask of an engine: ``JobEngine`` (DBOS), or
    ``skyferry.testing.InMemoryJobs`` in unit tests."""

    async def submit(
        self, kind: JobKind[Any, Any], params: BaseModel, idempotency_key: str | None = None
    ) -> Submission: ...

    async def submit_many(
        self,
        kind: JobKind[Any, Any],
        params: Sequence[BaseModel],
        idempotency_keys: Sequence[str | None] | None = None,
    ) -> list[Submission]: ...

    async def get(self, job_id: str) -> Job: ...

    async def list_jobs(
        self,
        *,
        kind: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage: ...

    async def cancel(self, job_id: str) -> Job: ...

    async def retry(self, job_id: str) -> Job: ...

    async def result(self, job_id: str) -> Any: ...

    async def delete(self, job_id: str) -> None: ...


_current: Jobs | None = None


def use_engine(engine: Jobs | None) -> Jobs | None:
    """Make ``engine`` this process's (None: none); returns the one it replaces."""
    global _current
    previous, _current = _current, engine
    return previous


def current_engine() -> Jobs:
    """The job engine of this process (started by the app's lifespan or ``skyferry worker``)."""
    if _current is None:
        raise EngineError(
            "no job engine runs in this process: submit jobs from a started app "
            "(skyferry.install or create_app, under its lifespan) or a worker"
        )
    return _current


def claim_engine(engine: Jobs) -> None:
    """Make ``engine`` this process's; ``EngineError`` if another one runs already."""
    global _current
    if _current is not None:
        raise EngineError(
            "a job engine already runs in this process: DBOS keeps one engine per "
            "process, so start one app or worker per process"
        )
    _current = engine
