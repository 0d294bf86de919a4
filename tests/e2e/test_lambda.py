"""The app on AWS Lambda: the events API Gateway (HTTP and REST APIs), Function URLs and ALB send
reach the same routes, and a job submitted through Lambda is run by a `skyferry worker`."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest

from skyferry.config import load_settings
from skyferry.runtimes import aws_lambda
from skyferry.runtimes.aws_lambda import LambdaApp
from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop

CONTEXT = SimpleNamespace(function_name="skyferry", aws_request_id="req-1")
HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


def http_api_event(
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event; Function URLs send the same shape."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {"host": HOST, "user-agent": "curl/8.5.0", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": HOST,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "30/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1796032800000,
        },
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def rest_api_event(method: str, path: str) -> dict[str, Any]:
    """An API Gateway REST API proxy (payload 1.0) event."""
    headers = {"Host": HOST, "User-Agent": "curl/8.5.0"}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "identity": {"sourceIp": "203.0.113.9"},
            "requestId": "r-1",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def alb_event(method: str, path: str) -> dict[str, Any]:
    return {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
                "targetgroup/skyferry/6d0ecf831eec9f09"
            }
        },
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {
            "host": "skyferry-123.eu-west-1.elb.amazonaws.com",
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "body": "",
        "isBase64Encoded": False,
    }


def body_of(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def header(response: dict[str, Any], name: str) -> str:
    return str({k.lower(): v for k, v in response["headers"].items()}[name])


@pytest.fixture
def lambda_app(database_url: str, tmp_path: Path) -> Iterator[LambdaApp]:
    app = LambdaApp(
        load_settings(
            database_url=database_url,
            blob_url=f"file://{tmp_path}/blobs",
            auto_migrate=True,  # a deployment runs `skyferry db upgrade` for Postgres instead
            log_level="WARNING",
        )
    )
    try:
        yield app
    finally:
        app.close()


def test_http_api_events_reach_the_inventory_routes(lambda_app: LambdaApp) -> None:
    status = lambda_app(http_api_event("GET", "/"), CONTEXT)
    assert status["statusCode"] == 200
    assert json.loads(body_of(status))["status"] == "ok"

    item = {"sku": "PUMP-12V", "name": "Bilge pump", "quantity": 4, "price": "89.90"}
    created = lambda_app(
        http_api_event(
            "POST",
            "/inventory",
            headers={"content-type": "application/json"},
            body=json.dumps(item).encode(),
        ),
        CONTEXT,
    )
    assert created["statusCode"] == 201, body_of(created)

    read = lambda_app(http_api_event("GET", "/inventory/PUMP-12V"), CONTEXT)
    assert read["statusCode"] == 200
    assert json.loads(body_of(read))["price"] == "89.90"
    assert header(read, "etag")

    listed = lambda_app(
        http_api_event("GET", "/inventory", query={"name_prefix": "Bilge"}), CONTEXT
    )
    assert [i["sku"] for i in json.loads(body_of(listed))["items"]] == ["PUMP-12V"]


def test_errors_come_back_as_readable_problem_json(lambda_app: LambdaApp) -> None:
    missing = lambda_app(http_api_event("GET", "/inventory/NOPE"), CONTEXT)
    assert missing["statusCode"] == 404
    assert header(missing, "content-type") == "application/problem+json"
    assert not missing["isBase64Encoded"]  # API Gateway passes it on as text
    assert json.loads(missing["body"])["status"] == 404

    invalid = lambda_app(
        http_api_event(
            "POST",
            "/inventory",
            headers={"content-type": "application/json"},
            body=b'{"sku": "X", "quantity": -1}',
        ),
        CONTEXT,
    )
    assert invalid["statusCode"] == 422
    assert json.loads(body_of(invalid))["status"] == 422


def test_rest_api_and_alb_events_are_understood(lambda_app: LambdaApp) -> None:
    health = lambda_app(alb_event("GET", "/health"), CONTEXT)
    assert health["statusCode"] == 200
    assert json.loads(body_of(health))["status"] == "ok"

    root = lambda_app(rest_api_event("GET", "/"), CONTEXT)
    assert root["statusCode"] == 200
    assert json.loads(body_of(root))["name"] == "skyferry-inventory"


def test_binary_files_go_through_base64_both_ways(lambda_app: LambdaApp) -> None:
    payload = bytes(range(256)) * 64
    uploaded = lambda_app(
        http_api_event(
            "PUT",
            "/files/table.bin",
            headers={"content-type": "application/octet-stream"},
            body=payload,
        ),
        CONTEXT,
    )
    assert uploaded["statusCode"] in (200, 201), body_of(uploaded)

    downloaded = lambda_app(http_api_event("GET", "/file/download/table.bin"), CONTEXT)
    assert downloaded["statusCode"] == 200
    assert downloaded["isBase64Encoded"]
    assert body_of(downloaded) == payload

    ranged = lambda_app(
        http_api_event("GET", "/file/download/table.bin", headers={"range": "bytes=256-511"}),
        CONTEXT,
    )
    assert ranged["statusCode"] == 206
    assert body_of(ranged) == payload[256:512]


@pytest.mark.slow
def test_a_job_submitted_through_lambda_is_run_by_a_worker(
    lambda_app: LambdaApp, database_url: str, tmp_path: Path
) -> None:
    submitted = lambda_app(
        http_api_event(
            "POST",
            "/jobs/demo",
            headers={"content-type": "application/json"},
            body=b'{"steps": 3, "seconds_per_step": 0.1}',
        ),
        CONTEXT,
    )
    assert submitted["statusCode"] == 202, body_of(submitted)
    location = header(submitted, "location")

    # Lambda runs no jobs itself: the job waits in the database for a worker
    time.sleep(0.5)
    assert (
        json.loads(body_of(lambda_app(http_api_event("GET", location), CONTEXT)))["status"]
        == "queued"
    )

    worker = start(["worker"], skyferry_env(tmp_path, database_url), tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 60
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = json.loads(body_of(lambda_app(http_api_event("GET", location), CONTEXT)))
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.1)
    finally:
        stop(worker)
    assert job["status"] == "succeeded", (job, (tmp_path / "worker.log").read_text()[-2000:])
    assert job["progress"]["done"] == job["progress"]["total"] == 3


def test_the_module_handler_starts_the_app_once_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SKYFERRY_DATABASE_URL", f"sqlite:///{tmp_path}/lambda.db")
    monkeypatch.setenv("SKYFERRY_BLOB_URL", f"file://{tmp_path}/blobs")
    aws_lambda.instance.reset()
    try:
        first = aws_lambda.handler(http_api_event("GET", "/health"), CONTEXT)
        started = aws_lambda.instance.app
        second = aws_lambda.handler(http_api_event("GET", "/ready"), CONTEXT)
        assert (first["statusCode"], second["statusCode"]) == (200, 200)
        assert started is not None
        assert aws_lambda.instance.app is started
    finally:
        aws_lambda.instance.reset()
        gc.unfreeze()  # the handler froze this test process's heap


def test_an_unreachable_database_fails_the_routes_that_need_it_not_the_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the API function defers its connections: liveness answers, data routes say 503
    monkeypatch.setenv("SKYFERRY_DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/none")
    monkeypatch.setenv("SKYFERRY_BLOB_URL", f"file://{tmp_path}/blobs")
    monkeypatch.setenv("SKYFERRY_SERVICES", "inventory")
    aws_lambda.instance.reset()
    try:
        health = aws_lambda.handler(http_api_event("GET", "/health"), CONTEXT)
        assert health["statusCode"] == 200
        for path in ("/inventory/ANCHOR-1", "/jobs", "/ready"):
            answer = aws_lambda.handler(http_api_event("GET", path), CONTEXT)
            assert answer["statusCode"] == 503, (path, answer)
            assert answer["headers"]["content-type"] == "application/problem+json"
            assert "secret" not in answer["body"]
            if path != "/ready":
                assert answer["headers"]["retry-after"]
    finally:
        aws_lambda.instance.reset()
        gc.unfreeze()


def test_a_failed_start_answers_each_event_and_leaks_no_loop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # what fails a start now: settings that do not validate (no such database scheme)
    monkeypatch.setenv("SKYFERRY_DATABASE_URL", "mysql://nobody:secret@127.0.0.1:1/none")
    monkeypatch.setenv("SKYFERRY_BLOB_URL", f"file://{tmp_path}/blobs")
    monkeypatch.setattr(aws_lambda, "RESTART_INTERVAL_SECONDS", 0.0)
    aws_lambda.instance.reset()
    loops_before = sum(
        isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed() for o in gc.get_objects()
    )
    try:
        for _ in range(3):
            answer = aws_lambda.handler(http_api_event("GET", "/health"), CONTEXT)
            assert answer["statusCode"] == 503
            problem = json.loads(body_of(answer))
            assert "failed to start" in problem["detail"]
            assert "secret" not in answer["body"]
        with pytest.raises(aws_lambda.StartupFailedError):
            aws_lambda.handler({"Records": [{"eventSource": "aws:sqs"}]}, CONTEXT)
        gc.collect()
        loops_after = sum(
            isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed() for o in gc.get_objects()
        )
        assert loops_after <= loops_before
    finally:
        aws_lambda.instance.reset()


def test_an_export_landing_under_the_upload_prefix_starts_one_library_import(
    tmp_path: Path,
) -> None:
    export = Path(__file__).parents[1] / "fixtures" / "library" / "goodreads_2026.csv"
    uploads = tmp_path / "blobs" / "library" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "my export.csv").write_bytes(export.read_bytes())
    app = LambdaApp(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/lambda.db",
            blob_url=f"file://{tmp_path}/blobs",
            services=["library"],
            log_level="WARNING",
        )
    )
    try:
        fixtures = Path(__file__).parents[1] / "fixtures" / "lambda"
        event = json.loads((fixtures / "powertools-s3Event.json").read_text())
        event["Records"][0]["s3"]["object"]["key"] = "library/uploads/my+export.csv"
        event["Records"][0]["s3"]["object"]["size"] = export.stat().st_size
        assert app(event, CONTEXT) == {"handled": 1}
        assert app(event, CONTEXT) == {"handled": 1}  # S3 delivered it twice
        listed = app(http_api_event("GET", "/jobs", query={"kind": "library.import"}), CONTEXT)
        jobs = json.loads(body_of(listed))["items"]
        assert len(jobs) == 1, jobs
        status = app(http_api_event("GET", f"/status/{jobs[0]['id']}"), CONTEXT)
        assert status["statusCode"] == 200, body_of(status)

        elsewhere = json.loads((fixtures / "powertools-s3Event.json").read_text())
        assert app(elsewhere, CONTEXT) == {"handled": 1}  # not an upload: ignored
    finally:
        app.close()


def test_skyferry_lambda_invoke_prints_the_answer(tmp_path: Path) -> None:
    fixture = Path(__file__).parents[1] / "fixtures" / "lambda" / "go-lambda-urls-request.json"
    event = json.loads(fixture.read_text())
    event.update(rawPath="/health", rawQueryString="", body=None, isBase64Encoded=False)
    event["requestContext"]["http"].update(method="GET", path="/health")
    (tmp_path / "event.json").write_text(json.dumps(event))
    env = skyferry_env(tmp_path, f"sqlite:///{tmp_path}/app.db", SKYFERRY_SERVICES="demo")
    done = subprocess.run(
        [SKYFERRY, "lambda", "invoke", str(tmp_path / "event.json")],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    answer = json.loads(done.stdout)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["status"] == "ok"


def test_the_api_functions_first_health_check_imports_no_database_or_job_library(
    tmp_path: Path,
) -> None:
    # what a cold start costs is mostly imports: a fresh process, as a new Lambda instance is
    probe = """
import json, sys
from types import SimpleNamespace
from skyferry.runtimes.aws_lambda import handler  # starts the app: Lambda's init phase
event = json.loads(sys.argv[1])
answer = handler(event, SimpleNamespace(aws_request_id="cold"))
heavy = ("sqlalchemy", "psycopg", "dbos", "alembic", "obstore", "boto3", "typer", "httpx")
loaded = [m for m in heavy if m in sys.modules]
print(json.dumps({"status": answer["statusCode"], "loaded": loaded}))
"""
    env = skyferry_env(
        tmp_path,
        "postgresql://nobody@127.0.0.1:1/none",  # never connected to: nothing needs it
        SKYFERRY_SERVICES="inventory",
        SKYFERRY_AUTO_MIGRATE="false",
        AWS_LAMBDA_FUNCTION_NAME="skyferry-api",
        _HANDLER="skyferry.runtimes.aws_lambda.handler",
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(http_api_event("GET", "/health"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {"status": 200, "loaded": []}
