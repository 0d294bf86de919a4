"""Turning DBOS workflow rows plus our progress rows into the public job record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dbos import error as dbos_errors
from pydantic import BaseModel, Field

from skyferry.jobs.kinds import get_kind, kind_of_workflow
from skyferry.jobs.models import Job, JobError, JobStatus, Progress
from skyferry.redaction import without_local_paths

_STATUS_FROM_DBOS = {
    "ENQUEUED": JobStatus.QUEUED,
    "DELAYED": JobStatus.QUEUED,
    "PENDING": JobStatus.RUNNING,
    "SUCCESS": JobStatus.SUCCEEDED,
    "ERROR": JobStatus.FAILED,
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELLED,
}

DBOS_STATUSES = {
    status: [name for name, mapped in _STATUS_FROM_DBOS.items() if mapped is status]
    for status in JobStatus
}


# 9999-12-31: the last instant a datetime can hold
MAX_EPOCH_MS = 253_402_300_799_000


def to_job(workflow: Any, progress: Progress | None) -> Job:
    """Build the record from a DBOS ``WorkflowStatus`` and the job's last progress row."""
    kind = kind_of_workflow(workflow.name) or workflow.name
    status = _STATUS_FROM_DBOS.get(workflow.status, JobStatus.RUNNING)
    error: JobError | None = None
    if status is JobStatus.CANCELLED and _timed_out(workflow):
        status = JobStatus.FAILED
        seconds = (workflow.workflow_timeout_ms or 0) / 1000
        error = JobError(type="JobTimeout", message=f"the job ran longer than {seconds:g} s")
    elif workflow.status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
        error = JobError(type="TooManyRecoveries", message="the job crashed its worker too often")
    elif status is JobStatus.FAILED and workflow.error is not None:
        cause = _root_cause(workflow.error)
        # the record is what clients see; the worker's log keeps the paths
        error = JobError(type=type(cause).__name__, message=without_local_paths(str(cause))[:2000])
    registered = get_kind(kind)
    result_url = None
    if status is JobStatus.SUCCEEDED:
        path = registered.result_path if registered else "/jobs/{id}/result"
        result_url = path.format(id=workflow.workflow_id)
    links = {"self": f"/jobs/{workflow.workflow_id}"}
    if not status.is_final:
        links["cancel"] = f"/jobs/{workflow.workflow_id}/cancel"
    if result_url:
        links["result"] = result_url
    return Job(
        id=workflow.workflow_id,
        kind=kind,
        status=status,
        params=_params(workflow),
        progress=progress or Progress(),
        created_at=_time(workflow.created_at) or datetime.now(UTC),
        started_at=_time(workflow.dequeued_at) if status is not JobStatus.QUEUED else None,
        finished_at=_time(workflow.completed_at) if status.is_final else None,
        error=error,
        result_url=result_url,
        links=links,
    )


def new_job_record(job_id: str, kind: str, params: dict[str, Any], created_at: datetime) -> Job:
    """The record of a job just enqueued, without reading back what was written."""
    return Job(
        id=job_id,
        kind=kind,
        status=JobStatus.QUEUED,
        params=params,
        progress=Progress(),
        created_at=created_at,
        links={"self": f"/jobs/{job_id}", "cancel": f"/jobs/{job_id}/cancel"},
    )


def _params(workflow: Any) -> dict[str, Any] | None:
    """A job's params: its workflow's one positional argument, when the input was loaded."""
    inputs = workflow.input
    if not inputs or not inputs.get("args"):
        return None
    params = inputs["args"][0]
    return params if isinstance(params, dict) else None


def _root_cause(error: BaseException) -> BaseException:
    """The step's own last error, not DBOS's "retries exhausted" wrapper around it."""
    if isinstance(error, dbos_errors.DBOSMaxStepRetriesExceeded) and error.errors:
        return error.errors[-1]
    return error


# DBOS keeps SQLite timestamps in whole seconds (on Python 3.11), so a job ended by its deadline
# may show a finish up to a second before it; a user's cancel that close to the deadline is
# reported as the timeout it was about to be
_CLOCK_SLACK_MS = 1000


def _timed_out(workflow: Any) -> bool:
    deadline = workflow.workflow_deadline_epoch_ms
    finished = workflow.completed_at or workflow.updated_at
    return bool(deadline and finished and finished >= deadline - _CLOCK_SLACK_MS)


def _time(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC) if epoch_ms else None


class JobCursor(BaseModel):
    """A page of jobs: those created before ``b`` (epoch ms) from offset ``o``. Pinning the
    listing to jobs created before its first page keeps offsets still while new jobs arrive."""

    b: int = Field(ge=0, le=MAX_EPOCH_MS)
    o: int = Field(ge=0, le=10_000_000)
