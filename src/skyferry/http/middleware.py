"""The app's outermost ASGI layer: request ids, problem+json for bodies over the size limit, and
connections that stay usable after an error."""

from __future__ import annotations

import json
import logging
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skyferry.errors import status_title
from skyferry.http.problems import PROBLEM_JSON
from skyferry.logs import request_id

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = b"x-request-id"


class EdgeMiddleware:
    """Takes the caller's X-Request-ID (or makes one), logs under it and echoes it back, turns
    Starlette's plain-text 413 into problem+json, and keeps a connection open after a 500.

    FastAPI's ``max_body_size`` (app-wide, raised per route for uploads) answers a body over the
    limit itself, outside every exception handler, in text/plain; so this wraps the whole
    middleware stack. Starlette's ServerErrorMiddleware sends the 500 problem and then re-raises
    the exception "for the server to log"; uvicorn then closes the connection without having
    said ``Connection: close``, and a client that reuses it for its next request gets a reset.
    The problem handler has logged the error already, so once a response has gone out whole
    this layer ends the request normally instead. All three jobs share one layer and one
    ``send`` wrapper because every request pays for each layer: as separate layers they cost a
    read about a twentieth of its time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = b""
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                incoming = value
                break
        if 0 < len(incoming) <= 200 and incoming.isascii() and incoming.decode().isprintable():
            rid_header = (REQUEST_ID_HEADER, incoming)
        else:
            rid_header = (REQUEST_ID_HEADER, b"%032x" % random.getrandbits(128))
        rid = rid_header[1].decode()
        rewriting_413 = False
        status = 0
        complete = False

        async def edge_send(message: Message) -> None:
            nonlocal rewriting_413, status, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", [])
                if status == 413:
                    rewriting_413 = (
                        dict(headers).get(b"content-type", b"").startswith(b"text/plain")
                    )
                    if rewriting_413:
                        return
                message["headers"] = [*headers, rid_header]
            elif rewriting_413:
                if not message.get("more_body"):
                    await _send_too_large(scope["path"], rid_header, send)
                    complete = True
                return
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                complete = True
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, edge_send)
        except Exception:
            if not complete:
                # a response cut short must end the connection: uvicorn closes it on this
                raise
            if status != 500:
                # not the 500 the problem handler sent (and logged): e.g. a background task
                # that failed after its response went out
                log.exception("error after the response was sent", extra={"path": scope["path"]})
        finally:
            request_id.reset(token)


async def _send_too_large(path: str, rid_header: tuple[bytes, bytes], send: Send) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": status_title(413),
            "status": 413,
            "detail": "the request body is larger than this endpoint accepts",
            "instance": path,
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        # the rest of the body stays unread; `skyferry serve` drains a bounded amount of it
        # before closing, so that clients which send all of it before reading still get this
        (b"connection", b"close"),
        rid_header,
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
