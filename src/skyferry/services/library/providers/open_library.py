"""Open Library: many books per request, within 1 request/s (3/s when you say who you are).

By ISBN through the multi-ISBN lookup, ``/api/books?bibkeys=ISBN:…,ISBN:…&jscmd=data``: books
asked for while a request waits for its turn join the next one (up to ``batch_size``), so a
thousand books with ISBNs cost about twenty requests. Many editions list no subjects of their
own; theirs are their works', which the search API returns for many ISBNs at once
(``/search.json?q=isbn:(A OR B …)``, batched the same way) — one request per fifty books
rather than two per book through ``/books/{id}.json`` → ``/works/{id}.json``. A book without an
ISBN, or one Open Library does not know by it, is looked up by title and author.
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
from skyferry.services.library.providers import NOT_FOUND, Facts, cover_url
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
        size = settings.open_library_batch_size
        self._editions = _Batcher(self._fetch_editions, rate, size)
        self._works = _Batcher(self._fetch_works, rate, size)

    def available(self) -> str | None:
        return None

    async def lookup(self, book: ExportBook) -> Facts:
        if not book.isbn13:
            return await self._search(book)
        record = await self._editions.get(book.isbn13)
        if record is None:
            return await self._search(book)
        facts = _edition_facts(record)
        if not facts.genres:
            work = await self._works.get(book.isbn13)
            if work is not None:
                facts.genres = _strings(work.get("subject"))[:30]
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

    async def _fetch_editions(self, isbns: list[str]) -> dict[str, Any]:
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

    async def _fetch_works(self, isbns: list[str]) -> dict[str, Any]:
        """Each ISBN's work (its search doc), for many ISBNs in one search request."""
        body = await self._get(
            "/search.json",
            {
                "q": f"isbn:({' OR '.join(isbns)})",
                "fields": "key,isbn,subject",
                "limit": str(len(isbns)),
            },
            turn_taken=True,
        )
        docs = body.get("docs") if isinstance(body, dict) else None
        if not isinstance(docs, list):
            raise _malformed("/search.json")
        wanted = set(isbns)
        works: dict[str, Any] = {}
        for doc in docs:
            if isinstance(doc, dict):
                for isbn in set(_strings(doc.get("isbn"))) & wanted:
                    works[isbn] = doc
        return works


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
        thumbnail_url=cover_url(cover.get("medium")),
        small_thumbnail_url=cover_url(cover.get("small")),
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


def _malformed(path: str) -> Exception:
    return ProviderError(f"open_library: {path} answered something that is not its format")
