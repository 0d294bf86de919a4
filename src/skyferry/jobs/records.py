"""Turning DBOS workflow rows plus our progress rows into the public job record."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from dbos._error import DBOSMaxStepRetriesExceeded

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


class InvalidCursorError(ValueError):
    pass


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
        progress=progress or Progress(),
        created_at=_time(workflow.created_at) or datetime.now(UTC),
        started_at=_time(workflow.dequeued_at) if status is not JobStatus.QUEUED else None,
        finished_at=_time(workflow.completed_at) if status.is_final else None,
        error=error,
        result_url=result_url,
        links=links,
    )


def new_job_record(job_id: str, kind: str, created_at: datetime) -> Job:
    """The record of a job just enqueued, without reading back what was written."""
    return Job(
        id=job_id,
        kind=kind,
        status=JobStatus.QUEUED,
        progress=Progress(),
        created_at=created_at,
        links={"self": f"/jobs/{job_id}", "cancel": f"/jobs/{job_id}/cancel"},
    )


def _root_cause(error: BaseException) -> BaseException:
    """The step's own last error, not DBOS's "retries exhausted" wrapper around it."""
    if isinstance(error, DBOSMaxStepRetriesExceeded) and error.errors:
        return error.errors[-1]
    return error


def _timed_out(workflow: Any) -> bool:
    deadline = workflow.workflow_deadline_epoch_ms
    finished = workflow.completed_at or workflow.updated_at
    return bool(deadline and finished and finished >= deadline)


def _time(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC) if epoch_ms else None


def encode_cursor(before_ms: int, offset: int) -> str:
    """A page cursor pins the listing to jobs created before its first page, so new jobs
    arriving between pages never shift the offsets."""
    raw = json.dumps({"b": before_ms, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        before, offset = int(data["b"]), int(data["o"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidCursorError("cursor is not one this API returned") from exc
    if before < 0 or offset < 0:
        raise InvalidCursorError("cursor is not one this API returned")
    return before, offset
