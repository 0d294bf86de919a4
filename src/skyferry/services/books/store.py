"""Where books live: a row in ``books_books`` and blobs under ``books/{id}/``.

Blob layout: ``outline.json`` and ``chapters/{k:03d}.json`` (text, model, timing) while a book is
written, then ``book.json`` (the structured book the API serves) and ``book.md``, ``book.txt``,
``book.epub`` (the downloads). The row's ``status`` mirrors the job's and turns ``succeeded``
only once every one of those is stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.jobs.models import JobStatus
from skyferry.services.books.errors import InvalidCursorError
from skyferry.services.books.models import BookContent, BookRequest, DownloadFormat
from skyferry.services.books.tables import books
from skyferry.storage.blobs import BlobStore
from skyferry.storage.errors import BlobNotFoundError

FINAL = tuple(status.value for status in JobStatus if status.is_final)


@dataclass(frozen=True)
class BookRow:
    id: str
    topic: str
    title: str | None
    request: BookRequest
    status: JobStatus
    error: str | None
    word_count: int | None
    provider: str | None
    model: str | None
    blobs: dict[str, str]
    created_at: float
    started_at: float | None
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

    async def create(self, book_id: str, request: BookRequest, status: JobStatus) -> None:
        """Insert the book's row unless it exists: the API and the job's first step both call
        this, in whichever order they happen to run."""
        await asyncio.to_thread(self._create, book_id, request, status)

    async def mark_running(self, book_id: str, request: BookRequest) -> None:
        await self.create(book_id, request, JobStatus.RUNNING)
        await asyncio.to_thread(
            self._update,
            book_id,
            {"status": JobStatus.RUNNING.value, "started_at": time.time()},
            only_if=books.c.status == JobStatus.QUEUED.value,
        )

    async def set_title(self, book_id: str, title: str) -> None:
        await asyncio.to_thread(self._update, book_id, {"title": title[:300]})

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
            "status": JobStatus.SUCCEEDED.value,
            "title": title[:300],
            "word_count": word_count,
            "provider": provider[:50],
            "model": model[:200],
            "blobs": blobs,
            "finished_at": time.time(),
            "error": None,
        }
        await asyncio.to_thread(self._update, book_id, values)

    async def mark_final(self, book_id: str, status: JobStatus, error: str | None = None) -> None:
        """Record a failure or a cancellation, unless the row already shows a final status."""
        values = {"status": status.value, "error": error, "finished_at": time.time()}
        await asyncio.to_thread(self._update, book_id, values, only_if=books.c.status.not_in(FINAL))

    async def get(self, book_id: str) -> BookRow | None:
        return await asyncio.to_thread(self._get, book_id)

    async def page(
        self, *, status: JobStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[BookRow], str | None]:
        """Newest first; a cursor is the last row's (created_at, id), so pages never overlap."""
        after = decode_cursor(cursor) if cursor else None
        rows = await asyncio.to_thread(self._list, status, limit + 1, after)
        page, more = rows[:limit], len(rows) > limit
        return page, encode_cursor(page[-1].created_at, page[-1].id) if more else None

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

    def _create(self, book_id: str, request: BookRequest, status: JobStatus) -> None:
        now = time.time()
        row = {
            "id": book_id,
            "topic": request.topic,
            "title": request.title,
            "params": request.model_dump(mode="json"),
            "status": status.value,
            "created_at": now,
            "started_at": now if status is JobStatus.RUNNING else None,
        }
        with self.database.begin() as connection:
            if connection.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
            connection.execute(insert(books).values(**row).on_conflict_do_nothing())

    def _update(
        self,
        book_id: str,
        values: dict[str, Any],
        *,
        only_if: sa.ColumnElement[bool] | None = None,
    ) -> None:
        statement = sa.update(books).where(books.c.id == book_id).values(**values)
        if only_if is not None:
            statement = statement.where(only_if)
        with self.database.begin() as connection:
            connection.execute(statement)

    def _get(self, book_id: str) -> BookRow | None:
        with self.database.connect() as connection:
            row = connection.execute(sa.select(books).where(books.c.id == book_id)).first()
        return None if row is None else _to_row(row)

    def _list(
        self, status: JobStatus | None, limit: int, after: tuple[float, str] | None
    ) -> list[BookRow]:
        query = sa.select(books).order_by(books.c.created_at.desc(), books.c.id.desc())
        if status is not None:
            query = query.where(books.c.status == status.value)
        if after is not None:
            created_at, book_id = after
            query = query.where(
                sa.or_(
                    books.c.created_at < created_at,
                    sa.and_(books.c.created_at == created_at, books.c.id < book_id),
                )
            )
        with self.database.connect() as connection:
            return [_to_row(row) for row in connection.execute(query.limit(limit))]

    def _delete(self, book_id: str) -> None:
        with self.database.begin() as connection:
            connection.execute(sa.delete(books).where(books.c.id == book_id))


def _to_row(row: sa.Row[Any]) -> BookRow:
    return BookRow(
        id=row.id,
        topic=row.topic,
        title=row.title,
        request=BookRequest.model_validate(row.params),
        status=JobStatus(row.status),
        error=row.error,
        word_count=row.word_count,
        provider=row.provider,
        model=row.model,
        blobs=dict(row.blobs or {}),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def encode_cursor(created_at: float, book_id: str) -> str:
    raw = json.dumps({"c": created_at, "i": book_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        created_at, book_id = float(data["c"]), str(data["i"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidCursorError() from exc
    return created_at, book_id
