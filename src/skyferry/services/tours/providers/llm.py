"""The model filter: a language model picks and ranks a city's attractions, as JSON.

Two transports, one prompt and one check:

- ``openai``: any OpenAI-compatible ``POST {base}/chat/completions`` with
  ``response_format: {"type": "json_schema", ...}``; the answer is
  ``choices[0].message.content``.
- ``perplexity``: Perplexity's Agent API, ``POST {base}/v1/agent`` (its Sonar chat-completions
  API was retired on 2026-09-27), with ``response_format: {"type": "json_schema",
  "json_schema": {"name", "schema"}}``; the answer is the ``output_text`` part of the
  ``message`` item in ``output``.

The answer is validated with pydantic: ids the model made up are dropped, scores and visit
times must be in range. An answer that is not valid JSON of that shape is asked for again, up
to ``max_attempts`` in all, like a 429 or a 5xx. Attractions the model left out are not
visited; if it kept none the job fails rather than make empty tours.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel, Field, ValidationError

from skyferry.http.retry_after import retry_after_seconds
from skyferry.http.tls import tls_context
from skyferry.services.tours.errors import ProviderError
from skyferry.services.tours.models import Attraction, City, Ranked
from skyferry.services.tours.providers.http import (
    RETRYABLE_STATUS,
    post_json,
    with_retries,
)
from skyferry.services.tours.providers.ranker import visit_minutes
from skyferry.services.tours.settings import ToursSettings

SCHEMA_NAME = "ranked_attractions"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "attractions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "place_id": {"type": "string"},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                    "visit_minutes": {"type": "integer", "minimum": 5, "maximum": 480},
                    "reason": {"type": "string"},
                },
                "required": ["place_id", "score", "visit_minutes", "reason"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["attractions"],
    "additionalProperties": False,
}
INSTRUCTIONS = (
    "You plan walking tours for visitors. From the candidate places given as JSON lines, keep "
    "the ones a first-time visitor should see, at most {keep}, and leave out anything that is "
    "not a sight (hotels, shops, offices, transport). Score each from 0 to 1 (1 = unmissable), "
    "estimate a typical visit in minutes, and give a one-line reason{language}. Answer only "
    "with JSON matching the schema, using the place_id values exactly as given."
)


class _Choice(BaseModel):
    place_id: str = Field(min_length=1, max_length=300)
    score: float = Field(ge=0, le=1)
    visit_minutes: int = Field(ge=5, le=480)
    reason: str = Field(default="", max_length=2000)


class _Answer(BaseModel):
    attractions: list[_Choice]


def prompt(
    city: City, attractions: list[Attraction], keep: int, language: str | None
) -> tuple[str, str]:
    """The instructions and the input: one compact JSON line per candidate."""
    lines = [
        json.dumps(
            {
                "place_id": a.place_id,
                "name": a.name,
                "types": a.types[:5],
                "rating": a.rating,
                "reviews": a.review_count,
            },
            ensure_ascii=False,
        )
        for a in attractions
    ]
    said = f" in the language {language}" if language else ""
    instructions = INSTRUCTIONS.format(keep=keep, language=said)
    return instructions, f"City: {city.name} ({city.address or ''})\n" + "\n".join(lines)


def parse(text: str, attractions: list[Attraction], keep: int) -> list[Ranked]:
    """The model's answer as ranked attractions; a malformed answer is a retryable error."""
    try:
        answer = _Answer.model_validate_json(text)
    except ValidationError as exc:
        raise ProviderError(
            f"the model's answer does not match the schema ({exc.error_count()} errors)",
            retryable=True,
        ) from None
    by_id = {a.place_id: a for a in attractions}
    ranked: dict[str, Ranked] = {}
    for choice in answer.attractions:
        attraction = by_id.get(choice.place_id)
        if attraction is None or choice.place_id in ranked:
            continue  # made up, or named twice
        ranked[choice.place_id] = Ranked(
            attraction=attraction,
            score=choice.score,
            visit_minutes=choice.visit_minutes or visit_minutes(attraction),
            reason=choice.reason[:500] or None,
        )
    if not ranked:
        raise ProviderError("the model kept none of the candidate attractions", retryable=True)
    return sorted(ranked.values(), key=lambda r: (-r.score, r.attraction.place_id))[:keep]


class LlmFilter:
    """The filter provider for ``filter_provider=openai`` or ``perplexity``."""

    def __init__(self, settings: ToursSettings) -> None:
        self.settings = settings
        self.name: str = settings.filter_provider
        if self.name == "perplexity":
            key, self.url, self.model = (
                settings.perplexity_api_key,
                f"{settings.perplexity_base_url}/v1/agent",
                settings.perplexity_model,
            )
        else:
            key, self.url, self.model = (
                settings.openai_api_key,
                f"{settings.openai_base_url}/chat/completions",
                settings.openai_model,
            )
        self._headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        self._client = httpx.AsyncClient(
            timeout=settings.request_timeout_seconds, verify=tls_context()
        )

    async def rank(
        self, city: City, attractions: list[Attraction], *, keep: int, language: str | None
    ) -> list[Ranked]:
        if not attractions:
            return []
        instructions, text = prompt(city, attractions, keep, language)
        body = self._body(instructions, text)

        async def ask() -> list[Ranked]:
            return parse(await self._ask(body), attractions, keep)

        return await with_retries(self.settings, ask)

    def _body(self, instructions: str, text: str) -> dict[str, Any]:
        schema = {"name": SCHEMA_NAME, "schema": SCHEMA}
        if self.name == "perplexity":
            return {
                "model": self.model,
                "instructions": instructions,
                "input": text,
                "response_format": {"type": "json_schema", "json_schema": schema},
            }
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": instructions},
                {"role": "user", "content": text},
            ],
            "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {**schema, "strict": True}},
        }

    async def _ask(self, body: dict[str, Any]) -> str:
        who = f"the {self.name} filter"
        response = await post_json(self._client, self.url, body, self._headers, who=who)
        if response.status_code >= 400:
            raise ProviderError(
                f"{who} answered {response.status_code}: {_error_message(response)}",
                retryable=response.status_code in RETRYABLE_STATUS,
                http_status=response.status_code,
                retry_after=retry_after_seconds(response.headers),
            )
        try:
            payload = response.json()
        except ValueError:
            raise ProviderError(
                f"{who} answered something that is not JSON", retryable=True
            ) from None
        text = _perplexity_text(payload) if self.name == "perplexity" else _openai_text(payload)
        if text is None:
            raise ProviderError(f"{who} answered without any text", retryable=True)
        return text

    async def __aenter__(self) -> LlmFilter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()


def _openai_text(payload: Any) -> str | None:
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def _perplexity_text(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    parts = [
        part.get("text", "")
        for item in payload.get("output") or []
        if isinstance(item, dict) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
    ]
    return "".join(parts) or None


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return str(error.get("message", ""))[:300] if isinstance(error, dict) else str(error)[:300]
    except (ValueError, AttributeError):
        return response.text[:200]
