"""POST /jobs/{id}/retry: a failed job runs again from its last checkpoint, under its own id,
without redoing the steps or fan-out items that finished (before: no way to retry at all)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

import tests.kinds
from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.platform import Platform
from tests.polling import poll
from tests.servers import serve_in_thread

PROBLEM = "application/problem+json"


@dataclass
class Api:
    client: httpx.Client
    platform: Platform


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    settings = load_settings(
        database_url=database_url,
        blob_url="memory://",
        log_format="text",
        auto_migrate=True,
        shutdown_grace_seconds=0,
    )
    app = create_app(settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Api(client, app.state.skyferry)


def test_a_failed_job_retries_from_its_last_checkpoint(api: Api) -> None:
    calls = tests.kinds.REPORT_CALLS
    calls.items = calls.provider = 0
    params = tests.kinds.ReportParams(key="reports/in.csv", items=10)
    job_id = asyncio.run(tests.kinds.report.submit(params)).job.id
    failed = poll(api.client, job_id)
    assert failed["status"] == "failed", failed
    assert failed["error"]["type"] == "BlobNotFoundError"
    assert (calls.items, calls.provider) == (10, 1)

    # what was missing is there now (a full disk freed); the job goes on from the failed step
    asyncio.run(api.platform.blobs.put("reports/in.csv", b"12345"))
    retried = api.client.post(f"/jobs/{job_id}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.headers["location"] == f"/jobs/{job_id}"
    assert retried.json()["id"] == job_id
    assert retried.json()["status"] in ("queued", "running")
    done = poll(api.client, job_id)
    assert done["status"] == "succeeded", done
    assert done["error"] is None
    result = api.client.get(f"/jobs/{job_id}/result").json()["result"]
    assert result == {"items": 10, "summary": "a summary of 10 items", "size": 5}
    # the fan-out's items and the provider step ran once, before the failure
    assert (calls.items, calls.provider) == (10, 1)

    # a job that did not fail cannot be retried; an unknown one is not found
    again = api.client.post(f"/jobs/{job_id}/retry")
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["job_status"] == "succeeded"
    assert api.client.post("/jobs/no-such-job/retry").status_code == 404


def test_a_running_job_cannot_be_retried(api: Api) -> None:
    job_id = api.client.post("/jobs/demo", json={"steps": 20, "seconds_per_step": 0.2}).json()["id"]
    poll(api.client, job_id, lambda job: job["status"] == "running")
    refused = api.client.post(f"/jobs/{job_id}/retry")
    assert refused.status_code == 409
    assert refused.json()["title"] == "Job not failed"
    assert api.client.post(f"/jobs/{job_id}/cancel").status_code == 200
