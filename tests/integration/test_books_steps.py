"""The generation steps on their own, on SQLite and Postgres: each stores its text before it
returns and looks there first, so a step re-run after a crash (killed between storing and its
checkpoint) asks the provider nothing again; and the book is visible only once assembled."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from ebooklib import epub

from skyferry.app import build_runtime
from skyferry.config import load_settings
from skyferry.jobs import runtime
from skyferry.jobs.models import JobStatus
from skyferry.services.books import workflows
from skyferry.services.books.models import BookRequest
from skyferry.services.books.store import BookStore, chapter_key
from skyferry.storage import migrations
from tests.fakes.openai_server import FakeOpenAI, serve_fake_openai

pytestmark = pytest.mark.anyio

BOOK_ID = "7d1c0a6e2f3b4c5d8e9f0a1b2c3d4e5f"
REQUEST = BookRequest(topic="Sea glass", chapters=2, words_per_chapter=150)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with serve_fake_openai() as server:
        yield server


@pytest.fixture
def store(database_url: str, fake: FakeOpenAI) -> Iterator[BookStore]:
    settings = load_settings(
        database_url=database_url,
        blob_url="memory://",
        books={"provider": "openai", "openai_base_url": fake.url, "max_attempts": 1},
    )
    rt = build_runtime(settings)
    migrations.upgrade(rt.database)
    runtime.install(rt)
    try:
        yield BookStore(rt.database, rt.blobs)
    finally:
        runtime.install(None)
        rt.database.dispose()


async def test_a_rerun_step_reuses_what_it_stored(store: BookStore, fake: FakeOpenAI) -> None:
    await store.create(BOOK_ID, REQUEST, JobStatus.QUEUED)
    await workflows.begin(BOOK_ID, REQUEST)
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
    assert row.status is JobStatus.RUNNING
    assert row.title == "A Book From The Fake Server"


async def test_the_book_appears_only_when_assembled(store: BookStore) -> None:
    await workflows.begin(BOOK_ID, REQUEST)
    outline = await workflows.write_outline(BOOK_ID, REQUEST)
    chapters: list[dict[str, Any]] = [
        await workflows.write_chapter(BOOK_ID, REQUEST, outline, n) for n in (1, 2)
    ]
    before = await store.get(BOOK_ID)
    assert before is not None
    assert before.status is JobStatus.RUNNING
    assert before.blobs == {}

    summary = await workflows.assemble(BOOK_ID, REQUEST, outline, chapters)
    row = await store.get(BOOK_ID)
    assert row is not None
    assert row.status is JobStatus.SUCCEEDED
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

    await workflows.record_failure(BOOK_ID, "too late")
    after = await store.get(BOOK_ID)
    assert after is not None
    assert after.status is JobStatus.SUCCEEDED  # a final status is never overwritten


async def test_a_failure_is_recorded_on_the_row(store: BookStore) -> None:
    await workflows.begin(BOOK_ID, REQUEST)
    await workflows.record_failure(BOOK_ID, "the provider answered 401")
    row = await store.get(BOOK_ID)
    assert row is not None
    assert (row.status, row.error) == (JobStatus.FAILED, "the provider answered 401")
    assert row.finished_at is not None
