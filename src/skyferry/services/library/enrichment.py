"""One book's enrichment: each source in turn (cache first), merged into one ``Enrichment``.

Sources are asked in the configured order. Google Books in ``fallback`` use is asked only for a
book the sources before it left without genres: at 100 requests per 100 s it cannot look up a
thousand books in a minute, and most books need it for nothing. (Asking it for every book
without a cover too, about one in six, takes a 1,000-book library past Google's first 100
requests and so from under a minute to over two: ``bench/library.py``.) A source that is
unavailable (no key, quota used up, key refused) is skipped and named in ``skipped``; a
lookup that fails after its retries fails this book only (the fan-out records it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TypeVar

from pydantic import Field

from skyferry.services.library.errors import SourceUnavailableError
from skyferry.services.library.exports import ExportBook
from skyferry.services.library.genres import merge
from skyferry.services.library.providers import BookFacts, Facts, Source, lookup_key
from skyferry.services.library.resources import Library

log = logging.getLogger(__name__)

T = TypeVar("T")

UNAVAILABLE_SECONDS = 600.0
"""How long a source that said "quota used up" or "key refused" is left alone."""


class Enrichment(BookFacts):
    """What the sources added to one book: their facts merged, genres normalised."""

    found_by: list[str] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)


async def enrich(library: Library, book: ExportBook) -> Enrichment:
    found: dict[str, Facts] = {}
    skipped: dict[str, str] = {}
    for source in library.sources:
        reason = unavailable(library, source)
        if reason:
            skipped[source.name] = reason
            continue
        if (
            source.name == "google_books"
            and library.settings.google_books_use == "fallback"
            and any(facts.genres for facts in found.values())
        ):
            continue
        try:
            facts = await _lookup(library, source, book)
        except SourceUnavailableError as exc:
            library.unavailable[source.name] = (exc.detail, time.monotonic() + UNAVAILABLE_SECONDS)
            log.warning("%s; skipping it for now", exc.detail, extra={"source": source.name})
            skipped[source.name] = exc.detail
            continue
        if facts.found:
            found[source.name] = facts
    return _merged(found, skipped)


def unavailable(library: Library, source: Source) -> str | None:
    """Why ``source`` is not asked right now, or None."""
    reason = source.available()
    if reason:
        return reason
    marked = library.unavailable.get(source.name)
    if marked and marked[1] > time.monotonic():
        return marked[0]
    return None


async def _lookup(library: Library, source: Source, book: ExportBook) -> Facts:
    if source.name == "offline":  # as cheap as a cache read, and never stale
        return await source.lookup(book)
    key = lookup_key(book)
    cached = await library.cache.get(source.name, key)
    if cached is not None:
        return cached
    facts = await source.lookup(book)
    await library.cache.put(source.name, key, facts)
    return facts


def _first(values: Iterable[T | None]) -> T | None:
    return next((value for value in values if value), None)


def _merged(found: dict[str, Facts], skipped: dict[str, str]) -> Enrichment:
    facts = list(found.values())
    return Enrichment(
        genres=merge(*(f.genres for f in facts)),
        thumbnail_url=_first(f.thumbnail_url for f in facts),
        small_thumbnail_url=_first(f.small_thumbnail_url for f in facts),
        num_pages=_first(f.num_pages for f in facts),
        publication_year=_first(f.publication_year for f in facts),
        average_rating=_first(f.average_rating for f in facts),
        publisher=_first(f.publisher for f in facts),
        found_by=list(found),
        skipped=skipped,
    )
