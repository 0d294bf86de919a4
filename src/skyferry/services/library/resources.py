"""What every library job and route of a process shares, opened once per process: the store,
the lookup cache, one HTTP client and the enrichment sources with their shared limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

import skyferry
from skyferry.http.tls import tls_context
from skyferry.services.library.cache import LookupCache
from skyferry.services.library.providers import Source
from skyferry.services.library.providers.google_books import GoogleBooksSource
from skyferry.services.library.providers.offline import OfflineSource
from skyferry.services.library.providers.open_library import OpenLibrarySource
from skyferry.services.library.quota import DailyQuota
from skyferry.services.library.settings import LibrarySettings
from skyferry.services.library.store import UploadStore


@dataclass(frozen=True)
class Library:
    settings: LibrarySettings
    store: UploadStore
    cache: LookupCache
    sources: list[Source]
    unavailable: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Sources that said "quota used up" or "key refused": name → (why, until when). Every job
    of the process skips them meanwhile."""


@asynccontextmanager
async def _open(platform: skyferry.Platform) -> AsyncIterator[Library]:
    settings = platform.settings.of(LibrarySettings)
    database = platform.database
    agent = settings.open_library_user_agent or f"skyferry-library/{skyferry.__version__}"
    timeout = httpx.Timeout(settings.request_timeout_seconds, connect=10.0)
    async with httpx.AsyncClient(
        timeout=timeout,
        headers={"User-Agent": agent},
        follow_redirects=True,
        verify=tls_context(),
    ) as client:
        sources: list[Source] = []
        for name in dict.fromkeys(settings.providers):
            if name == "offline":
                sources.append(OfflineSource(settings.offline_seconds_per_book))
            elif name == "open_library":
                calls, period = _window(settings.open_library_rate)
                rate = skyferry.SharedRate(
                    database,
                    "library.open_library",
                    calls=calls,
                    period_seconds=period,
                    margin=settings.rate_margin,
                )
                sources.append(OpenLibrarySource(client, rate, settings))
            else:
                rate = skyferry.SharedRate(
                    database,
                    "library.google_books",
                    calls=settings.google_books_requests,
                    period_seconds=settings.google_books_period_seconds,
                    margin=settings.rate_margin,
                )
                quota = DailyQuota(database, "google_books", settings.google_books_daily_quota)
                sources.append(GoogleBooksSource(client, rate, quota, settings))
        yield Library(
            settings=settings,
            store=UploadStore(database, platform.blobs),
            cache=LookupCache(database, platform.settings.database_outage_seconds),
            sources=sources,
        )


def _window(per_second: float) -> tuple[int, float]:
    """A per-second rate as (calls, window): 3/s is 3 per second, 0.5/s is 1 per 2 seconds."""
    if per_second >= 1:
        return int(per_second), 1.0
    return 1, 1.0 / per_second


library = skyferry.Resource("library", _open)
