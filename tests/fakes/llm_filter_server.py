"""A fake model API for the tours filter: OpenAI chat completions and Perplexity's Agent API.

``POST /v1/chat/completions`` answers a ``chat.completion`` (https://platform.openai.com/docs/
api-reference/chat/object) and ``POST /v1/agent`` a Perplexity Agent API ``response``
(https://docs.perplexity.ai/api-reference: ``output`` items of type ``message`` whose
``content`` holds ``output_text`` parts). Both want a bearer key, and both need
``response_format`` of type ``json_schema`` here, since the filter always asks for one. The
reply ranks the candidate places found as JSON lines in the prompt: those rated 4.0 or more,
scored by rating. Errors are ``{"error": {"message", "type", "code"}}``.

Tests script what the next answers are (``script``: an error status, or text that is not the
JSON asked for), hold the first request open until told (``hold``/``release``), and count
requests (``calls``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.servers import serve_in_thread


@dataclass(frozen=True)
class Fail:
    status: int
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Garbled:
    """A 200 whose text is not the JSON the schema asks for."""

    text: str = "Sure! Here are the best sights: the old bridge, the museum..."


Behaviour = Fail | Garbled


class FakeModelApi:
    def __init__(self, *, api_key: str, delay_seconds: float = 0) -> None:
        self.api_key = api_key
        self.delay_seconds = delay_seconds  # how long an answer takes to "think"
        self.url = ""  # http://127.0.0.1:PORT once serving
        self.calls: list[dict[str, Any]] = []
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._hold = False
        self.held = threading.Event()
        self._release = threading.Event()
        self.app = self._build_app()

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def hold(self) -> None:
        """Keep the next request open until ``release()``."""
        self._hold = True

    def release(self) -> None:
        self._release.set()

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            return await self._answer(request, "openai")

        @app.post("/v1/agent")
        async def agent(request: Request) -> Response:
            return await self._answer(request, "perplexity")

        return app

    async def _answer(self, request: Request, api: str) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        with self._lock:
            self.calls.append(body)
            behaviour = self._script.popleft() if self._script else None
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Invalid API key provided.")
        if (body.get("response_format") or {}).get("type") != "json_schema":
            return _error(400, "response_format.type must be json_schema here")
        if self._hold and not self.held.is_set():
            self.held.set()
            await asyncio.to_thread(self._release.wait, 120)
        if isinstance(behaviour, Fail):
            return _error(behaviour.status, "scripted failure", dict(behaviour.headers))
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        prompt = _prompt(body, api)
        text = behaviour.text if isinstance(behaviour, Garbled) else json.dumps(_rank(prompt))
        model = str(body.get("model", "fake-model"))
        return JSONResponse(_completion(text, model) if api == "openai" else _response(text, model))


def _prompt(body: dict[str, Any], api: str) -> str:
    if api == "openai":
        return str(body["messages"][-1]["content"])
    value = body.get("input", "")
    return value if isinstance(value, str) else json.dumps(value)


def _rank(prompt: str) -> dict[str, Any]:
    kept = []
    for line in prompt.splitlines():
        if not line.startswith("{"):
            continue
        place = json.loads(line)
        rating = place.get("rating") or 0
        if rating >= 4.0:
            kept.append(
                {
                    "place_id": place["place_id"],
                    "score": round(rating / 5, 3),
                    "visit_minutes": 45 if "museum" in place.get("types", []) else 20,
                    "reason": f"rated {rating} by {place.get('reviews', 0)} visitors",
                }
            )
    return {"attractions": kept}


def _completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


def _response(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "resp-fake",
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg-fake",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150},
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}},
        status_code=status,
        headers=headers,
    )


@contextmanager
def serve_fake_model_api(api_key: str, **options: Any) -> Iterator[FakeModelApi]:
    fake = FakeModelApi(api_key=api_key, **options)
    with serve_in_thread(fake.app) as url:
        fake.url = url
        try:
            yield fake
        finally:
            fake.release()


__all__ = ["Fail", "FakeModelApi", "Garbled", "serve_fake_model_api"]
