"""Jobs run by the Lambda worker function: simulated invocations, each with a short deadline,
complete a job that outlasts any one of them, on SQLite and Postgres: the demo job, a book
(outline, chapters, assembly) and a tours generation (five stages), each scaled down from its
minutes so that it still spans several invocations."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from skyferry.config import load_settings
from skyferry.runtimes.asgi import call
from skyferry.runtimes.lambda_http import parse
from skyferry.runtimes.lambda_worker import LambdaWorker


@dataclass
class FakeContext:
    """Lambda's context object, as far as the worker reads it: the time left."""

    deadline: float  # time.monotonic() at which Lambda would stop the invocation
    aws_request_id: str = "worker-invocation"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def http_event(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "worker"},
        "requestContext": {"http": {"method": method}, "stage": "$default"},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def submit_event(body: dict[str, Any]) -> dict[str, Any]:
    """A demo job's submit, as an HTTP API event."""
    return http_event("POST", "/jobs/demo", body)


@dataclass(frozen=True)
class LongJob:
    """A job kind's submit route, its record's route, and what its success looks like."""

    services: list[str]
    overrides: dict[str, Any]
    submit_path: str
    body: dict[str, Any]
    status_path: Callable[[dict[str, Any]], str]
    succeeded: Callable[[dict[str, Any]], bool]


LONG_JOBS = {
    # 8 steps of 0.25 s
    "demo": LongJob(
        ["demo"],
        {},
        "/jobs/demo",
        {"steps": 8, "seconds_per_step": 0.25},
        lambda answer: f"/jobs/{answer['id']}",
        lambda job: job["status"] == "succeeded" and job["progress"]["done"] == 8,
    ),
    # a book's ~45 s: outline and 6 chapters at 0.3 s each
    "book": LongJob(
        ["books"],
        {"books": {"offline_seconds_per_chapter": 0.3}},
        "/books",
        {"topic": "Tide pools", "chapters": 6, "words_per_chapter": 100},
        lambda answer: f"/books/{answer['id']}",
        lambda book: book["status"] == "succeeded",
    ),
    # a tours job's ~30 minutes: five stages at 0.5 s each
    "tours": LongJob(
        ["tours"],
        {"tours": {"offline_seconds_per_stage": 0.5, "solver_iterations": 300}},
        "/api/generate-city",
        {"place_id": "ChIJD7fiBh9u5kcRYJSMaMOCCwQ", "max_tours": 2},
        lambda answer: f"/cities/{answer['id']}",
        lambda city: len(city["tours"]) == 2,
    ),
}


@pytest.mark.parametrize("kind", list(LONG_JOBS))
def test_a_job_longer_than_any_invocation_completes_across_them(
    database_url: str, tmp_path: Path, kind: str
) -> None:
    long_job = LONG_JOBS[kind]
    settings = load_settings(
        database_url=database_url,
        blob_url=f"file://{tmp_path}/blobs",
        services=long_job.services,
        auto_migrate=True,
        log_level="WARNING",
        heartbeat_seconds=0.5,
        queue_polling_seconds=0.05,
        **long_job.overrides,
    )
    # Lambda's margin is 10 s; here 0.6 s of a 1.6 s invocation, enough for the worker's last
    # look at the queue on a loaded machine (0.3 s was overrun once, by a tours job on SQLite)
    worker = LambdaWorker(settings, margin_seconds=0.6)

    def answer(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = parse(event, "http")
        response = worker._loop.run_until_complete(call(worker.app, request.scope(), request.body))
        return response.status, json.loads(response.body)

    try:
        status, submitted = answer(http_event("POST", long_job.submit_path, long_job.body))
        assert status == 202, submitted

        outcomes = []
        for _ in range(12):
            context = FakeContext(deadline=time.monotonic() + 1.6)
            result = worker.run({"source": "aws.events", "detail-type": "Scheduled Event"}, context)
            assert time.monotonic() < context.deadline  # returned before Lambda's deadline
            outcomes.append(result["outcome"])
            if result["outcome"] == "idle":
                break
            time.sleep(0.3)  # the instance is frozen between invocations
        assert outcomes[-1] == "idle", outcomes
        assert outcomes.count("deadline") >= 1, outcomes  # 2-3 s of work, 1 s invocations

        status, record = answer(http_event("GET", long_job.status_path(submitted)))
        assert status == 200, record
        assert long_job.succeeded(record), record
        if kind == "demo":
            # every step ran exactly once, though the job was suspended mid-way
            assert sorted(demo_steps(settings.sqlalchemy_url, submitted["id"])) == list(range(8))
    finally:
        worker.close()


def demo_steps(url: str, job_id: str) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT step FROM skyferry_demo_steps WHERE job_id = :id")
            return list(connection.execute(query, {"id": job_id}).scalars())
    finally:
        engine.dispose()


def test_an_instance_takes_jobs_only_while_an_invocation_runs(
    database_url: str, tmp_path: Path
) -> None:
    """Between invocations Lambda freezes the instance: a job it took then would be suspended
    before its first step. So a job submitted between invocations (its submit rings the
    queue, and on Postgres NOTIFYs it) waits for the next one."""
    settings = load_settings(
        database_url=database_url,
        blob_url=f"file://{tmp_path}/blobs",
        services=["demo"],
        auto_migrate=True,
        log_level="WARNING",
        queue_polling_seconds=0.05,
    )
    worker = LambdaWorker(settings, margin_seconds=0.6)

    def answer(event: dict[str, Any]) -> dict[str, Any]:
        request = parse(event, "http")
        response = worker._loop.run_until_complete(call(worker.app, request.scope(), request.body))
        loaded: dict[str, Any] = json.loads(response.body)
        return loaded

    def status(job_id: str) -> str:
        return str(answer(http_event("GET", f"/jobs/{job_id}"))["status"])

    try:
        for invocation in range(2):  # after the start (init phase), and after an invocation
            job_id = answer(submit_event({"steps": 1, "seconds_per_step": 0.0}))["id"]
            time.sleep(1.0)  # DBOS would take it within milliseconds
            assert status(job_id) == "queued", invocation
            context = FakeContext(deadline=time.monotonic() + 5.0)
            result = worker.run({"source": "aws.events", "detail-type": "Scheduled Event"}, context)
            assert result["outcome"] == "idle", result
            assert status(job_id) == "succeeded", invocation
    finally:
        worker.close()
