"""Workers put the queue's depth into CloudWatch (moto server) when asked to, for scaling
workers on queue depth (the ECS target's worker scaling reads it)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import httpx

from skyferry.app import create_app
from skyferry.config import load_settings
from tests.servers import serve_in_thread


def test_a_worker_puts_the_number_of_queued_jobs(
    moto_endpoint: str, aws_env: None, database_url: str
) -> None:
    namespace = f"Skyferry/test-{uuid.uuid4().hex[:12]}"
    settings = load_settings(
        database_url=database_url,
        blob_url="memory://",
        services=["demo"],
        auto_migrate=True,
        shutdown_grace_seconds=0,
        worker_concurrency=1,  # one job runs, the others wait in the queue
        queue_metric_namespace=namespace,
        queue_metric_seconds=0.2,
        aws_endpoint_url=moto_endpoint,
        log_format="text",
    )
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto_endpoint)
    app = create_app(settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(4):
            answer = client.post("/jobs/demo", json={"steps": 40, "seconds_per_step": 0.25})
            assert answer.status_code == 202
        deadline = time.monotonic() + 20
        seen: set[float] = set()
        while time.monotonic() < deadline and not seen - {0.0}:
            stats = cloudwatch.get_metric_statistics(
                Namespace=namespace,
                MetricName="QueuedJobs",
                StartTime=datetime.now(UTC) - timedelta(minutes=5),
                EndTime=datetime.now(UTC) + timedelta(minutes=1),
                Period=60,
                Statistics=["Maximum"],
            )
            seen |= {point["Maximum"] for point in stats["Datapoints"]}
            time.sleep(0.2)
        # the three behind the running one at least (all four before the worker took one),
        # and never more than were submitted
        assert 3.0 <= max(seen) <= 4.0
