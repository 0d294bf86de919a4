"""What the real providers share: one httpx client per provider, and retries with back-off.

Worth retrying: 408, 409, 429 and 5xx answers, timeouts and broken connections, waiting
``retry_initial_seconds`` doubling up to ``retry_max_wait_seconds`` (or what ``Retry-After``
says), ``max_attempts`` tries in all. Anything else fails at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from skyferry.services.tours.errors import ProviderError
from skyferry.services.tours.settings import ToursSettings

T = TypeVar("T")

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


def retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


def _wait(settings: ToursSettings) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential(
        multiplier=settings.retry_initial_seconds, max=settings.retry_max_wait_seconds
    )

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ProviderError) and error.retry_after is not None:
            return min(error.retry_after, settings.retry_max_wait_seconds)
        return float(backoff(state))

    return wait


async def with_retries(settings: ToursSettings, call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, tried again while it fails with a retryable ``ProviderError``."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(retryable),
        wait=_wait(settings),
        stop=stop_after_attempt(settings.max_attempts),
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("tenacity ends with a result or the last error")  # pragma: no cover


async def post_json(
    client: httpx.AsyncClient, url: str, body: object, headers: dict[str, str], *, who: str
) -> httpx.Response:
    """POST ``body``; transport failures become retryable ``ProviderError``s."""
    try:
        return await client.post(url, json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise ProviderError(f"{who} timed out ({type(exc).__name__})", retryable=True) from None
    except httpx.TransportError as exc:
        raise ProviderError(f"{who} unreachable ({type(exc).__name__})", retryable=True) from None
