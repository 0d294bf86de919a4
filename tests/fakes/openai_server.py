"""A fake OpenAI-compatible chat-completions server: real HTTP on localhost, scriptable failures.

It speaks the wire format of ``POST /v1/chat/completions`` as documented at
https://platform.openai.com/docs/api-reference/chat/create and /chat/object: a
``chat.completion`` object with ``choices[0].message.content`` and ``usage``, and errors as
``{"error": {"message", "type", "param", "code"}}`` (401 for a wrong key, 400 for a bad request,
429 with ``Retry-After``, 500). Tests script what the next requests get (``script``), hold
requests open until told (``hold``), and read every request it saw (``calls``), from any thread.

Replies: a request asking for JSON (an outline) gets ``{"title", "chapters": [...]}`` with the
number of chapters it asked for; anything else gets a few paragraphs of text.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.servers import serve_in_thread

_CHAPTER = re.compile(r"Write chapter (\d+) of (\d+)")
_OUTLINE_SIZE = re.compile(r"exactly (\d+) chapters")


@dataclass(frozen=True)
class Reply:
    """A normal completion; ``content`` None means the default reply for the request."""

    content: str | None = None


@dataclass(frozen=True)
class Fail:
    """An error status with OpenAI's error body, and any headers (e.g. Retry-After)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Accept the request and answer nothing for ``seconds`` (past any client timeout)."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Malformed:
    """200 with a body that is not a chat completion."""

    body: str = "<html><body>502 Bad Gateway</body></html>"
    content_type: str = "text/html"


Behaviour = Reply | Fail | Hang | Malformed

_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


@dataclass(frozen=True)
class Call:
    """One request as received: its JSON body and headers, and when it arrived."""

    body: dict[str, Any]
    headers: dict[str, str]
    at: float

    @property
    def prompt(self) -> str:
        return str(self.body["messages"][-1]["content"])

    @property
    def chapter(self) -> int | None:
        """The chapter number a chapter request asks for; None for an outline request."""
        match = _CHAPTER.search(self.prompt)
        return int(match.group(1)) if match else None


class FakeOpenAI:
    def __init__(
        self, *, api_key: str | None = None, model: str = "fake-gpt-1", delay_seconds: float = 0
    ) -> None:
        self.api_key = api_key
        self.model = model
        self.delay_seconds = delay_seconds  # how long a normal reply takes to "generate"
        self.url = ""  # the base URL, set once serving: http://127.0.0.1:PORT/v1
        self.calls: list[Call] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: deque[Behaviour] = deque()
        self._hold: Callable[[Call], bool] | None = None
        self._held = threading.Event()
        self._release = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self.app = self._build_app()

    # -- test controls ---------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """What the next requests get, in order; after these, normal replies."""
        with self._lock:
            self._script.extend(behaviours)

    def hold(self, predicate: Callable[[Call], bool]) -> None:
        """Keep the first request matching ``predicate`` open until ``release()``."""
        self._hold = predicate

    def wait_held(self, timeout: float) -> bool:
        return self._held.wait(timeout)

    def release(self) -> None:
        self._release.set()

    def reset(self) -> None:
        """Forget calls, scripts and holds: a module-scoped server, fresh for each test."""
        with self._lock:
            self.calls.clear()
            self._script.clear()
            self.max_in_flight = self.in_flight
        self._hold = None
        self._held.clear()
        self._release.clear()

    def close(self) -> None:
        """End held and hanging requests, so the server can stop."""
        self._closing.set()
        self._release.set()

    def chapter_calls(self) -> dict[int | None, int]:
        """Requests per chapter number (None: the outline)."""
        counts: dict[int | None, int] = {}
        for call in list(self.calls):
            counts[call.chapter] = counts.get(call.chapter, 0) + 1
        return counts

    # -- the server ------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            try:
                body = json.loads(await request.body())
            except ValueError:
                return _error(400, "We could not parse the JSON body of your request.")
            if not isinstance(body, dict) or "model" not in body or not body.get("messages"):
                return _error(400, "'model' and 'messages' are required properties.")
            call = Call(body, dict(request.headers), time.time())
            with self._lock:
                self.calls.append(call)
            if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
                return _error(401, "Incorrect API key provided.")
            with self._lock:
                behaviour = self._script.popleft() if self._script else Reply()
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if self._hold is not None and self._hold(call) and not self._held.is_set():
                    self._held.set()
                    await self._wait(self._release, 120)
                return await self._answer(behaviour, call)
            finally:
                with self._lock:
                    self.in_flight -= 1

        return app

    async def _answer(self, behaviour: Behaviour, call: Call) -> Response:
        if isinstance(behaviour, Fail):
            message = f"scripted failure {behaviour.status}"
            return _error(behaviour.status, message, behaviour.headers)
        if isinstance(behaviour, Hang):
            await self._wait(self._closing, behaviour.seconds)
            return _error(504, "hung on purpose")
        if isinstance(behaviour, Malformed):
            return Response(behaviour.body, status_code=200, media_type=behaviour.content_type)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        content = behaviour.content if behaviour.content is not None else _default_reply(call)
        return JSONResponse(self._completion(content, call))

    def _completion(self, content: str, call: Call) -> dict[str, Any]:
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in call.body["messages"])
        completion_tokens = len(content.split())
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }

    async def _wait(self, event: threading.Event, seconds: float) -> None:
        # a thread waits, because tests set these events from their own thread
        await asyncio.to_thread(event.wait, seconds)


def _default_reply(call: Call) -> str:
    size = _OUTLINE_SIZE.search(call.prompt)
    if "JSON" in call.prompt and size:
        chapters = [
            {"title": f"Part {n}: A Fake Chapter", "summary": f"What chapter {n} covers."}
            for n in range(1, int(size.group(1)) + 1)
        ]
        outline = json.dumps({"title": "A Book From The Fake Server", "chapters": chapters})
        return f"```json\n{outline}\n```"  # models like to fence their JSON
    chapter = call.chapter
    return "\n\n".join(
        f"Paragraph {p} of chapter {chapter}, written by the fake server for a test."
        for p in range(1, 4)
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind, code = _ERRORS.get(status, ("server_error", None))
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


@contextmanager
def serve_fake_openai(**options: Any) -> Iterator[FakeOpenAI]:
    """Serve a ``FakeOpenAI`` on a free port; ``fake.url`` is its ``/v1`` base URL."""
    fake = FakeOpenAI(**options)
    with serve_in_thread(fake.app) as url:
        fake.url = f"{url}/v1"
        try:
            yield fake
        finally:
            fake.close()
