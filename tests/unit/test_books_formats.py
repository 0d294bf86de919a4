"""Markdown, plain text and EPUB renderings of a finished book."""

from __future__ import annotations

import io

import pytest
from ebooklib import ITEM_DOCUMENT, epub

from skyferry.services.books import formats
from skyferry.services.books.models import BookContent, Chapter, OutlineEntry

BOOK_ID = "0f8fad5bd9cb469fa16570867728950e"


@pytest.fixture
def book() -> BookContent:
    texts = [
        "The tide goes out twice a day.\n\nPools stay behind, **full** of life.",
        "Anemones <script>alert(1)</script> close when touched & open again.",
    ]
    titles = ["Rock & Water", "Life in the Pools"]
    return BookContent(
        title="Between the Tides",
        topic="tide pools",
        language="en",
        audience="children",
        outline=[OutlineEntry(number=n, title=t) for n, t in enumerate(titles, start=1)],
        chapters=[
            Chapter(number=n, title=t, text=x, word_count=len(x.split()), seconds=0.1)
            for n, (t, x) in enumerate(zip(titles, texts, strict=True), start=1)
        ],
        word_count=20,
        provider="offline",
        model="skyferry-grammar-1",
    )


def test_markdown_has_title_contents_and_chapters(book: BookContent) -> None:
    text = formats.markdown(book)
    assert text.startswith("# Between the Tides\n")
    assert "1. Rock & Water\n2. Life in the Pools" in text
    assert "## Chapter 2: Life in the Pools\n\nAnemones" in text
    assert text.index("Chapter 1") < text.index("Chapter 2")


def test_plain_text_has_the_same_content(book: BookContent) -> None:
    text = formats.plain_text(book)
    assert text.startswith("Between the Tides\n=================\n")
    assert "Chapter 1: Rock & Water\n-----------------------\n\nThe tide goes out" in text


def read_epub(data: bytes) -> epub.EpubBook:
    return epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})


def test_epub_reads_back_with_its_metadata_and_chapters(book: BookContent) -> None:
    data = formats.epub(book, BOOK_ID)
    assert data[:2] == b"PK"
    assert b"mimetypeapplication/epub+zip" in data[:100]  # stored first, as readers expect
    document = read_epub(data)
    assert document.get_metadata("DC", "title")[0][0] == "Between the Tides"
    assert document.get_metadata("DC", "language")[0][0] == "en"
    assert document.get_metadata("DC", "identifier")[0][0] == (
        "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"
    )
    pages = [
        item for item in document.get_items_of_type(ITEM_DOCUMENT) if "chapter" in item.file_name
    ]
    assert len(pages) == 2
    second = pages[1].get_content().decode()
    assert "<h1>Chapter 2: Life in the Pools</h1>" in second
    assert "&lt;script&gt;" in second  # a model's HTML is text, never markup
    assert "<script>" not in second
    assert "<strong>full</strong>" in pages[0].get_content().decode()
    assert [link.title for link in document.toc] == ["Rock & Water", "Life in the Pools"]
