"""Where books live: a row in ``books_books`` and blobs under ``books/{id}/``.

Blob layout: ``outline.json`` and ``chapters/{k:03d}.json`` (text, model, timing) while a book is
written, then ``book.json`` (the structured book the API serves) and ``book.md``, ``book.txt``,
``book.epub`` (the downloads). The row records the request, the title once the outline is
written, and the downloads' keys once all of them are stored; a book's status is its job's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.services.books.models import BookContent, BookRequest, DownloadFormat
from skyferry.services.books.tables import books
from skyferry.storage.blobs import BlobStore
from skyferry.storage.errors import BlobNotFoundError
from skyferry.storage.sql import insert_missing


@dataclass(frozen=True)
class BookRow:
    """What the books table knows of a book: its request and its results, never its status."""

    id: str
    topic: str
    title: str | None
    request: BookRequest
    word_count: int | None
    provider: str | None
    model: str | None
    blobs: dict[str, str]
    created_at: float
    finished_at: float | None


def prefix(book_id: str) -> str:
    return f"books/{book_id}/"


def chapter_key(book_id: str, number: int) -> str:
    return f"{prefix(book_id)}chapters/{number:03d}.json"


def outline_key(book_id: str) -> str:
    return f"{prefix(book_id)}outline.json"


def content_key(book_id: str) -> str:
    return f"{prefix(book_id)}book.json"


def download_key(book_id: str, fmt: DownloadFormat) -> str:
    return f"{prefix(book_id)}book.{fmt}"


class BookStore:
    """Rows through SQLAlchemy Core (SQLite and Postgres alike), text through the blob port."""

    def __init__(self, database: Engine, blobs: BlobStore) -> None:
        self.database = database
        self.blobs = blobs

    # -- rows ------------------------------------------------------------------------------------

    async def record(self, book_id: str, request: BookRequest, title: str) -> None:
        """Write the book's row with its request and title (again, after a resume: same row)."""
        await asyncio.to_thread(self._record, book_id, request, title)

    async def mark_succeeded(
        self,
        book_id: str,
        *,
        title: str,
        word_count: int,
        provider: str,
        model: str,
        blobs: dict[str, str],
    ) -> None:
        values = {
            "title": title[:300],
            "word_count": word_count,
            "provider": provider[:50],
            "model": model[:200],
            "blobs": blobs,
            "finished_at": time.time(),
        }
        await asyncio.to_thread(self._update, book_id, values)

    async def get(self, book_id: str) -> BookRow | None:
        rows = await self.get_many([book_id])
        return rows.get(book_id)

    async def get_many(self, book_ids: list[str]) -> dict[str, BookRow]:
        return await asyncio.to_thread(self._get_many, book_ids)

    async def delete(self, book_id: str) -> None:
        """Remove the blobs, then the row: a crash in between leaves a row to delete again."""
        keys = [info.key async for info in self.blobs.list(prefix(book_id))]
        for key in keys:
            with contextlib.suppress(BlobNotFoundError):  # a concurrent delete got there first
                await self.blobs.delete(key)
        await asyncio.to_thread(self._delete, book_id)

    # -- blobs -----------------------------------------------------------------------------------

    async def put_json(self, key: str, value: Any) -> None:
        data = json.dumps(value, ensure_ascii=False).encode()
        await self.blobs.put(key, data, content_type="application/json")

    async def get_json(self, key: str) -> Any:
        return json.loads(await self.blobs.read(key))

    async def find_json(self, key: str) -> Any:
        """The blob's JSON, or None where there is no blob."""
        try:
            return await self.get_json(key)
        except BlobNotFoundError:
            return None

    async def content(self, row: BookRow) -> BookContent:
        return BookContent.model_validate(await self.get_json(row.blobs["json"]))

    # -- SQL -------------------------------------------------------------------------------------

    def _record(self, book_id: str, request: BookRequest, title: str) -> None:
        row = {
            "id": book_id,
            "topic": request.topic,
            "title": title[:300],
            "params": request.model_dump(mode="json"),
            "created_at": time.time(),
        }
        with self.database.begin() as connection:
            if not insert_missing(connection, books, row):
                connection.execute(
                    sa.update(books).where(books.c.id == book_id).values(title=row["title"])
                )

    def _update(self, book_id: str, values: dict[str, Any]) -> None:
        with self.database.begin() as connection:
            connection.execute(sa.update(books).where(books.c.id == book_id).values(**values))

    def _get_many(self, book_ids: list[str]) -> dict[str, BookRow]:
        if not book_ids:
            return {}
        query = sa.select(books).where(books.c.id.in_(book_ids))
        with self.database.connect() as connection:
            return {row.id: _to_row(row) for row in connection.execute(query)}

    def _delete(self, book_id: str) -> None:
        with self.database.begin() as connection:
            connection.execute(sa.delete(books).where(books.c.id == book_id))


def _to_row(row: sa.Row[Any]) -> BookRow:
    return BookRow(
        id=row.id,
        topic=row.topic,
        title=row.title,
        request=BookRequest.model_validate(row.params),
        word_count=row.word_count,
        provider=row.provider,
        model=row.model,
        blobs=dict(row.blobs or {}),
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
