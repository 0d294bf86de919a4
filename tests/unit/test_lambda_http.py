"""How real HTTP event payloads (tests/fixtures/lambda) become ASGI requests, and answers
become what each event family expects."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyferry.runtimes.asgi import AsgiResponse
from skyferry.runtimes.aws_lambda import edge_refusal
from skyferry.runtimes.lambda_http import InvalidBody, answer, family_of, parse
from skyferry.runtimes.lambda_local import EventFormat, from_result, serve, to_event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lambda"


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def staged_rest() -> dict[str, Any]:
    event = fixture("go-apigw-request.json")
    event["requestContext"]["path"] = "/testStage/hello/world"
    return event


def test_each_fixture_is_recognised_as_its_family() -> None:
    assert family_of(fixture("powertools-apiGatewayProxyEvent.json")) == "rest"
    assert family_of(fixture("go-apigw-request.json")) == "rest"
    assert family_of(fixture("powertools-apiGatewayProxyV2Event.json")) == "http"
    assert family_of(fixture("powertools-lambdaFunctionUrlEvent.json")) == "http"
    assert family_of(fixture("go-lambda-urls-request.json")) == "http"
    assert family_of(fixture("powertools-albEvent.json")) == "alb"
    assert family_of(fixture("powertools-sqsEvent.json")) is None
    assert family_of({"Records": [{"cf": {"request": {}}}]}) == "edge"


def test_multi_value_headers_and_queries_stay_separate_values() -> None:
    request = parse(fixture("powertools-apiGatewayProxyEvent.json"), "rest")
    headers = request.scope()["headers"]
    assert [v for k, v in headers if k == b"header2"] == [b"value1", b"value2"]
    assert request.query_string == b"parameter1=value1&parameter1=value2&parameter2=value"
    assert request.body == b"Hello from Lambda!"
    assert request.source_ip == "192.168.0.1"


def test_http_api_routes_on_raw_path_and_passes_cookies() -> None:
    event = fixture("powertools-apiGatewayProxyV2Event.json")
    event["rawPath"] = "/files/a%2Fb%20c"
    event["requestContext"]["http"]["path"] = "/files/a/b c"
    request = parse(event, "http")
    scope = request.scope()
    assert scope["path"] == "/files/a/b c"
    assert scope["raw_path"] == b"/files/a%2Fb%20c"  # as sent, as uvicorn gives it
    assert (b"cookie", b"cookie1; cookie2") in scope["headers"]
    assert request.method == "POST"


def test_stages_and_base_paths_become_the_root_path() -> None:
    # as sent (requestContext.path without the stage): a custom domain, no stage in the URL
    domain_rest = parse(fixture("go-apigw-request.json"), "rest")
    assert (domain_rest.root_path, domain_rest.path) == ("", "/hello/world")
    # on the execute-api domain the stage is in requestContext.path
    rest = parse(staged_rest(), "rest")
    assert (rest.root_path, rest.path) == ("/testStage", "/hello/world")
    assert rest.scope()["path"] == "/testStage/hello/world"

    named = fixture("powertools-apiGatewayProxyV2Event.json")
    named["requestContext"]["stage"] = "dev"
    named["rawPath"] = "/dev/my/path"
    http = parse(named, "http")
    assert (http.root_path, http.path) == ("/dev", "/my/path")

    mapped = fixture("powertools-lambdaFunctionUrlEvent.json")
    mapped["rawPath"] = "/v1/health"
    domain = parse(mapped, "http", base_path="/v1")
    assert (domain.root_path, domain.path) == ("/v1", "/health")


def test_a_rest_path_without_its_leading_slash_still_routes() -> None:
    event = fixture("powertools-apiGatewayProxyEvent.json")
    event["path"] = "my/path"
    assert parse(event, "rest").path == "/my/path"


def test_a_body_flagged_base64_that_is_not_is_refused() -> None:
    event = fixture("powertools-apiGatewayProxyV2Event.json")
    event["isBase64Encoded"] = True
    with pytest.raises(InvalidBody) as refused:
        parse(event, "http")
    assert refused.value.request.path == "/my/path"


def test_answers_take_each_familys_shape() -> None:
    response = AsgiResponse(
        status=302,
        headers=[("location", "/jobs/1"), ("set-cookie", "a=1"), ("set-cookie", "b=2")],
    )
    rest = parse(staged_rest(), "rest")
    shaped = answer(rest, response)
    assert shaped["multiValueHeaders"] == {
        "location": ["/testStage/jobs/1"],
        "set-cookie": ["a=1", "b=2"],
    }
    assert (shaped["body"], shaped["isBase64Encoded"]) == ("", False)
    assert "content-type" not in shaped["multiValueHeaders"]

    http = answer(parse(fixture("powertools-lambdaFunctionUrlEvent.json"), "http"), response)
    assert http["headers"] == {"location": "/jobs/1"}
    assert http["cookies"] == ["a=1", "b=2"]

    alb_single = answer(parse(fixture("powertools-albEvent.json"), "alb"), response)
    assert alb_single["statusDescription"] == "302 Found"
    assert "headers" in alb_single
    alb_multi = answer(parse(fixture("powertools-albMultiValueHeadersEvent.json"), "alb"), response)
    assert alb_multi["multiValueHeaders"]["set-cookie"] == ["a=1", "b=2"]


def test_lambda_at_edge_is_refused_in_cloudfronts_shape() -> None:
    refused = edge_refusal()
    assert refused["status"] == "501"
    assert "Lambda@Edge" in json.loads(refused["body"])["detail"]


@pytest.mark.parametrize(
    ("event_format", "stage"), [("rest", "dev"), ("http", "v2"), ("alb", None), ("http", None)]
)
def test_lambda_serve_makes_the_events_each_format_sends(
    event_format: Any, stage: str | None
) -> None:
    headers = [("Host", "localhost"), ("Accept", "a/b"), ("Accept", "c/d"), ("Cookie", "x=1; y=2")]
    event = to_event(
        event_format, "POST", "/files/a%20b?q=1&q=2", headers, b"\x00\xff", stage=stage
    )
    assert family_of(event) == event_format
    request = parse(event, event_format)
    assert (request.root_path, request.path) == (f"/{stage}" if stage else "", "/files/a b")
    assert request.query_string == b"q=1&q=2"
    assert request.body == b"\x00\xff"
    scope_headers = request.scope()["headers"]
    if event_format == "http":  # an HTTP API joins repeats and passes cookies apart
        assert (b"accept", b"a/b,c/d") in scope_headers
        assert (b"cookie", b"x=1; y=2") in scope_headers
    else:
        assert [v for k, v in scope_headers if k == b"accept"] == [b"a/b", b"c/d"]

    reply = answer(request, AsgiResponse(status=201, headers=[("set-cookie", "s=1")], body=b"ok"))
    assert from_result(reply) == (201, [("set-cookie", "s=1")], b"ok")


@pytest.mark.parametrize(
    ("event_format", "largest_body"),
    [("alb", 1024 * 1024), ("http", 4 * 1024 * 1024)],  # ALB: 1 MB of body; else 6 MB of event
)
def test_lambda_serve_refuses_what_aws_would_not_pass_on(
    event_format: EventFormat, largest_body: int
) -> None:
    """An ALB passes at most 1 MB of body to a Lambda target; API Gateway an event of at most
    6 MB (the body base64 in it): anything larger is a 413, and never reaches the handler."""
    seen: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(len(event["body"] or ""))
        return {"statusCode": 204, "headers": {}, "body": ""}

    server = serve(handler, event_format, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/upload"
    try:
        assert httpx.post(url, content=b"x" * largest_body).status_code == 204
        refused = httpx.post(url, content=b"x" * (largest_body + 1024 * 1024))
        assert refused.status_code == 413
        assert refused.json() == {"message": "Request Too Large"}
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 1
