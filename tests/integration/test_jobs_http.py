"""The job engine through real HTTP, on SQLite and on Postgres."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

import skyferry
import tests.kinds
from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.http.bodies import BATCH_LIMIT
from skyferry.services.demo.service import DemoParams, demo
from tests.polling import poll
from tests.servers import serve_in_thread


@dataclass
class Api:
    client: httpx.Client
    app: FastAPI

    def submit(self, kind: skyferry.JobKind[Any, Any], params: BaseModel) -> str:
        """Submit a kind that has no HTTP route of its own, through its public handle."""
        job, _ = asyncio.run(kind.submit(params))
        return job.id

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        return poll(self.client, job_id, timeout=timeout)


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    settings = load_settings(
        database_url=database_url,
        blob_url="memory://",
        log_format="text",
        auto_migrate=True,
        shutdown_grace_seconds=0,
        max_body_bytes=64 * 1024,
    )
    app = create_app(settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Api(client, app)


def test_demo_job_runs_to_success_with_progress(api: Api) -> None:
    response = api.client.post("/jobs/demo", json={"steps": 4, "seconds_per_step": 0.05})
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert job["kind"] == "demo"
    assert job["status"] == "queued"
    final = api.wait(job["id"])
    assert final["status"] == "succeeded", final
    assert final["progress"] == {"done": 4, "total": 4, "message": "step 4 of 4"}
    assert final["started_at"]
    assert final["finished_at"]
    assert final["error"] is None
    assert final["result_url"] == f"/jobs/{job['id']}/result"
    result = api.client.get(final["result_url"]).json()
    assert result == {"id": job["id"], "kind": "demo", "result": {"steps": 4, "failed": 0}}


def test_progress_is_visible_while_the_job_runs(api: Api) -> None:
    job_id = api.client.post("/jobs/demo", json={"steps": 6, "seconds_per_step": 0.3}).json()["id"]
    running = poll(api.client, job_id, lambda job: 0 < job["progress"]["done"] < 6)
    assert running["status"] == "running"
    assert running["progress"]["total"] == 6
    assert running["links"]["cancel"] == f"/jobs/{job_id}/cancel"
    assert api.client.get(f"/jobs/{job_id}/result").status_code == 409
    assert api.wait(job_id)["status"] == "succeeded"


def test_idempotency_key_returns_the_same_job(api: Api) -> None:
    body = {"steps": 1, "seconds_per_step": 0}
    first = api.client.post("/jobs/demo", json=body, headers={"Idempotency-Key": "order-42"})
    again = api.client.post("/jobs/demo", json=body, headers={"Idempotency-Key": "order-42"})
    other = api.client.post("/jobs/demo", json=body, headers={"Idempotency-Key": "order-43"})
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert other.json()["id"] != first.json()["id"]
    changed = api.client.post(
        "/jobs/demo", json={"steps": 2}, headers={"Idempotency-Key": "order-42"}
    )
    assert changed.status_code == 422
    assert changed.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in changed.json()["detail"]


def test_a_list_of_params_submits_every_job_in_one_request(api: Api) -> None:
    bodies = [{"steps": n, "seconds_per_step": 0} for n in (0, 1, 2)]
    response = api.client.post("/jobs/demo", json=bodies)
    assert response.status_code == 202, response.text
    assert "location" not in response.headers
    jobs = response.json()
    assert [job["params"]["steps"] for job in jobs] == [0, 1, 2]
    assert len({job["id"] for job in jobs}) == 3
    for job in jobs:
        assert api.wait(job["id"])["status"] == "succeeded"
        assert (
            api.client.get(f"/jobs/{job['id']}/result").json()["result"]["steps"]
            == (job["params"]["steps"])
        )

    keyed = {"Idempotency-Key": "nightly-7"}
    first = api.client.post("/jobs/demo", json=bodies[:2], headers=keyed)
    again = api.client.post("/jobs/demo", json=bodies[:2], headers=keyed)
    assert (first.status_code, again.status_code) == (202, 200)
    assert [j["id"] for j in again.json()] == [j["id"] for j in first.json()]
    # a repeat with one item changed creates nothing, not even its unchanged items
    before = len(api.client.get("/jobs", params={"limit": 500}).json()["items"])
    changed = api.client.post("/jobs/demo", json=[bodies[0], bodies[2], bodies[1]], headers=keyed)
    assert changed.status_code == 422
    assert changed.headers["content-type"] == "application/problem+json"
    assert len(api.client.get("/jobs", params={"limit": 500}).json()["items"]) == before

    refusals: list[list[dict[str, int]]] = [[], [{}] * (BATCH_LIMIT + 1), [{"steps": -1}]]
    for bad in refusals:
        refused = api.client.post("/jobs/demo", json=bad)
        assert refused.status_code == 422, len(bad)
        assert refused.headers["content-type"] == "application/problem+json"
    schema = api.client.get("/openapi.json").json()
    body = schema["paths"]["/jobs/demo"]["post"]["requestBody"]["content"]["application/json"]
    assert any(option.get("type") == "array" for option in body["schema"]["oneOf"])


def test_submit_many_honours_each_items_idempotency_key(api: Api) -> None:
    one, two = DemoParams(steps=1, seconds_per_step=0), DemoParams(steps=2, seconds_per_step=0)
    first = asyncio.run(demo.submit_many([one, two, one], ["k-1", None, "k-1"]))
    assert [s.created for s in first] == [True, True, False]
    assert first[2].job.id == first[0].job.id
    again = asyncio.run(demo.submit_many([one], ["k-1"]))
    assert again[0].job.id == first[0].job.id
    assert not again[0].created
    alone = asyncio.run(demo.submit(one, "k-1"))
    assert (alone.job.id, alone.created) == (first[0].job.id, False)

    with pytest.raises(skyferry.SkyferryError, match="Idempotency-Key"):
        asyncio.run(demo.submit_many([one, two], ["k-2", "k-1"]))
    # the batch failed whole: k-2's job was not created, and its key is still free
    fresh = asyncio.run(demo.submit_many([two], ["k-2"]))
    assert fresh[0].created
    assert api.wait(first[0].job.id)["status"] == "succeeded"


def test_cancel_stops_a_running_job(api: Api) -> None:
    job_id = api.client.post("/jobs/demo", json={"steps": 50, "seconds_per_step": 0.2}).json()["id"]
    poll(api.client, job_id, lambda job: job["progress"]["done"] >= 1)
    cancelled = api.client.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    final = api.wait(job_id)
    assert final["status"] == "cancelled"
    time.sleep(0.5)
    assert api.client.get(f"/jobs/{job_id}").json()["progress"]["done"] < 50
    # cancelling a finished job changes nothing
    assert api.client.post(f"/jobs/{job_id}/cancel").json()["status"] == "cancelled"


def test_failed_job_reports_type_and_message_without_a_trace(api: Api) -> None:
    job_id = api.submit(tests.kinds.failing, tests.kinds.Empty())
    final = api.wait(job_id)
    assert final["status"] == "failed"
    assert final["error"] == {
        "type": "ProjectNotFoundError",
        "message": "project 'apollo' does not exist",
    }
    assert final["result_url"] is None


def test_a_job_past_its_timeout_fails_as_a_timeout(api: Api) -> None:
    final = api.wait(api.submit(tests.kinds.overrun, tests.kinds.Empty()), timeout=30)
    assert final["status"] == "failed"
    assert final["error"]["type"] == "JobTimeout"


@pytest.mark.parametrize("across_workers", [False, True], ids=["in-process", "across-workers"])
def test_fan_out_records_failed_items_and_keeps_the_rest(api: Api, across_workers: bool) -> None:
    """Across workers: chunks claimed by this process's worker on Postgres, in-process on
    SQLite; the same outcomes either way."""
    params = tests.kinds.FanOutParams(
        items=30, fail_every=7, concurrency=5, rate_per_second=200, across_workers=across_workers
    )
    job_id = api.submit(tests.kinds.fan, params)
    final = api.wait(job_id)
    assert final["status"] == "succeeded", final
    assert final["progress"]["done"] == 30
    assert final["progress"]["total"] == 30
    result = api.client.get(f"/jobs/{job_id}/result").json()["result"]
    assert result["outputs"] == [i * i for i in range(30) if i % 7]
    assert result["failed"] == [
        {"index": i, "error": "ValueError", "attempts": 2} for i in range(0, 30, 7)
    ]


def test_listing_filters_and_pages_without_gaps(api: Api) -> None:
    ids = [api.client.post("/jobs/demo", json={"steps": 0}).json()["id"] for _ in range(7)]
    failed = api.submit(tests.kinds.failing, tests.kinds.Empty())
    for job_id in [*ids, failed]:
        api.wait(job_id)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"kind": "demo", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get("/jobs", params=params).json()
        seen += [job["id"] for job in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # a job created between pages must not shift the next page; DBOS keeps SQLite times in
        # whole seconds on Python < 3.12, so there the guarantee starts a second later
        if api.app.state.skyferry.settings.is_postgres is False:
            time.sleep(1.05)
        api.client.post("/jobs/demo", json={"steps": 0})
    assert sorted(seen) == sorted(ids)
    failures = api.client.get("/jobs", params={"status": "failed"}).json()["items"]
    assert [job["id"] for job in failures] == [failed]


def test_bad_requests_get_problem_details(api: Api) -> None:
    cases = {
        ("GET", "/jobs/does-not-exist"): 404,
        ("GET", "/no/such/route"): 404,
        ("DELETE", "/jobs"): 405,
        ("GET", "/jobs?status=done"): 422,
        ("GET", "/jobs?limit=0"): 422,
        ("GET", "/jobs?cursor=not-a-cursor"): 400,
        ("POST", "/jobs/does-not-exist/cancel"): 404,
    }
    for (method, path), status in cases.items():
        response = api.client.request(method, path)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == status
        assert body["title"]
        assert body["detail"]
        assert "Traceback" not in response.text


def test_invalid_and_oversized_bodies(api: Api) -> None:
    invalid = api.client.post("/jobs/demo", json={"steps": -1, "colour": "red"})
    assert invalid.status_code == 422
    errors = {tuple(e["loc"]): e["type"] for e in invalid.json()["errors"]}
    assert errors == {
        ("body", "steps"): "greater_than_equal",
        ("body", "colour"): "extra_forbidden",
    }
    malformed = api.client.post(
        "/jobs/demo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == "application/problem+json"
    huge = api.client.post(
        "/jobs/demo", content=b" " * (65 * 1024), headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"


def test_the_demo_body_schema_states_this_servers_limits(database_url: str) -> None:
    settings = load_settings(
        database_url=database_url,
        blob_url="memory://",
        log_format="text",
        auto_migrate=True,
        shutdown_grace_seconds=0,
        demo={"max_steps": 20, "max_seconds_per_step": 0.25},
    )
    app = create_app(settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["DemoParams"]
        assert schema["properties"]["steps"]["maximum"] == 20
        assert schema["properties"]["seconds_per_step"]["maximum"] == 0.25
        assert schema["properties"]["seconds_per_step"]["default"] == 0.25

        too_many = client.post("/jobs/demo", json={"steps": 21, "seconds_per_step": 0.3})
        assert too_many.status_code == 422
        assert too_many.headers["content-type"] == "application/problem+json"
        errors = {tuple(e["loc"]): e["type"] for e in too_many.json()["errors"]}
        assert errors == {
            ("body", "steps"): "less_than_equal",
            ("body", "seconds_per_step"): "less_than_equal",
        }
        at_the_limit = client.post("/jobs/demo", json={"steps": 20, "seconds_per_step": 0})
        assert at_the_limit.status_code == 202, at_the_limit.text
        assert at_the_limit.json()["params"]["steps"] == 20

        # JSON's own types, as the schema says: no "3" for 3, no 0 for false; 3.0 is 3
        for body in ({"steps": "3"}, {"record_steps": 0}, {"seconds_per_step": "0.1"}):
            assert client.post("/jobs/demo", json=body).status_code == 422, body
        whole = client.post("/jobs/demo", json={"steps": 3.0, "seconds_per_step": 0})
        assert whole.status_code == 202, whole.text
        assert whole.json()["params"]["steps"] == 3


def test_operations_endpoints(api: Api) -> None:
    health = api.client.get("/health")
    assert health.json()["status"] == "ok"
    ready = api.client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "blobs": "ok"}
    assert api.client.get("/docs").status_code == 200
    schema = api.client.get("/openapi.json").json()
    assert "/jobs/{job_id}" in schema["paths"]
    echoed = api.client.get("/health", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    assert len(api.client.get("/health").headers["x-request-id"]) == 32
