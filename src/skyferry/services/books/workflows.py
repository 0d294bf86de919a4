"""Book generation as a durable job: an outline step, one step per chapter, an assemble step.

Each step is checkpointed, so a worker killed during chapter k resumes at chapter k on any
worker: the outline and chapters 1..k-1 come back from their checkpoints, not from the provider.
A step stores its text in the blob store before it returns, and looks there first when it runs,
so even a worker killed between storing a chapter and checkpointing it costs no second call.
Provider calls hold a slot of the ``books.provider`` shared limit: ``provider_concurrency``
calls at most, across every worker. Steps do not retry themselves: the openai provider already
retries what is worth retrying, and a second layer would multiply the attempts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import skyferry
from skyferry.services.books import formats
from skyferry.services.books.models import BookContent, BookRequest, Chapter, OutlineEntry
from skyferry.services.books.providers import Outline
from skyferry.services.books.resources import books
from skyferry.services.books.store import chapter_key, content_key, download_key, outline_key

log = logging.getLogger(__name__)

KIND = "books.generate"
TIMEOUT_SECONDS = 6 * 3600.0
"""50 chapters of 5000 words from a slow model still finish; a stuck job does not run forever."""

_NO_RETRY = skyferry.Retry(attempts=1)
_BOOKKEEPING = skyferry.Retry(attempts=3)


@skyferry.job(KIND, params=BookRequest, timeout_seconds=TIMEOUT_SECONDS, result_path="/books/{id}")
async def generate_book(ctx: skyferry.JobContext, request: BookRequest) -> dict[str, Any]:
    n = request.chapters
    total = n + 2  # the outline, n chapters, the assembly
    await ctx.progress(0, total, "outline")
    outline = await write_outline(ctx.id, request)
    chapters = []
    for number in range(1, n + 1):
        await ctx.progress(number, total, f"chapter {number} of {n}")
        chapters.append(await write_chapter(ctx.id, request, outline, number))
    await ctx.progress(n + 1, total, "assembling")
    summary = await assemble(ctx.id, request, outline, chapters)
    await ctx.progress(total, total, "done")
    return summary


# -- steps ---------------------------------------------------------------------------------------


@skyferry.step(name="outline", retry=_NO_RETRY)
async def write_outline(book_id: str, request: BookRequest) -> dict[str, Any]:
    """Write the outline to ``outline.json`` (unless an earlier attempt did) and the book's row."""
    deps = books.get()
    record: dict[str, Any] | None = await deps.store.find_json(outline_key(book_id))
    if record is None:
        started = time.time()
        async with deps.limit.hold():
            outline = await deps.provider.outline(request)
        record = {
            "title": outline.title,
            "chapters": [entry.model_dump() for entry in outline.chapters],
            "model": outline.model,
            "provider": deps.provider.name,
            "seconds": round(time.time() - started, 3),
        }
        await deps.store.put_json(outline_key(book_id), record)
        log.info(
            "book %s: outline written by %s",
            book_id,
            outline.model,
            extra={"book_id": book_id, "provider": deps.provider.name, "model": outline.model},
        )
    await deps.store.record(book_id, request, record["title"])
    return record


@skyferry.step(name="chapter", retry=_NO_RETRY)
async def write_chapter(
    book_id: str, request: BookRequest, outline: dict[str, Any], number: int
) -> dict[str, Any]:
    """Write chapter ``number`` to ``chapters/{number}.json``; return all of it but the text."""
    deps = books.get()
    store, provider = deps.store, deps.provider
    key = chapter_key(book_id, number)
    # a record here was written by an attempt that died before its checkpoint
    record: dict[str, Any] | None = await store.find_json(key)
    if record is None:
        plan = _outline(outline)
        async with deps.limit.hold():
            started = time.time()
            text = await provider.chapter(request, plan, number)
            finished = time.time()
        record = {
            "number": number,
            "title": plan.chapters[number - 1].title,
            "text": text.text,
            "word_count": len(text.text.split()),
            "provider": provider.name,
            "model": text.model,
            "started_at": started,
            "seconds": round(finished - started, 3),
        }
        await store.put_json(key, record)
        log.info(
            "book %s: chapter %d written in %.1f s",
            book_id,
            number,
            record["seconds"],
            extra={"book_id": book_id, "chapter": number, "seconds": record["seconds"]},
        )
    else:
        log.info(
            "book %s: chapter %d was stored by an earlier attempt; not written again",
            book_id,
            number,
            extra={"book_id": book_id, "chapter": number},
        )
    return {name: value for name, value in record.items() if name != "text"}


@skyferry.step(name="assemble", retry=_BOOKKEEPING)
async def assemble(
    book_id: str, request: BookRequest, outline: dict[str, Any], chapters: list[dict[str, Any]]
) -> dict[str, Any]:
    """Store the book and its downloads, then flip the row to succeeded: the commit point."""
    store = books.get().store
    texts = [await store.get_json(chapter_key(book_id, c["number"])) for c in chapters]
    used = Counter((c["provider"], c["model"]) for c in chapters)
    (provider, model), _ = used.most_common(1)[0]
    book = BookContent(
        title=outline["title"],
        topic=request.topic,
        language=request.language,
        audience=request.audience,
        outline=[OutlineEntry.model_validate(entry) for entry in outline["chapters"]],
        chapters=[
            Chapter(
                number=t["number"],
                title=t["title"],
                text=t["text"],
                word_count=t["word_count"],
                seconds=t["seconds"],
            )
            for t in texts
        ],
        word_count=sum(t["word_count"] for t in texts),
        provider=provider,
        model=model,
    )
    blobs = {"json": content_key(book_id)}
    await store.put_json(blobs["json"], book.model_dump(mode="json"))
    for fmt, rendering in formats.RENDERINGS.items():
        key = blobs[fmt] = download_key(book_id, fmt)
        if fmt == "epub":
            data = await asyncio.to_thread(formats.epub, book, book_id)
        else:
            render = formats.markdown if fmt == "md" else formats.plain_text
            data = render(book).encode()
        await store.blobs.put(key, data, content_type=rendering.media_type)
    await store.mark_succeeded(
        book_id,
        title=book.title,
        word_count=book.word_count,
        provider=provider,
        model=model,
        blobs=blobs,
    )
    return {
        "title": book.title,
        "chapters": len(book.chapters),
        "word_count": book.word_count,
        "provider": provider,
        "model": model,
    }


# -- helpers -------------------------------------------------------------------------------------


def _outline(record: dict[str, Any]) -> Outline:
    return Outline(
        title=record["title"],
        chapters=[OutlineEntry.model_validate(entry) for entry in record["chapters"]],
        model=record["model"],
    )
