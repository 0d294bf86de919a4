"""Real HTTP event payloads (tests/fixtures/lambda) replayed through the Lambda handler answer
as the same request made to uvicorn does, for every event family.

Both serve one app object (one database, one blob folder), so what one writes the other reads;
the Lambda answers may differ only where the event says so (a stage's prefix).
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from skyferry.config import load_settings
from skyferry.runtimes.aws_lambda import LambdaApp
from tests.servers import free_port

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lambda"
CONTEXT = SimpleNamespace(function_name="skyferry", aws_request_id="8476a536-e9f4-11e8-9739")

# every HTTP event family, from real payloads: (fixture, family, stage prefix the event adds)
FAMILIES = [
    ("powertools-apiGatewayProxyEvent.json", "rest", ""),
    ("go-apigw-request.json", "rest", "/testStage"),
    ("powertools-apiGatewayProxyV2Event.json", "http", ""),
    ("go-apigw-v2-request-no-authorizer.json", "http", "/dev"),
    ("powertools-lambdaFunctionUrlEvent.json", "http", ""),
    ("powertools-albMultiValueHeadersEvent.json", "alb", ""),
    ("go-alb-lambda-target-request-headers-only.json", "alb", ""),
]


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def event_for(
    name: str,
    family: str,
    stage: str,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    """The fixture's payload, carrying this request instead of its own."""
    event = copy.deepcopy(fixture(name))
    headers = headers or {}
    encoded = base64.b64encode(body).decode() if body else None
    if family == "http":
        context = event["requestContext"]
        if stage:
            context["stage"] = stage.strip("/")  # a named stage: in rawPath too
        context["http"]["method"] = method
        context["http"]["path"] = stage + path
        event["rawPath"] = stage + path
        event["rawQueryString"] = urlencode(query or {})
        event["headers"] = {**event.get("headers", {}), **headers}
        event.pop("cookies", None)
    else:
        event["httpMethod"] = method
        event["path"] = path
        if family == "rest":
            event["requestContext"]["path"] = stage + path
            event["requestContext"]["httpMethod"] = method
        multi = "multiValueHeaders" in event
        if multi:
            event["multiValueHeaders"] = {
                **{k: v for k, v in event["multiValueHeaders"].items() if k.lower() != "header2"},
                **{k: [v] for k, v in headers.items()},
            }
        if "headers" in event or not multi:
            event["headers"] = {**(event.get("headers") or {}), **headers}
        params = query or {}
        event["queryStringParameters"] = params or None
        if "multiValueQueryStringParameters" in event or family == "rest":
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in params.items()} or None
    event["body"] = encoded
    event["isBase64Encoded"] = encoded is not None
    return event


def body_of(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def headers_of(response: dict[str, Any]) -> dict[str, list[str]]:
    if "multiValueHeaders" in response:
        return {k.lower(): v for k, v in response["multiValueHeaders"].items()}
    return {k.lower(): [v] for k, v in response.get("headers", {}).items()}


@contextmanager
def uvicorn_in_thread(app: Any) -> Iterator[str]:
    """The same app object under uvicorn, in a thread: its lifespan already runs (the Lambda
    side started it), so uvicorn runs none; the app's pools and stores serve both."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-lambda-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambdaApp, str]]:
    """The app on Lambda (handler events) and under uvicorn (HTTP), one app object."""
    tmp_path = tmp_path_factory.mktemp("lambda-http")
    app = LambdaApp(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/app.db",
            blob_url=f"file://{tmp_path}/blobs",
            services=["inventory"],
            log_level="WARNING",
        )
    )
    try:
        with uvicorn_in_thread(app.app) as url:
            yield app, url
    finally:
        app.close()


@pytest.mark.parametrize(("name", "family", "stage"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_each_family_answers_as_uvicorn_does(
    both: tuple[LambdaApp, str], name: str, family: str, stage: str
) -> None:
    app, url = both
    sku = f"PUMP-{family}-{len(stage)}-{abs(hash(name)) % 1000}"
    item = {"sku": sku, "name": "Bilge pump", "quantity": 4, "price": "89.90"}
    json_headers = {"content-type": "application/json"}

    def replay(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = app(
            event_for(name, family, stage, method, path, **kwargs), CONTEXT
        )
        return answer

    created = replay("POST", "/inventory", headers=json_headers, body=json.dumps(item).encode())
    assert created["statusCode"] == 201, body_of(created)
    if family == "alb":
        assert created["statusDescription"] == "201 Created"

    # reads, misses, wrong methods, a filtered list: same status, type and body as uvicorn
    for method, path, query in [
        ("GET", f"/inventory/{sku}", None),
        ("GET", "/inventory/NOPE", None),
        ("DELETE", "/health", None),
        ("GET", "/inventory", {"name_prefix": "Bilge", "limit": "500"}),
    ]:
        lam = replay(method, path, query=query)
        uvi = httpx.request(method, url + path, params=query)
        assert lam["statusCode"] == uvi.status_code, (method, path, body_of(lam))
        lam_headers = headers_of(lam)
        assert lam_headers["content-type"] == [uvi.headers["content-type"]]
        # a problem names the URL the client asked for, stage included
        expected = json.loads(
            uvi.text.replace(f'"{path}', f'"{stage}{path}').replace(f" {path};", f" {stage}{path};")
        )
        assert json.loads(body_of(lam)) == expected
        if "allow" in uvi.headers:
            assert lam_headers["allow"] == [uvi.headers["allow"]]
        assert not lam["isBase64Encoded"]  # JSON goes back as text

    # a binary file: Location inside the stage, base64 both ways, ETag and a bodyless 304
    payload = bytes(range(256)) * 16
    put = replay(
        "PUT",
        f"/files/{sku}.bin",
        headers={"content-type": "application/octet-stream"},
        body=payload,
    )
    assert put["statusCode"] == 201, body_of(put)
    location = headers_of(put)["location"][0]
    assert location == f"{stage}/file/download/{sku}.bin"
    downloaded = replay("GET", location.removeprefix(stage))
    direct = httpx.get(url + location.removeprefix(stage))
    assert downloaded["isBase64Encoded"]
    assert body_of(downloaded) == direct.content == payload
    etag = headers_of(downloaded)["etag"][0]
    assert etag == direct.headers["etag"]
    unchanged = replay("GET", location.removeprefix(stage), headers={"if-none-match": etag})
    assert unchanged["statusCode"] == 304
    assert "content-type" not in headers_of(unchanged)  # nothing invented for no body
    assert body_of(unchanged) == b""

    deleted = replay("DELETE", f"/inventory/{sku}")
    assert deleted["statusCode"] == 204
    assert "content-type" not in headers_of(deleted)
    assert body_of(deleted) == b""

    # the request id is the invocation's
    assert headers_of(created)["x-request-id"][0] in (
        fixture(name)["requestContext"].get("requestId"),
        CONTEXT.aws_request_id,
    )


def test_a_custom_domain_base_path_is_stripped_and_kept(both: tuple[LambdaApp, str]) -> None:
    app, _ = both
    app.settings.lambda_base_path = "/v1"
    try:
        event = event_for("powertools-apiGatewayProxyV2Event.json", "http", "", "GET", "/health")
        event["rawPath"] = "/v1/health"
        assert app(event, CONTEXT)["statusCode"] == 200
        put = event_for(
            "powertools-apiGatewayProxyV2Event.json",
            "http",
            "",
            "PUT",
            "/v1/files/base.txt",
            headers={"content-type": "text/plain"},
            body=b"hello",
        )
        answer = app(put, CONTEXT)
        assert answer["statusCode"] == 201, body_of(answer)
        assert answer["headers"]["location"] == "/v1/file/download/base.txt"
    finally:
        app.settings.lambda_base_path = ""


def test_a_body_that_is_not_base64_is_a_400_problem(both: tuple[LambdaApp, str]) -> None:
    app, _ = both
    for name, family, stage in FAMILIES:
        event = event_for(name, family, stage, "POST", "/inventory", body=b"{}")
        event["body"] = "not base64!"
        answer = app(event, CONTEXT)
        assert answer["statusCode"] == 400, name
        problem = json.loads(body_of(answer))
        assert problem["status"] == 400
        assert "base64" in problem["detail"]


def store_file(url: str, name: str, content: bytes) -> None:
    """Put a file through uvicorn, for the handler's events to download."""
    stored = httpx.put(
        f"{url}/files/{name}", content=content, headers={"content-type": "application/octet-stream"}
    )
    assert stored.status_code in (200, 201)


def test_a_response_over_lambdas_limit_is_a_413_naming_it(both: tuple[LambdaApp, str]) -> None:
    app, url = both
    big = b"x" * (6 * 1024 * 1024)
    store_file(url, "big.bin", big)
    answer = app(
        event_for(
            "powertools-lambdaFunctionUrlEvent.json", "http", "", "GET", "/file/download/big.bin"
        ),
        CONTEXT,
    )
    assert answer["statusCode"] == 413
    problem = json.loads(body_of(answer))
    assert problem["limit_bytes"] == 6 * 1024 * 1024
    assert "6,291,456" in problem["detail"]
    # a part of it fits
    ranged = app(
        event_for(
            "powertools-lambdaFunctionUrlEvent.json",
            "http",
            "",
            "GET",
            "/file/download/big.bin",
            headers={"range": "bytes=0-1023"},
        ),
        CONTEXT,
    )
    assert ranged["statusCode"] == 206
    assert body_of(ranged) == big[:1024]


def test_behind_an_alb_a_response_over_its_1_mb_is_a_413_naming_it(
    both: tuple[LambdaApp, str],
) -> None:
    """An ALB takes at most 1 MB of response JSON from a Lambda target (and answers 502 for
    more): so 1.5 MB is refused as the handler's own 413, and the same through API Gateway
    passes."""
    app, url = both
    body = b"y" * (1536 * 1024)
    store_file(url, "mid.bin", body)
    alb = app(
        event_for(
            "powertools-albMultiValueHeadersEvent.json", "alb", "", "GET", "/file/download/mid.bin"
        ),
        CONTEXT,
    )
    assert alb["statusCode"] == 413
    problem = json.loads(body_of(alb))
    assert problem["limit_bytes"] == 1024 * 1024
    assert "ALB" in problem["detail"]
    gateway = app(
        event_for(
            "powertools-lambdaFunctionUrlEvent.json", "http", "", "GET", "/file/download/mid.bin"
        ),
        CONTEXT,
    )
    assert gateway["statusCode"] == 200
    assert body_of(gateway) == body
