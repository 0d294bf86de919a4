"""The job engine through real HTTP, on SQLite and on Postgres."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from skyferry.app import create_app
from skyferry.config import load_settings
from tests.servers import serve_in_thread


@pytest.fixture
def api(database_url: str) -> Iterator[httpx.Client]:
    settings = load_settings(
        database_url=database_url, blob_url="memory://", log_format="text", auto_migrate=True
    )
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def wait_final(client: httpx.Client, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return dict(job)
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} not final after {timeout}s")


def test_demo_job_runs_to_success_with_progress(api: httpx.Client) -> None:
    response = api.post("/jobs/demo", json={"steps": 4, "seconds_per_step": 0.05})
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert job["kind"] == "demo"
    final = wait_final(api, job["id"])
    assert final["status"] == "succeeded", final
    assert final["progress"] == {"done": 4, "total": 4, "message": "step 4 of 4"}
    assert final["started_at"]
    assert final["finished_at"]
    assert final["result_url"] == f"/jobs/{job['id']}/result"
    result = api.get(final["result_url"]).json()
    assert result["result"] == {"steps": 4, "failed": 0}
