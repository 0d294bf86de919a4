"""The app's outermost ASGI layer: request ids, and problem+json for bodies over the size limit."""

from __future__ import annotations

import json
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyferry.http.problems import PROBLEM_JSON
from skyferry.logs import request_id

REQUEST_ID_HEADER = b"x-request-id"


class EdgeMiddleware:
    """Takes the caller's X-Request-ID (or makes one), logs under it and echoes it back, and
    turns Starlette's plain-text 413 into problem+json.

    FastAPI's ``max_body_size`` (app-wide, raised per route for uploads) answers a body over the
    limit itself, outside every exception handler, in text/plain; so this wraps the whole
    middleware stack. Both jobs share one layer and one ``send`` wrapper because every request
    pays for each layer: as two they cost a read about a twentieth of its time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == REQUEST_ID_HEADER
            ),
            "",
        )
        rid = (
            incoming
            if 0 < len(incoming) <= 200 and incoming.isprintable()
            else f"{random.getrandbits(128):032x}"
        )
        rid_header = (REQUEST_ID_HEADER, rid.encode())
        rewriting_413 = False

        async def edge_send(message: Message) -> None:
            nonlocal rewriting_413
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if message["status"] == 413:
                    rewriting_413 = (
                        dict(headers).get(b"content-type", b"").startswith(b"text/plain")
                    )
                    if rewriting_413:
                        return
                message["headers"] = [*headers, rid_header]
            elif rewriting_413:
                if not message.get("more_body"):
                    await _send_too_large(scope["path"], rid_header, send)
                return
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, edge_send)
        finally:
            request_id.reset(token)


async def _send_too_large(path: str, rid_header: tuple[bytes, bytes], send: Send) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Content Too Large",
            "status": 413,
            "detail": "the request body is larger than this endpoint accepts",
            "instance": path,
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        rid_header,
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
