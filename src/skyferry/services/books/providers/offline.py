"""The offline provider: no network, no key; prose from ``prose.py`` after a simulated delay.

The delay (``offline_seconds_per_chapter``) stands in for a model's latency, so progress bars,
kill tests and benchmarks behave as they would against a real API. The outline is instant.
"""

from __future__ import annotations

import asyncio

from skyferry.services.books.models import BookRequest
from skyferry.services.books.providers import Outline, Text, prose
from skyferry.services.books.settings import BooksSettings

MODEL = "skyferry-grammar-1"


class OfflineProvider:
    name = "offline"

    def __init__(self, settings: BooksSettings) -> None:
        self.seed = settings.offline_seed
        self.seconds_per_chapter = settings.offline_seconds_per_chapter

    async def __aenter__(self) -> OfflineProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def outline(self, request: BookRequest) -> Outline:
        title, entries = prose.outline(request, self.seed)
        return Outline(title=title, chapters=entries, model=MODEL)

    async def chapter(self, request: BookRequest, outline: Outline, number: int) -> Text:
        if self.seconds_per_chapter:
            await asyncio.sleep(self.seconds_per_chapter)
        # a 5000-word chapter takes a few milliseconds to compose: off the event loop all the same
        text = await asyncio.to_thread(
            prose.chapter, request, outline.title, outline.chapters, number, self.seed
        )
        return Text(text=text, model=MODEL)
