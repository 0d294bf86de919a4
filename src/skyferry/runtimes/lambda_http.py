"""HTTP events Lambda receives, as ASGI requests, and the answers each event family expects.

Three families reach a function with an HTTP request in them, each with its own quirks:

- ``rest``: API Gateway REST APIs (payload 1.0, also HTTP APIs set to 1.0). ``path`` is the
  route without the stage on the execute-api domain (``requestContext.path`` has it), may lack
  its leading ``/``; ``multiValueHeaders`` and ``multiValueQueryStringParameters`` carry repeats.
- ``http``: API Gateway HTTP APIs (payload 2.0) and Function URLs. ``rawPath`` is the path as
  sent, with a named stage in front (``/dev/…``); repeated headers arrive joined with ``,``
  (as HTTP allows) and cookies in a list of their own; answers carry ``cookies`` too.
- ``alb``: Application Load Balancer targets. The query string is passed on undecoded;
  ``multiValueHeaders`` is used (both ways) when the target group enables it; answers need a
  ``statusDescription``.

A stage or a custom domain's base path is stripped for routing and kept as the ASGI
``root_path``, so the app routes as under uvicorn and the URLs it builds point inside the API.
Lambda@Edge (CloudFront) events are refused: their size limits (1 MB, 40 KB for viewer
events) and header rules fit no API.

Why not Mangum, which served here before: what the Lambda issue found wrong (routes only at
the root path, with no stage or base path as ``root_path``; repeated headers joined into one;
a content type invented for bodyless answers; an exception for a body flagged base64 that is
not) was its request and response mapping, which is all it does; fixing each around it would
have rewritten that mapping anyway. This module is that mapping, tested on real payloads
against the same requests under uvicorn (``tests/integration/test_lambda_http.py``). Mangum
stays as ``bench/lambda.py``'s baseline.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import quote, unquote, urlencode

from skyferry.runtimes.asgi import AsgiResponse

Family = Literal["rest", "http", "alb"]

PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
"""Lambda's limit on a synchronous invocation's event and on its response, each a whole JSON
document: API Gateway answers 413 for a request whose event would be larger, and never
invokes the function."""

ALB_LIMIT_BYTES = 1024 * 1024
"""An ALB's own, lower limits for a Lambda target: the request body, and the response JSON."""


def payload_limit(family: Family) -> int:
    """The largest answer, as a JSON document, that reaches the client through ``family``."""
    return ALB_LIMIT_BYTES if family == "alb" else PAYLOAD_LIMIT_BYTES


_TEXT_TYPES = (
    "application/json",
    "application/problem+json",
    "application/x-ndjson",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "image/svg+xml",
)


class InvalidBody(ValueError):
    """The event flags its body base64 but the body is not base64: the client's fault.

    ``request`` is the rest of the request, so the answer can take its event family's shape.
    """

    def __init__(self, request: HttpRequest) -> None:
        super().__init__("the request body is flagged base64 but is not valid base64")
        self.request = request


@dataclass(frozen=True)
class HttpRequest:
    """One request from an HTTP event, in ASGI's terms."""

    family: Family
    method: str
    path: str
    """The route path (decoded), without the root path."""
    root_path: str
    query_string: bytes
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str | None
    request_id: str | None
    multi_value: bool
    """Answer with ``multiValueHeaders`` (REST always; ALB when the request came so)."""
    raw_path: str | None = None
    """The path as sent, still encoded (``%2F`` stays apart from ``/``), when the event has it."""

    def scope(self) -> dict[str, Any]:
        """The ASGI HTTP scope; ``path`` includes ``root_path``, as uvicorn sets it."""
        full_path = self.root_path + self.path
        scheme = self._header("x-forwarded-proto") or "https"
        host, _, port = (self._header("host") or "lambda").partition(":")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": scheme,
            "path": full_path,
            "raw_path": (self.raw_path or quote(full_path, safe="/:@!$&'()*+,;=~")).encode(),
            "root_path": self.root_path,
            "query_string": self.query_string,
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in self.headers
            ],
            "client": (self.source_ip, 0) if self.source_ip else None,
            "server": (host, int(port) if port.isdigit() else (443 if scheme == "https" else 80)),
            "state": {},
        }

    def _header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def family_of(event: Mapping[str, Any]) -> Family | Literal["edge"] | None:
    """Which HTTP event family ``event`` is, or None when it is no HTTP event."""
    context = event.get("requestContext")
    if isinstance(context, Mapping) and "elb" in context:
        return "alb"
    if event.get("version") == "2.0" and "rawPath" in event:
        return "http"
    if "httpMethod" in event and isinstance(context, Mapping):
        return "rest"
    records = event.get("Records")
    if (
        isinstance(records, list)
        and records
        and isinstance(records[0], Mapping)
        and ("cf" in records[0])
    ):
        return "edge"
    return None


def parse(
    event: Mapping[str, Any],
    family: Family,
    *,
    base_path: str = "",
    invocation_id: str | None = None,
) -> HttpRequest:
    """The request in an HTTP event; raises ``InvalidBody`` for a body that is not base64.

    Unless the caller sent an ``X-Request-ID``, the request gets the event's request id (API
    Gateway's, which its own logs and ``x-amzn-RequestId`` show) or ``invocation_id``.
    """
    context: Mapping[str, Any] = event.get("requestContext") or {}
    if family == "http":
        http = context.get("http") or {}
        method = str(http.get("method", "GET"))
        sent = str(event.get("rawPath") or http.get("path") or "/")
        raw_path: str | None = sent
        path = unquote(sent)
        query = str(event.get("rawQueryString") or "").encode()
        headers = [(str(k), str(v)) for k, v in (event.get("headers") or {}).items()]
        if event.get("cookies"):
            headers.append(("cookie", "; ".join(event["cookies"])))
        source_ip = http.get("sourceIp")
        multi_value = False
    else:
        method = str(event.get("httpMethod", "GET"))
        raw_path = None  # REST and ALB events carry the path decoded
        path = str(event.get("path") or "/")
        headers = _headers_of(event)
        query = _query_of(event, decoded=family == "rest")
        source_ip = (context.get("identity") or {}).get("sourceIp")
        multi_value = family == "rest" or event.get("multiValueHeaders") is not None
    if not path.startswith("/"):
        path = "/" + path
        raw_path = None
    root_path = ""
    stage = context.get("stage")
    if stage and stage != "$default":
        prefix = f"/{stage}"
        if path == prefix or path.startswith(prefix + "/"):
            path, root_path = path[len(prefix) :] or "/", prefix
        elif family == "rest" and context.get("path") == prefix + path:
            root_path = prefix  # the execute-api domain: the stage is in the URL, not in path
    base = base_path.rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path, root_path = path[len(base) :] or "/", root_path + base
    request_id = context.get("requestId") or invocation_id
    if request_id and not any(name.lower() == "x-request-id" for name, _ in headers):
        headers.append(("x-request-id", str(request_id)))
    try:
        body, invalid = _body_of(event), None
    except (binascii.Error, ValueError) as exc:
        body, invalid = b"", exc
    request = HttpRequest(
        family=family,
        method=method.upper(),
        path=path,
        root_path=root_path,
        query_string=query,
        headers=headers,
        body=body,
        source_ip=str(source_ip).split("/")[0] if source_ip else None,
        request_id=request_id,
        multi_value=multi_value,
        raw_path=raw_path,
    )
    if invalid is not None:
        raise InvalidBody(request) from invalid
    return request


def _headers_of(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    multi = event.get("multiValueHeaders")
    if multi:
        return [(str(k), str(v)) for k, values in multi.items() for v in values or ()]
    return [(str(k), str(v)) for k, v in (event.get("headers") or {}).items()]


def _query_of(event: Mapping[str, Any], *, decoded: bool) -> bytes:
    params: Mapping[str, Any] = event.get("multiValueQueryStringParameters") or {
        k: [v] for k, v in (event.get("queryStringParameters") or {}).items()
    }
    pairs = [(str(k), str(v)) for k, values in params.items() for v in values or ()]
    if decoded:  # API Gateway decodes the query; encode it again
        return urlencode(pairs).encode()
    return "&".join(f"{k}={v}" for k, v in pairs).encode()  # ALB passes it on as sent


def _body_of(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if not body:
        return b""
    if not event.get("isBase64Encoded"):
        return str(body).encode()
    return base64.b64decode(str(body), validate=True)


def answer(request: HttpRequest, response: AsgiResponse) -> dict[str, Any]:
    """The app's answer in the shape the request's event family expects."""
    headers = [_with_root(request.root_path, k, v) for k, v in response.headers]
    body, encoded = _encode_body(response)
    result: dict[str, Any] = {"statusCode": response.status}
    if request.family == "http":
        cookies = [v for k, v in headers if k.lower() == "set-cookie"]
        joined: dict[str, str] = {}
        for key, value in headers:
            if key.lower() != "set-cookie":
                name = key.lower()
                joined[name] = f"{joined[name]}, {value}" if name in joined else value
        result["headers"] = joined
        if cookies:
            result["cookies"] = cookies
    elif request.multi_value:
        multi: dict[str, list[str]] = {}
        for key, value in headers:
            multi.setdefault(key.lower(), []).append(value)
        result["multiValueHeaders"] = multi
    else:  # ALB without multi-value headers: one value a name; a repeated Set-Cookie is lost
        result["headers"] = {k.lower(): v for k, v in headers}
    if request.family == "alb":
        result["statusDescription"] = _status_description(response.status)
    result["body"] = body
    result["isBase64Encoded"] = encoded
    return result


def problem(request: HttpRequest | None, status: int, detail: str, **extra: Any) -> AsgiResponse:
    """A problem+json answer made here, for what never reaches the app."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = [("content-type", "application/problem+json")]
    if request is not None and request.request_id:
        headers.append(("x-request-id", request.request_id))
    return AsgiResponse(status=status, headers=headers, body=json.dumps(body).encode())


def over_payload_limit(result: Mapping[str, Any], body_bytes: int, limit: int) -> bool:
    """Whether ``result``, as Lambda sends it on (a JSON document), is over ``limit``.

    Serialising every answer again to count it would cost each event a tenth of its time;
    base64 makes a body at most 4/3 larger, so only a body near the limit is counted.
    """
    if body_bytes * 4 // 3 + 64 * 1024 < limit:
        return False
    return len(json.dumps(result, separators=(",", ":")).encode()) > limit


def _with_root(root_path: str, key: str, value: str) -> tuple[str, str]:
    # the app answers `Location: /jobs/1` as under uvicorn without a root path; behind a stage
    # that has to be /dev/jobs/1, or the client leaves the API
    if (
        root_path
        and key.lower() == "location"
        and value.startswith("/")
        and not value.startswith("//")
        and not (value == root_path or value.startswith(root_path + "/"))
    ):
        return key, root_path + value
    return key, value


def _encode_body(response: AsgiResponse) -> tuple[str, bool]:
    if not response.body:
        return "", False
    content_type = (response.header("content-type") or "").split(";")[0].strip().lower()
    textual = content_type.startswith("text/") or content_type in _TEXT_TYPES
    if textual and not response.header("content-encoding"):
        try:
            return response.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(response.body).decode(), True


def _status_description(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
