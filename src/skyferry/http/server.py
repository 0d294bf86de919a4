"""`skyferry serve`'s HTTP server: uvicorn, with limits on what one client may hold.

uvicorn bounds only the idle time between two requests (keep-alive). A client that sends its
headers a byte at a time, starts a body and stops, or asks for a download and never reads it,
holds a connection (and behind it a download's memory) for as long as it likes; a header block
may be any size; and when uvicorn refuses malformed framing it answers in text/plain. Here:

- the protocol (a subclass of uvicorn's httptools one) times the headers out (408), bounds
  their size and count (431), answers malformed framing with a 400 problem, and aborts a
  connection whose client has not read any of its response for ``send_timeout_seconds``;
- an ASGI layer around the app times a stalled request body out (408), and drains a bounded
  amount of an unread body before a response that closes the connection (a 413), so that
  clients which send a whole body before reading (urllib, http.client) read the answer instead
  of a connection reset.

Each limit is a ``skyferry serve`` option with a ``SKYFERRY_`` twin; ``ServerLimits`` holds them.

What stays uvicorn's own: a body larger than ``drain_body_bytes`` is refused unread, and
clients that send before they read see a reset; uvicorn's text/plain 500 (an app that fails
before it starts a response, which skyferry's edge layer never does) and 503 (``--limit-
concurrency``, not used here); and its "Invalid HTTP request received." warning in the log for
each refused request. h11, uvicorn's pure-Python fallback, is never used: its header limit is a
single buffer size, and these limits are written against httptools' callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
from http import HTTPStatus
from typing import Any, ClassVar

import uvicorn
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from skyferry.http.problems import PROBLEM_JSON

log = logging.getLogger(__name__)


class ServerLimits(BaseModel):
    """How long and how much one client may take; every field is a `skyferry serve` option."""

    model_config = ConfigDict(frozen=True)

    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest a request's line and headers may take to arrive."
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait for the next part of a request body."
    )
    send_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest a client may leave its response unread before it is cut off.",
    )
    keep_alive_seconds: int = Field(
        default=5, ge=1, description="Idle time after a response before the connection closes."
    )
    max_header_bytes: int = Field(
        default=32 * 1024, ge=1024, description="Largest request line plus headers, in bytes."
    )
    max_header_count: int = Field(
        default=100, ge=1, description="Most header fields a request may have."
    )
    drain_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Unread body read and dropped before a refusal that closes the connection.",
    )
    drain_body_seconds: float = Field(
        default=30.0, ge=0, description="Longest the server spends draining such a body."
    )


def uvicorn_config(app: ASGIApp, limits: ServerLimits, **options: Any) -> uvicorn.Config:
    """uvicorn's Config for ``app`` under ``limits``; ``options`` are uvicorn's own (host, port…).

    The protocol is always httptools (uvicorn[standard] installs it): the limits are written
    against its parser.
    """
    return uvicorn.Config(
        RequestGuard(app, limits),
        http=limited_protocol(limits),
        timeout_keep_alive=limits.keep_alive_seconds,
        **options,
    )


def run(app: ASGIApp, limits: ServerLimits, **options: Any) -> None:
    """Serve ``app`` until SIGTERM or SIGINT (uvicorn's graceful shutdown)."""
    uvicorn.Server(uvicorn_config(app, limits, **options)).run()


def limited_protocol(limits: ServerLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``limits``."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})


class _HeadersTooLarge(Exception):
    """Raised inside a parser callback: httptools then fails the request, and uvicorn calls
    ``send_400_response``, which sends the refusal recorded before."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header limits, timeouts and problem+json refusals.

    Header bytes are counted twice: exactly, field by field, in the parser's callbacks; and
    roughly, read by read, while a header block is incomplete, because httptools buffers a
    field until it ends and a single endless field would otherwise never reach a callback.
    """

    limits: ClassVar[ServerLimits] = ServerLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None
        self._in_headers = False
        self._began = False
        self._ended = False
        self._read_in_headers = 0
        self._header_bytes = 0
        self._header_count = 0
        self._refusal: tuple[int, str] | None = None

    # -- connection ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms no timer before the first request: a connection that never sends a
        # byte would stay open for good
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._began = self._ended = False
        super().data_received(data)
        # a read that ended one message (pipelining) and began the next is not counted, as
        # part of it was the message before: such a header block may grow by one read more
        if (
            self._in_headers
            and not (self._began and self._ended)
            and not self.transport.is_closing()
        ):
            self._read_in_headers += len(data)
            if self._read_in_headers > self.limits.max_header_bytes:
                self._refuse(*self._too_large())

    # -- parser callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._began = True
        self._read_in_headers = self._header_bytes = self._header_count = 0
        self._arm_header_timer()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._ended = True

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._header_count += 1
        if self._header_count > self.limits.max_header_count:
            self._refusal = (
                431,
                f"the request has more than {self.limits.max_header_count} header fields",
            )
            raise _HeadersTooLarge
        self._count_header_bytes(len(name) + len(value) + 4)  # ": " and CRLF

    def on_headers_complete(self) -> None:
        self._in_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.limits.max_header_bytes:
            self._refusal = self._too_large()
            raise _HeadersTooLarge

    def _too_large(self) -> tuple[int, str]:
        return 431, f"the request line and headers exceed {self.limits.max_header_bytes} bytes"

    # -- refusals ------------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to anything httptools cannot parse, in text/plain; here a problem.

        That covers malformed framing: a Content-Length that is not a number, two different
        ones, or one beside Transfer-Encoding (which llhttp refuses as request smuggling).
        """
        refusal, self._refusal = self._refusal, None
        self._refuse(
            *(
                refusal
                or (
                    400,
                    "the request is not valid HTTP/1.1: its request line, headers or framing "
                    "(Content-Length, Transfer-Encoding) cannot be parsed",
                )
            )
        )

    def _refuse(self, status: int, detail: str) -> None:
        """Answer with a problem and close; mid-response (pipelining) only close."""
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(
                _problem_response(status, detail, self.server_state.default_headers)
            )
        self.transport.close()

    # -- timers --------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(
            self.limits.header_timeout_seconds, self._headers_timed_out
        )

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if not self._in_headers:
            if self.cycle is None:
                self.transport.close()  # connected, never sent a byte: nothing to answer
            return
        log.warning(
            "request headers incomplete after %g s; closing the connection",
            self.limits.header_timeout_seconds,
            extra={"client": self.client},
        )
        self._refuse(
            408,
            f"the request's headers did not arrive within {self.limits.header_timeout_seconds:g} s",
        )

    def pause_writing(self) -> None:
        """The transport's buffer is full: the client has stopped reading, or reads slowly."""
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(
                self.limits.send_timeout_seconds, self._send_stalled
            )

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_stalled(self) -> None:
        self._send_timer = None
        log.warning(
            "the client read nothing of its response for %g s; aborting the connection",
            self.limits.send_timeout_seconds,
            extra={"client": self.client},
        )
        # a reset, not a close: close would wait for the unread buffer to drain, which it
        # never does, and even an abort leaves the kernel retrying that buffer against a zero
        # window for minutes unless lingering is off. Reset, uvicorn marks the request
        # disconnected, and the app's stream (a download, and the memory it holds) ends
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def _problem_response(
    status: int, detail: str, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    title = HTTPStatus(status).phrase
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    head = [f"HTTP/1.1 {status} {title}".encode()]
    head += [name + b": " + value for name, value in default_headers]
    head += [
        b"content-type: " + PROBLEM_JSON.encode(),
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class RequestGuard:
    """The ASGI side of the limits: a stalled request body, and an unread one before a close."""

    def __init__(self, app: ASGIApp, limits: ServerLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await _GuardedRequest(self.limits, scope, receive, send).run(self.app)


class _GuardedRequest:
    def __init__(self, limits: ServerLimits, scope: Scope, receive: Receive, send: Send) -> None:
        self._limits = limits
        self._scope = scope
        self._receive = receive
        self._send = send
        self._body_done = False
        self._started = False
        self._timed_out = False

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self._scope, self.receive, self.send)
        except Exception:
            if not self._timed_out:
                raise
            # the app failed on the disconnect it was given; the client has its 408 already

    async def receive(self) -> Message:
        if self._timed_out:
            return {"type": "http.disconnect"}
        if self._body_done or self._started:
            # past the body, receive only waits for a disconnect, for as long as a response
            # streams: no timeout then
            return await self._receive()
        try:
            async with asyncio.timeout(self._limits.body_timeout_seconds):
                message = await self._receive()
        except TimeoutError:
            self._timed_out = True
            log.warning(
                "no part of the request body arrived for %g s; answering 408",
                self._limits.body_timeout_seconds,
            )
            await self._refuse_slow_body()
            return {"type": "http.disconnect"}
        self._note(message)
        return message

    async def send(self, message: Message) -> None:
        if self._timed_out:
            return  # the 408 went out instead of whatever the app answers now
        if message["type"] == "http.response.start":
            self._started = True
            if not self._body_done and _closes_connection(message):
                await self._drain()
        await self._send(message)

    def _note(self, message: Message) -> None:
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self._body_done = True

    async def _drain(self) -> None:
        """Read and drop the rest of the body, within bounds, so closing resets nothing.

        A client that sends a whole body before reading (urllib, http.client, curl without
        Expect) gets a reset, and never sees the answer, when the server closes a socket that
        still holds unread data. Past the bounds the connection closes anyway.
        """
        declared = Headers(scope=self._scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self._limits.drain_body_bytes:
            return  # more than we would read: reading part of it changes nothing
        dropped = 0
        try:
            async with asyncio.timeout(self._limits.drain_body_seconds):
                while not self._body_done and dropped <= self._limits.drain_body_bytes:
                    message = await self._receive()
                    dropped += len(message.get("body", b""))
                    self._note(message)
        except TimeoutError:
            log.warning(
                "the refused request body was still arriving after %g s; closing anyway",
                self._limits.drain_body_seconds,
            )

    async def _refuse_slow_body(self) -> None:
        if self._started:
            return
        seconds = self._limits.body_timeout_seconds
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Request Timeout",
                "status": 408,
                "detail": f"no part of the request body arrived for {seconds:g} s",
                "instance": self._scope["path"],
            }
        ).encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await self._send({"type": "http.response.start", "status": 408, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})


def _closes_connection(message: Message) -> bool:
    for name, value in message.get("headers", []):
        if name.lower() == b"connection" and b"close" in value.lower():
            return True
    return False
