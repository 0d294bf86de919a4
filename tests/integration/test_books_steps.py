"""The generation steps on their own, on SQLite and Postgres: each stores its text before it
returns and looks there first, so a step re-run after a crash (killed between storing and its
checkpoint) asks the provider nothing again; and the book's results are recorded only once
assembled. Outside a job a step is a plain call, which is how these tests drive them."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from ebooklib import epub

from skyferry.config import attach_services, load_settings
from skyferry.platform import open_platform
from skyferry.services.books import workflows
from skyferry.services.books.models import BookRequest
from skyferry.services.books.resources import books
from skyferry.services.books.service import service
from skyferry.services.books.store import BookStore, chapter_key
from tests.fakes.openai_server import FakeOpenAI, serve_fake_openai

pytestmark = pytest.mark.anyio

BOOK_ID = "7d1c0a6e2f3b4c5d8e9f0a1b2c3d4e5f"
REQUEST = BookRequest(topic="Sea glass", chapters=2, words_per_chapter=150)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with serve_fake_openai() as server:
        yield server


@pytest.fixture
async def store(database_url: str, fake: FakeOpenAI) -> AsyncIterator[BookStore]:
    settings = load_settings(
        database_url=database_url,
        blob_url="memory://",
        books={"provider": "openai", "openai_base_url": fake.url, "max_attempts": 1},
    )
    attach_services(settings, [service])
    async with open_platform(settings, [service], migrate=True):
        yield books.get().store


async def test_a_rerun_step_reuses_what_it_stored(store: BookStore, fake: FakeOpenAI) -> None:
    outline = await workflows.write_outline(BOOK_ID, REQUEST)
    assert await workflows.write_outline(BOOK_ID, REQUEST) == outline
    first = await workflows.write_chapter(BOOK_ID, REQUEST, outline, 1)
    assert await workflows.write_chapter(BOOK_ID, REQUEST, outline, 1) == first
    assert fake.chapter_calls() == {None: 1, 1: 1}
    assert "text" not in first  # checkpoints stay small; the text is in the blob store
    stored = await store.get_json(chapter_key(BOOK_ID, 1))
    assert stored["text"].startswith("Paragraph 1 of chapter 1")

    row = await store.get(BOOK_ID)
    assert row is not None
    assert row.title == "A Book From The Fake Server"
    assert row.request == REQUEST


async def test_the_books_results_are_recorded_only_when_assembled(store: BookStore) -> None:
    outline = await workflows.write_outline(BOOK_ID, REQUEST)
    chapters: list[dict[str, Any]] = [
        await workflows.write_chapter(BOOK_ID, REQUEST, outline, n) for n in (1, 2)
    ]
    before = await store.get(BOOK_ID)
    assert before is not None
    assert before.blobs == {}
    assert before.finished_at is None

    summary = await workflows.assemble(BOOK_ID, REQUEST, outline, chapters)
    row = await store.get(BOOK_ID)
    assert row is not None
    assert set(row.blobs) == {"json", "md", "txt", "epub"}
    assert summary == {
        "title": "A Book From The Fake Server",
        "chapters": 2,
        "word_count": row.word_count,
        "provider": "openai",
        "model": "fake-gpt-1",
    }
    book = await store.content(row)
    assert [c.text for c in book.chapters] == [
        (await store.get_json(chapter_key(BOOK_ID, n)))["text"] for n in (1, 2)
    ]
    data = await store.blobs.read(row.blobs["epub"])
    assert epub.read_epub(io.BytesIO(data), {"ignore_ncx": True}).title == book.title
