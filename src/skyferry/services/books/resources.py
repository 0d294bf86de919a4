"""What every book job and books route of a process shares, opened once per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import skyferry
from skyferry.services.books.providers import TextProvider, open_provider
from skyferry.services.books.settings import BooksSettings
from skyferry.services.books.store import BookStore

LIMIT = "books.provider"


@dataclass(frozen=True)
class Books:
    """The books settings, store, text provider (one connection pool) and provider limit."""

    settings: BooksSettings
    store: BookStore
    provider: TextProvider
    limit: skyferry.SharedLimit


@asynccontextmanager
async def _open(platform: skyferry.Platform) -> AsyncIterator[Books]:
    settings = platform.settings.of(BooksSettings)
    limit = skyferry.SharedLimit(
        platform.database,
        LIMIT,
        settings.provider_concurrency,
        lease_seconds=settings.provider_lease_seconds,
    )
    async with open_provider(settings) as provider:
        try:
            yield Books(
                settings=settings,
                store=BookStore(platform.database, platform.blobs),
                provider=provider,
                limit=limit,
            )
        finally:
            await limit.close()  # the slots it kept go back now, not when their leases end


books = skyferry.Resource("books", _open)
