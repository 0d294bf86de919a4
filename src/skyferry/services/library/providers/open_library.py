"""Open Library: many books per request, within 1 request/s (3/s when you say who you are).

By ISBN through the multi-ISBN lookup, ``/api/books?bibkeys=ISBN:…,ISBN:…&jscmd=data``: books
asked for while a request waits for its turn join the next one (up to ``batch_size``), so a
thousand books with ISBNs cost about twenty requests. A book without an ISBN, or one Open
Library does not know by it, is looked up by title and author (``/search.json``); an edition
without subjects takes them from its work (``/books/{id}.json`` → ``/works/{id}.json``).
Every request waits for a turn of the shared ``open_library`` rate: the limit holds across all
workers. Documented at https://openlibrary.org/dev/docs/api/books and /dev/docs/api/search.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

import skyferry
from skyferry.services.library.errors import ProviderError
from skyferry.services.library.exports import ExportBook
from skyferry.services.library.providers import NOT_FOUND, Facts
from skyferry.services.library.providers.http import get_json
from skyferry.services.library.settings import LibrarySettings

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_COVER = "https://covers.openlibrary.org/b/id/{id}-{size}.jpg"
_BATCH_RUNNERS = 2
"""Requests in flight at once: one waiting for its turn while the other is answered."""


class OpenLibrarySource:
    name = "open_library"

    def __init__(
        self, client: httpx.AsyncClient, rate: skyferry.SharedRate, settings: LibrarySettings
    ) -> None:
        self.client = client
        self.rate = rate
        self.settings = settings
        self.base = settings.open_library_base_url
        self._batcher = _Batcher(self._fetch_isbns, rate, settings.open_library_batch_size)

    def available(self) -> str | None:
        return None

    async def lookup(self, book: ExportBook) -> Facts:
        record = await self._batcher.get(book.isbn13) if book.isbn13 else None
        if record is None:
            return await self._search(book)
        facts = _edition_facts(record)
        if not facts.genres and isinstance(record.get("key"), str):
            facts.genres = await self._work_subjects(record["key"])
        return facts

    async def _get(self, path: str, params: dict[str, str], *, turn_taken: bool = False) -> Any:
        return await get_json(
            self.client,
            f"{self.base}{path}",
            params=params,
            turns=self.rate,
            settings=self.settings,
            provider=self.name,
            turn_taken=turn_taken,
        )

    async def _fetch_isbns(self, isbns: list[str]) -> dict[str, Any]:
        keys = ",".join(f"ISBN:{isbn}" for isbn in isbns)
        body = await self._get(
            "/api/books", {"bibkeys": keys, "jscmd": "data", "format": "json"}, turn_taken=True
        )
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise _malformed("/api/books")
        return {
            key.removeprefix("ISBN:"): value
            for key, value in body.items()
            if isinstance(value, dict)
        }

    async def _search(self, book: ExportBook) -> Facts:
        body = await self._get(
            "/search.json",
            {
                "title": book.lookup_title,
                "author": book.author,
                "limit": "1",
                "fields": "key,title,author_name,subject,cover_i,number_of_pages_median,"
                "first_publish_year,publisher",
            },
        )
        docs = body.get("docs") if isinstance(body, dict) else None
        if body is not None and not isinstance(docs, list):
            raise _malformed("/search.json")
        if not docs or not isinstance(docs[0], dict):
            return NOT_FOUND
        doc = docs[0]
        cover = doc.get("cover_i")
        return Facts(
            found=True,
            genres=_strings(doc.get("subject"))[:30],
            thumbnail_url=_COVER.format(id=cover, size="M") if isinstance(cover, int) else None,
            small_thumbnail_url=_COVER.format(id=cover, size="S")
            if isinstance(cover, int)
            else None,
            num_pages=_positive(doc.get("number_of_pages_median")),
            publication_year=_positive(doc.get("first_publish_year")),
            publisher=_first(_strings(doc.get("publisher"))),
        )

    async def _work_subjects(self, edition_key: str) -> list[str]:
        edition = await self._get(f"{edition_key}.json", {})
        works = edition.get("works") if isinstance(edition, dict) else None
        if not works or not isinstance(works[0], dict) or not isinstance(works[0].get("key"), str):
            return []
        work = await self._get(f"{works[0]['key']}.json", {})
        return _strings(work.get("subjects"))[:30] if isinstance(work, dict) else []


class _Batcher:
    """Coalesces concurrent ISBN lookups into multi-ISBN requests, each on its own turn."""

    def __init__(
        self,
        fetch: Callable[[list[str]], Awaitable[dict[str, Any]]],
        rate: skyferry.SharedRate,
        size: int,
    ) -> None:
        self.fetch = fetch
        self.rate = rate
        self.size = size
        self.pending: deque[tuple[str, asyncio.Future[Any]]] = deque()
        self.runners: set[asyncio.Task[None]] = set()

    async def get(self, isbn: str) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append((isbn, future))
        if len(self.runners) < _BATCH_RUNNERS:
            runner = asyncio.create_task(self._run())
            self.runners.add(runner)
            runner.add_done_callback(self.runners.discard)
        return await future

    async def _run(self) -> None:
        while self.pending:
            await self.rate.wait()
            batch: list[tuple[str, asyncio.Future[Any]]] = []
            while self.pending and len({isbn for isbn, _ in batch}) < self.size:
                isbn, future = self.pending.popleft()
                if not future.done():  # its book was cancelled meanwhile
                    batch.append((isbn, future))
            if not batch:
                continue
            try:
                found = await self.fetch(sorted({isbn for isbn, _ in batch}))
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for isbn, future in batch:
                if not future.done():
                    future.set_result(found.get(isbn))


def _edition_facts(record: dict[str, Any]) -> Facts:
    cover = _dict(record.get("cover"))
    subjects = [
        s["name"] if isinstance(s, dict) else s
        for s in record.get("subjects") or []
        if isinstance(s, dict | str)
    ]
    publishers = [p.get("name") for p in record.get("publishers") or [] if isinstance(p, dict)]
    year = _YEAR.search(str(record.get("publish_date") or ""))
    return Facts(
        found=True,
        genres=_strings(subjects)[:30],
        thumbnail_url=_url(cover.get("medium")),
        small_thumbnail_url=_url(cover.get("small")),
        num_pages=_positive(record.get("number_of_pages")),
        publication_year=int(year.group(1)) if year else None,
        publisher=_first(_strings(publishers)),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v.strip()[:200] for v in value if isinstance(v, str) and v.strip()]


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and 0 < value < 100_000 else None


def _url(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return None
    return "https://" + value.removeprefix("http://").removeprefix("https://")


def _malformed(path: str) -> Exception:
    return ProviderError(f"open_library: {path} answered something that is not its format")
