"""A job submitted on the API function wakes the worker function through SQS (moto server);
the worker invocation that message triggers runs the job, and one that meets its deadline with
work left wakes the next."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

from skyferry.config import Settings, load_settings
from skyferry.runtimes.asgi import call
from skyferry.runtimes.aws_lambda import LambdaApp
from skyferry.runtimes.lambda_http import parse
from skyferry.runtimes.lambda_worker import LambdaWorker
from tests.integration.test_lambda_worker import FakeContext, submit_event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lambda"


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The messages as Lambda's SQS poller hands them over (the Powertools fixture's shape)."""
    template = json.loads((FIXTURES / "powertools-sqsEvent.json").read_text())["Records"][0]
    records = []
    for message in messages:
        record = copy.deepcopy(template)
        record.update(
            messageId=message["MessageId"],
            receiptHandle=message["ReceiptHandle"],
            body=message["Body"],
        )
        records.append(record)
    return {"Records": records}


def receive(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return got


def job_of(worker: LambdaWorker, job_id: str) -> dict[str, Any]:
    event = {**submit_event({}), "rawPath": f"/jobs/{job_id}", "body": None}
    event["requestContext"] = {"http": {"method": "GET"}}
    request = parse(event, "http")
    answer = worker._loop.run_until_complete(call(worker.app, request.scope(), request.body))
    found: dict[str, Any] = json.loads(answer.body)
    return found


def test_a_submit_wakes_a_worker_that_runs_the_job(
    moto_endpoint: str, aws_env: None, tmp_path: Path
) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    queue_url = sqs.create_queue(QueueName=f"wake-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    settings: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/app.db",
        "blob_url": f"file://{tmp_path}/blobs",
        "services": ["demo"],
        "aws_endpoint_url": moto_endpoint,
        "lambda_wake_queue_url": queue_url,
        "log_level": "WARNING",
        "heartbeat_seconds": 0.5,
    }

    def settings_of() -> Settings:
        return load_settings(**settings)

    api = LambdaApp(settings_of())
    try:
        short = submit_event({"steps": 3, "seconds_per_step": 0.05})
        short["headers"]["idempotency-key"] = "short-1"
        first = api(short, FakeContext(deadline=time.monotonic() + 5))
        again = api(short, FakeContext(deadline=time.monotonic() + 5))
        assert (first["statusCode"], again["statusCode"]) == (202, 200)
        long = api(
            submit_event({"steps": 8, "seconds_per_step": 0.25}),
            FakeContext(deadline=time.monotonic() + 5),
        )
        assert long["statusCode"] == 202
    finally:
        api.close()
    short_id, long_id = json.loads(first["body"])["id"], json.loads(long["body"])["id"]

    woken = receive(sqs, queue_url)
    assert sorted(json.loads(m["Body"])["job_id"] for m in woken) == sorted([short_id, long_id])

    worker = LambdaWorker(settings_of(), margin_seconds=0.3)
    try:
        # a short invocation: the long job does not fit, and the worker wakes the next one
        result = worker.run(sqs_event(woken), FakeContext(deadline=time.monotonic() + 1.0))
        assert result["outcome"] == "deadline"
        assert result["batchItemFailures"] == []
        nudges = receive(sqs, queue_url)
        assert [json.loads(m["Body"])["reason"] for m in nudges] == ["deadline"]

        for _ in range(10):  # the invocations the nudges (and the schedule) bring
            result = worker.run(sqs_event(nudges), FakeContext(deadline=time.monotonic() + 3))
            if result["outcome"] == "idle":
                break
            nudges = receive(sqs, queue_url)
        assert result["outcome"] == "idle"
        assert job_of(worker, short_id)["status"] == "succeeded"
        assert job_of(worker, long_id)["status"] == "succeeded"
    finally:
        worker.close()
