"""A local HTTP port in front of the Lambda handler: each request becomes the event API Gateway
(REST or HTTP API) or an ALB would send, and the handler's answer becomes the HTTP response.

``skyferry lambda serve`` runs it, so a user can curl their Lambda build without Docker or an
AWS account. Like a Lambda instance it handles one event at a time, and like API Gateway it
refuses a request whose event would be over Lambda's 6 MB (an ALB: whose body is over 1 MB)
with a 413, unread when its length says so: the app behind it leaves its own app-wide limit
to Lambda.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from skyferry.runtimes.lambda_http import ALB_LIMIT_BYTES, PAYLOAD_LIMIT_BYTES

log = logging.getLogger(__name__)

EventFormat = Literal["rest", "http", "alb"]
Handler = Callable[[dict[str, Any], Any], Any]


def to_event(
    event_format: EventFormat,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    stage: str | None = None,
) -> dict[str, Any]:
    """The event a request to ``target`` (path and query, after the stage) arrives as."""
    parts = urlsplit(target)
    path = parts.path or "/"
    request_id = str(uuid.uuid4())
    encoded = base64.b64encode(body).decode() if body else None
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        multi.setdefault(name, []).append(value)
    if event_format == "http":
        return _http_event(method, parts.query, path, multi, encoded, stage, request_id)
    query = parse_qsl(parts.query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for key, value in query:
        multi_query.setdefault(key, []).append(value)
    if event_format == "alb":
        # an ALB passes the query on as sent, undecoded
        raw = [pair.partition("=") for pair in parts.query.split("&") if pair]
        alb_query: dict[str, list[str]] = {}
        for key, _, value in raw:
            alb_query.setdefault(key, []).append(value)
        return {
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:local"}},
            "httpMethod": method,
            "path": unquote(path),
            "multiValueQueryStringParameters": alb_query,
            "multiValueHeaders": {k.lower(): v for k, v in multi.items()},
            "body": encoded or "",
            "isBase64Encoded": encoded is not None,
        }
    stage_name = stage or "$default"
    return {
        "resource": "/{proxy+}",
        "path": unquote(path),
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi.items()},
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": unquote(path).lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": (f"/{stage}" if stage else "") + unquote(path),
            "stage": stage_name,
            "identity": {"sourceIp": "127.0.0.1"},
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
        },
        "body": encoded,
        "isBase64Encoded": encoded is not None,
    }


def _http_event(
    method: str,
    query: str,
    path: str,
    multi: dict[str, list[str]],
    encoded: str | None,
    stage: str | None,
    request_id: str,
) -> dict[str, Any]:
    # HTTP APIs pass cookies apart from the headers
    cookie_names = [name for name in multi if name.lower() == "cookie"]
    cookies = [c.strip() for n in cookie_names for v in multi.pop(n) for c in v.split(";")]
    raw_path = (f"/{stage}" if stage else "") + path
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {k.lower(): ",".join(v) for k, v in multi.items()},
        "requestContext": {
            "http": {
                "method": method,
                "path": unquote(raw_path),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": stage or "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": encoded,
        "isBase64Encoded": encoded is not None,
    }
    if cookies:
        event["cookies"] = cookies
    return event


def from_result(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of the handler's answer, in any family's shape."""
    headers: list[tuple[str, str]] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, value) for value in values)
    headers.extend((result.get("headers") or {}).items())
    headers.extend(("set-cookie", cookie) for cookie in result.get("cookies") or ())
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body


def serve(
    handler: Handler,
    event_format: EventFormat,
    *,
    host: str,
    port: int,
    stage: str | None = None,
) -> HTTPServer:
    """An HTTP server (not started) passing each request to ``handler`` as an event."""

    # an ALB passes a Lambda target bodies of up to 1 MB; API Gateway whatever fits the event
    body_limit = ALB_LIMIT_BYTES if event_format == "alb" else PAYLOAD_LIMIT_BYTES

    class EventHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > body_limit:
                # refused unread, as API Gateway and an ALB do; the connection cannot be reused
                self.close_connection = True
                self._too_large(length, "body", body_limit)
                return
            body = self.rfile.read(length) if length else b""
            target = self.path
            if stage:
                prefix = f"/{stage}"
                if not (target == prefix or target.startswith((prefix + "/", prefix + "?"))):
                    # API Gateway's own answer for a path outside the stage
                    self._send(
                        404, [("content-type", "application/json")], b'{"message":"Not Found"}'
                    )
                    return
                target = target[len(prefix) :] or "/"
                if target.startswith("?"):
                    target = "/" + target
            event = to_event(
                event_format, self.command, target, list(self.headers.items()), body, stage=stage
            )
            size = len(json.dumps(event, separators=(",", ":")).encode())
            if size > PAYLOAD_LIMIT_BYTES:
                self._too_large(size, "event", PAYLOAD_LIMIT_BYTES)
                return
            context = SimpleNamespace(
                function_name="skyferry-local",
                aws_request_id=str(uuid.uuid4()),
                get_remaining_time_in_millis=lambda: 30_000,
            )
            self._send(*from_result(handler(event, context)))

        def _too_large(self, size: int, what: str, limit: int) -> None:
            log.warning(
                "refused %s %s: its %s would be %d bytes, over the %d-byte limit",
                self.command,
                self.path,
                what,
                size,
                limit,
            )
            self._send(
                413, [("content-type", "application/json")], b'{"message":"Request Too Large"}'
            )

        def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.command, self.path)

    return HTTPServer((host, port), EventHandler)
