"""Jobs run by the Lambda worker function: simulated invocations, each with a short deadline,
complete a job that outlasts any one of them, on SQLite and Postgres."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def submit_event(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": "/jobs/demo",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "worker"},
        "requestContext": {"http": {"method": "POST"}, "stage": "$default"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def test_a_job_longer_than_any_invocation_completes_across_them(
    database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=database_url,
        blob_url=f"file://{tmp_path}/blobs",
        services=["demo"],
        auto_migrate=True,
        log_level="WARNING",
        heartbeat_seconds=0.5,
        queue_polling_seconds=0.05,
    )
    worker = LambdaWorker(settings, margin_seconds=0.3)
    try:
        request = parse(submit_event({"steps": 8, "seconds_per_step": 0.25}), "http")
        submitted = worker._loop.run_until_complete(call(worker.app, request.scope(), request.body))
        assert submitted.status == 202, submitted.body
        job_id = json.loads(submitted.body)["id"]

        outcomes = []
        for _ in range(12):
            context = FakeContext(deadline=time.monotonic() + 1.2)
            result = worker.run({"source": "aws.events", "detail-type": "Scheduled Event"}, context)
            assert time.monotonic() < context.deadline  # returned before Lambda's deadline
            outcomes.append(result["outcome"])
            if result["outcome"] == "idle":
                break
            time.sleep(0.3)  # the instance is frozen between invocations
        assert outcomes[-1] == "idle", outcomes
        assert outcomes.count("deadline") >= 1, outcomes  # 2 s of work, 0.9 s invocations

        request = parse(
            {
                **submit_event({}),
                "rawPath": f"/jobs/{job_id}",
                "body": None,
                "requestContext": {"http": {"method": "GET"}},
            },
            "http",
        )
        job = json.loads(
            worker._loop.run_until_complete(call(worker.app, request.scope(), request.body)).body
        )
        assert job["status"] == "succeeded", job
        assert job["progress"]["done"] == 8

        # every step ran exactly once, though the job was suspended mid-way
        engine = sa.create_engine(settings.sqlalchemy_url)
        try:
            with engine.connect() as connection:
                steps = (
                    connection.execute(
                        sa.text("SELECT step FROM skyferry_demo_steps WHERE job_id = :id"),
                        {"id": job_id},
                    )
                    .scalars()
                    .all()
                )
        finally:
            engine.dispose()
        assert sorted(steps) == list(range(1, 9)) or sorted(steps) == list(range(8))
    finally:
        worker.close()
