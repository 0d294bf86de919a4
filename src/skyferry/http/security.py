"""API keys: with ``SKYFERRY_API_KEYS`` set, every route asks for an ``X-API-Key`` header.

Guarded at the ASGI layer, so every route is covered whoever declared it (the core, a service,
a team's own app) without each remembering a dependency; only ``/health`` and ``/ready`` (and
the API docs unless ``SKYFERRY_API_KEYS_GUARD_DOCS`` is set) stay open, and GET or HEAD of the
web pages services declare (``Service.pages``): a browser opening a page cannot send a header,
and a page holds no data until its script calls the API, with a key. With no keys configured
every request passes, which is what a laptop wants.

Keys are compared in constant time against every configured key and never logged or echoed; a
client is known by a fingerprint of its key (``client_id``). Wrong keys are throttled per
client address: after ``FAILURES_ALLOWED`` failures in a minute the address gets 429 until the
minute is over, so a key cannot be guessed at line rate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Sequence

from pydantic import SecretStr
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from skyferry.http.problems import PROBLEM_JSON, problem_body

API_KEY_HEADER = "X-API-Key"
_HEADER = API_KEY_HEADER.lower().encode()
CHALLENGE = f'ApiKey header="{API_KEY_HEADER}"'
OPEN_PATHS = frozenset({"/health", "/ready"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
FAILURES_ALLOWED = 20
FAILURE_WINDOW_SECONDS = 60.0
_STATE_KEY = "skyferry_client"


class ApiKeyGuard:
    """ASGI middleware: refuse (401) requests without a configured key, throttle (429) guessing."""

    def __init__(
        self,
        app: ASGIApp,
        keys: Sequence[SecretStr],
        *,
        guard_docs: bool = False,
        pages: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._keys = [key.get_secret_value().encode("utf-8") for key in keys]
        self._open = OPEN_PATHS if guard_docs else OPEN_PATHS | DOCS_PATHS
        self._pages = frozenset(pages)
        self._page_folders = tuple(f"{prefix}/" for prefix in pages)
        self._failures: dict[str, tuple[float, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._keys:
            await self.app(scope, receive, send)
            return
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        if path in self._open or scope["method"] == "OPTIONS" or self._is_page(scope, path):
            await self.app(scope, receive, send)
            return
        address = _address(scope)
        retry_after = self._throttled(address)
        if retry_after:
            await _refuse(
                send,
                scope,
                429,
                "Too many failed API key attempts",
                f"too many wrong API keys from this address; retry in {retry_after} s",
                {"Retry-After": str(retry_after)},
            )
            return
        presented = next((v for k, v in scope["headers"] if k == _HEADER), None)
        if presented is None:
            await _refuse(
                send,
                scope,
                401,
                "API key required",
                f"this API needs an {API_KEY_HEADER} header",
                {"WWW-Authenticate": CHALLENGE},
            )
            return
        # compare against every key, so the time taken says nothing about which one came close
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(presented, key)
        if not matched:
            self._fail(address)
            await _refuse(
                send,
                scope,
                401,
                "Invalid API key",
                f"the {API_KEY_HEADER} header does not hold a valid key",
                {"WWW-Authenticate": CHALLENGE},
            )
            return
        scope.setdefault("state", {})[_STATE_KEY] = fingerprint(presented)
        await self.app(scope, receive, send)

    def _is_page(self, scope: Scope, path: str) -> bool:
        if scope["method"] not in ("GET", "HEAD"):
            return False
        return path in self._pages or path.startswith(self._page_folders)

    def _throttled(self, address: str) -> int:
        started, count = self._failures.get(address, (0.0, 0))
        remaining = started + FAILURE_WINDOW_SECONDS - time.monotonic()
        if remaining <= 0:
            self._failures.pop(address, None)
            return 0
        return math.ceil(remaining) if count >= FAILURES_ALLOWED else 0

    def _fail(self, address: str) -> None:
        now = time.monotonic()
        started, count = self._failures.get(address, (now, 0))
        if now - started > FAILURE_WINDOW_SECONDS:
            started, count = now, 0
        self._failures[address] = (started, count + 1)
        if len(self._failures) > 100_000:  # bounded memory under a spray of addresses
            self._failures.clear()


def client_id(connection: HTTPConnection) -> str:
    """Who is calling: the fingerprint of a valid API key, else the client's address."""
    known = connection.scope.get("state", {}).get(_STATE_KEY)
    if isinstance(known, str):
        return known
    return f"ip:{_address(connection.scope)}"


def fingerprint(key: str | bytes) -> str:
    """A short, stable name for a key that does not reveal it, e.g. for rate-limit buckets."""
    raw = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else key
    return f"key:{hashlib.sha256(raw).hexdigest()[:16]}"


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _refuse(
    send: Send, scope: Scope, status: int, title: str, detail: str, headers: dict[str, str]
) -> None:
    body = json.dumps(problem_body(status, detail, title=title, instance=scope["path"])).encode()
    raw = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
