from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from dbos._error import DBOSMaxStepRetriesExceeded

from skyferry.http.cursors import InvalidCursorError, decode_cursor, encode_cursor
from skyferry.jobs.models import JobStatus, Progress
from skyferry.jobs.records import JobCursor, to_job

CREATED = 1_700_000_000_000


def workflow(**fields: Any) -> SimpleNamespace:
    base: dict[str, Any] = {
        "workflow_id": "j1",
        "name": "skyferry:demo",
        "status": "PENDING",
        "error": None,
        "created_at": CREATED,
        "updated_at": CREATED + 50,
        "dequeued_at": CREATED + 10,
        "completed_at": None,
        "workflow_timeout_ms": 60_000,
        "workflow_deadline_epoch_ms": CREATED + 60_010,
        "input": {"args": ({"steps": 3},), "kwargs": {}},
    }
    base.update(fields)
    return SimpleNamespace(**base)


@pytest.mark.parametrize(
    ("dbos_status", "status"),
    [
        ("ENQUEUED", JobStatus.QUEUED),
        ("DELAYED", JobStatus.QUEUED),
        ("PENDING", JobStatus.RUNNING),
        ("SUCCESS", JobStatus.SUCCEEDED),
        ("ERROR", JobStatus.FAILED),
        ("MAX_RECOVERY_ATTEMPTS_EXCEEDED", JobStatus.FAILED),
        ("CANCELLED", JobStatus.CANCELLED),
    ],
)
def test_every_dbos_status_maps_to_a_public_one(dbos_status: str, status: JobStatus) -> None:
    job = to_job(workflow(status=dbos_status, completed_at=CREATED + 100), None)
    assert job.status is status
    assert job.kind == "demo"
    assert (job.finished_at is not None) == status.is_final
    assert (job.started_at is None) == (status is JobStatus.QUEUED)


def test_success_links_the_result() -> None:
    job = to_job(workflow(status="SUCCESS", completed_at=CREATED + 100), Progress(done=3, total=3))
    assert job.result_url == "/jobs/j1/result"
    assert job.links == {"self": "/jobs/j1", "result": "/jobs/j1/result"}
    assert job.finished_at == datetime.fromtimestamp((CREATED + 100) / 1000, UTC)
    assert job.progress.done == 3


def test_cancelled_at_the_deadline_is_a_timeout_failure() -> None:
    job = to_job(workflow(status="CANCELLED", completed_at=CREATED + 60_020), None)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.type == "JobTimeout"
    assert "60 s" in job.error.message


def test_retries_exhausted_reports_the_steps_own_error() -> None:
    wrapped = DBOSMaxStepRetriesExceeded("fetch", 3, [TimeoutError("a"), KeyError("sku-9")])
    job = to_job(workflow(status="ERROR", error=wrapped, completed_at=CREATED + 5), None)
    assert job.error is not None
    assert (job.error.type, job.error.message) == ("KeyError", "'sku-9'")


def test_cursor_round_trips_and_rejects_forgeries() -> None:
    cursor = encode_cursor(JobCursor(b=CREATED, o=150))
    assert decode_cursor(cursor, JobCursor) == JobCursor(b=CREATED, o=150)
    overflowing = "eyJiIjogMTAwMDAwMDAwMDAwMDAwMDAwLCAibyI6IDB9"  # b = 10**20: past year 9999
    half = encode_cursor(JobCursor(b=CREATED, o=0))[:-3]
    for bad in ("", "not-base64!", half, "eyJiIjogLTF9", overflowing, "A" * 5000):
        with pytest.raises(InvalidCursorError):
            decode_cursor(bad, JobCursor)
