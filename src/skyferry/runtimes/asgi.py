"""One HTTP request through an ASGI app, buffered: what a Lambda invocation needs.

Lambda hands over a whole request and takes back a whole response, so the app's body is
collected in memory; the app sees a client that sent everything at once and stays connected
until the response is complete.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Scope


@dataclass
class AsgiResponse:
    """What the app answered: status, headers in order (repeats kept), the whole body."""

    status: int = 500
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


async def call(app: ASGIApp, scope: Scope, body: bytes) -> AsgiResponse:
    """Run ``app`` on one request and collect its answer."""
    response = AsgiResponse()
    chunks: list[bytes] = []
    sent_request = False
    finished = asyncio.Event()

    async def receive() -> Message:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": body, "more_body": False}
        # the client stays until the answer is complete, then is gone
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = [
                (key.decode("latin-1"), value.decode("latin-1"))
                for key, value in message.get("headers", [])
            ]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    response.body = b"".join(chunks)
    return response
