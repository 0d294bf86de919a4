"""The ``openai`` provider: any OpenAI-compatible ``POST {base_url}/chat/completions``.

Only ``model`` and ``messages`` are sent, which every compatible server (OpenAI, Azure's v1 API,
vLLM, llama.cpp, Ollama, LiteLLM...) accepts. Each request is bounded by
``request_timeout_seconds`` as a whole, not only per socket read. Retries (tenacity) take 408,
409, 429, 5xx, timeouts, dropped connections and malformed bodies, up to ``max_attempts`` tries:
waiting what ``Retry-After`` (or OpenAI's ``retry-after-ms``) says when the server says it, else
exponential backoff with jitter, never longer than ``retry_max_wait_seconds``. Other 4xx (a bad
key, an unknown model) fail at once. The API key goes into the Authorization header and nowhere
else: not into messages, logs or errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from skyferry import __version__
from skyferry.http.retry_after import retry_after_seconds
from skyferry.http.tls import tls_context
from skyferry.services.books.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from skyferry.services.books.models import BookRequest
from skyferry.services.books.providers import Outline, Text, prompts
from skyferry.services.books.settings import BooksSettings

log = logging.getLogger(__name__)

_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_DETAIL_CHARS = 300


class OpenAIProvider:
    name = "openai"

    def __init__(self, settings: BooksSettings) -> None:
        self.settings = settings
        self.url = f"{settings.openai_base_url}/chat/completions"
        self._client: httpx.AsyncClient | None = None
        self._backoff = wait_exponential_jitter(
            multiplier=settings.retry_initial_seconds or 0.001,
            max=settings.retry_max_wait_seconds,
            jitter=settings.retry_initial_seconds,
        )

    async def __aenter__(self) -> OpenAIProvider:
        headers = {"User-Agent": f"skyferry/{__version__}", "Accept": "application/json"}
        if self.settings.openai_api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.openai_api_key.get_secret_value()}"
        self._client = httpx.AsyncClient(
            headers=headers, timeout=self.settings.request_timeout_seconds, verify=tls_context()
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def outline(self, request: BookRequest) -> Outline:
        answer = await self.complete(prompts.outline_messages(request))
        return prompts.parse_outline(answer.text, request, answer.model)

    async def chapter(self, request: BookRequest, outline: Outline, number: int) -> Text:
        messages = prompts.chapter_messages(request, outline, number)
        return await self.complete(messages, clean=prompts.clean_chapter)

    async def complete(
        self, messages: list[dict[str, str]], *, clean: Callable[[str], str] | None = None
    ) -> Text:
        """One chat completion, retried as the module docstring says."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, ProviderError) and exc.retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        answer: Text = await retrying(self._attempt, messages, clean)
        return answer

    async def _attempt(
        self, messages: list[dict[str, str]], clean: Callable[[str], str] | None
    ) -> Text:
        if self._client is None:
            raise RuntimeError("use the provider as `async with OpenAIProvider(...)`")
        payload = {"model": self.settings.openai_model, "messages": messages}
        seconds = self.settings.request_timeout_seconds
        try:
            async with asyncio.timeout(seconds):
                response = await self._client.post(self.url, json=payload)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderTimeoutError(f"{self.url} did not answer within {seconds:g} s") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"cannot reach {self.url}: {type(exc).__name__}", retryable=True
            ) from exc
        if response.status_code >= 400:
            raise self._http_error(response)
        text = self._completion(response)
        if clean is not None:
            text = Text(text=clean(text.text), model=text.model)
            if not text.text:
                raise ProviderResponseError(f"{self.url} answered with only a heading, no text")
        return text

    def _completion(self, response: httpx.Response) -> Text:
        try:
            data = response.json()
        except ValueError:
            raise ProviderResponseError(
                f"{self.url} answered {response.status_code} with a body that is not JSON: "
                f"{_snippet(response.text)!r}"
            ) from None
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ProviderResponseError(
                f"{self.url} answered JSON without choices[0].message.content: "
                f"{_snippet(response.text)!r}"
            ) from None
        if not isinstance(content, str) or not content.strip():
            raise ProviderResponseError(f"{self.url} answered a chat completion with no text")
        model = data.get("model") if isinstance(data, dict) else None
        return Text(text=content, model=model if isinstance(model, str) and model else self.model)

    @property
    def model(self) -> str:
        return self.settings.openai_model

    def _http_error(self, response: httpx.Response) -> ProviderHTTPError:
        status = response.status_code
        retryable = status in _RETRYABLE_STATUSES or status >= 500
        return ProviderHTTPError(
            f"{self.url} answered {status} {response.reason_phrase}: {_error_detail(response)}",
            status=status,
            retry_after=retry_after(response.headers) if retryable else None,
            retryable=retryable,
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ProviderHTTPError) and error.retry_after is not None:
            return min(error.retry_after, self.settings.retry_max_wait_seconds)
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "provider call failed; trying again",
            extra={
                "error": str(error),
                "attempt": state.attempt_number,
                "wait_seconds": round(state.upcoming_sleep, 3),
            },
        )


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asks to wait: OpenAI's ``retry-after-ms``, else ``Retry-After``."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    return retry_after_seconds(headers)


def _error_detail(response: httpx.Response) -> str:
    """OpenAI's ``{"error": {"message": ...}}`` when the server sends it, else the body's start."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return _snippet(response.text) or "no details"
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return _snippet(error["message"])
    if isinstance(error, str):
        return _snippet(error)
    return _snippet(response.text) or "no details"


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS] + "…"
