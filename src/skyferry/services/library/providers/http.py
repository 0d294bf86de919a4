"""One GET of a book API's JSON, within its shared rate, retried the way its errors ask.

429 and 5xx, timeouts and bodies that are not JSON are tried again after ``Retry-After`` (when
the API sends one) or an exponential backoff; every try waits for a turn of the provider's
``SharedRate`` first, so retries never break the limit either. 404 is an answer ("unknown"),
not an error. A quota reply (``classify`` says so) ends at once: waiting would not help today.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, Literal, Protocol

import anyio
import httpx

from skyferry.http.retry_after import retry_after_seconds
from skyferry.services.library.errors import ProviderError, SourceUnavailableError
from skyferry.services.library.settings import LibrarySettings

log = logging.getLogger(__name__)

Verdict = Literal["retry", "fail", "unavailable"]
Classifier = Callable[[httpx.Response], Verdict | None]
"""What an error response means: try again, fail this lookup, or stop asking this source
(quota used up, key refused); None for the default: retry 408/425/429/5xx, fail the rest."""


class Turns(Protocol):
    async def wait(self) -> None:
        """Return when one more request keeps to every limit of the provider."""


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: dict[str, str] | None = None,
    turns: Turns,
    settings: LibrarySettings,
    provider: str,
    classify: Classifier | None = None,
    turn_taken: bool = False,
) -> Any | None:
    """The decoded JSON body, or None for a 404. ``turn_taken``: the caller waited already."""
    attempts = settings.max_attempts
    for attempt in range(1, attempts + 1):
        if not (turn_taken and attempt == 1):
            await turns.wait()
        retry_after: float | None = None
        try:
            response = await client.get(url, params=params)
        except httpx.TransportError as exc:  # timeouts, refused and reset connections
            problem = f"{provider}: {type(exc).__name__}"
        else:
            if response.status_code == 404:
                return None
            if response.is_success:
                try:
                    return response.json()
                except ValueError:
                    problem = f"{provider}: the answer was not JSON"
            else:
                verdict = classify(response) if classify else None
                if verdict is None:
                    default = response.status_code in (408, 425, 429) or response.is_server_error
                    verdict = "retry" if default else "fail"
                if verdict == "unavailable":
                    raise SourceUnavailableError(f"{provider}: {_reason(response)}")
                if verdict == "fail":
                    raise ProviderError(f"{provider}: HTTP {response.status_code}")
                problem = f"{provider}: HTTP {response.status_code}"
                retry_after = retry_after_seconds(response.headers)
        if attempt == attempts:
            raise ProviderError(f"{problem} after {attempts} tries", retry_after=retry_after)
        wait = retry_after if retry_after is not None else _backoff(settings, attempt)
        wait = min(wait, settings.retry_max_wait_seconds)
        log.info(
            "%s; trying again in %.1f s",
            problem,
            wait,
            extra={"provider": provider, "attempt": attempt, "wait_seconds": wait},
        )
        await anyio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _backoff(settings: LibrarySettings, attempt: int) -> float:
    return float(settings.retry_initial_seconds * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))


def _reason(response: httpx.Response) -> str:
    """Google's ``error.message`` (or the status): why a source stopped answering."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}: {str(message)[:200]}"
