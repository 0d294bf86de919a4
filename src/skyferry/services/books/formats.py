"""A finished book as Markdown, plain text and EPUB 3.

Chapter texts are Markdown (models write it); the EPUB renders it with markdown-it in its
CommonMark preset with raw HTML off, so whatever a model emits becomes escaped, well-formed XHTML.
ebooklib writes the package (OPF, navigation document, NCX for older readers). Both are imported
only here, when a book is assembled.
"""

from __future__ import annotations

import html
import io
import uuid
from dataclasses import dataclass

from skyferry.services.books.models import BookContent, DownloadFormat


@dataclass(frozen=True)
class Rendering:
    media_type: str
    extension: str


RENDERINGS: dict[DownloadFormat, Rendering] = {
    "md": Rendering("text/markdown; charset=utf-8", "md"),
    "txt": Rendering("text/plain; charset=utf-8", "txt"),
    "epub": Rendering("application/epub+zip", "epub"),
}


def markdown(book: BookContent) -> str:
    parts = [f"# {book.title}", ""]
    if book.audience:
        parts += [f"*A book about {book.topic}, for {book.audience}.*", ""]
    parts += ["## Contents", ""]
    parts += [f"{entry.number}. {entry.title}" for entry in book.outline]
    for chapter in book.chapters:
        parts += ["", f"## Chapter {chapter.number}: {chapter.title}", "", chapter.text]
    return "\n".join(parts) + "\n"


def plain_text(book: BookContent) -> str:
    parts = [book.title, "=" * min(len(book.title), 80), "", "Contents", ""]
    parts += [f"  {entry.number}. {entry.title}" for entry in book.outline]
    for chapter in book.chapters:
        heading = f"Chapter {chapter.number}: {chapter.title}"
        parts += ["", "", heading, "-" * min(len(heading), 80), "", chapter.text]
    return "\n".join(parts) + "\n"


def epub(book: BookContent, book_id: str) -> bytes:
    from ebooklib import epub as ebook
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": False})
    document = ebook.EpubBook()
    document.set_identifier(_identifier(book_id))
    document.set_title(book.title)
    document.set_language(book.language)
    document.add_author("skyferry")
    document.add_metadata("DC", "subject", book.topic)
    about = f"A book about {book.topic}, written by {book.model} ({book.provider})."
    document.add_metadata("DC", "description", about)
    style = ebook.EpubItem(
        uid="style",
        file_name="style/book.css",
        media_type="text/css",
        content=b"body { line-height: 1.5; } h1 { margin-bottom: 1em; }",
    )
    document.add_item(style)
    chapters = []
    for chapter in book.chapters:
        page = ebook.EpubHtml(
            title=chapter.title,
            file_name=f"chapter-{chapter.number:03d}.xhtml",
            lang=book.language,
        )
        page.content = (
            f"<h1>Chapter {chapter.number}: {html.escape(chapter.title)}</h1>\n"
            + renderer.render(chapter.text)
        )
        page.add_item(style)
        document.add_item(page)
        chapters.append(page)
    document.toc = chapters
    document.add_item(ebook.EpubNcx())
    document.add_item(ebook.EpubNav())
    document.spine = ["nav", *chapters]
    buffer = io.BytesIO()
    ebook.write_epub(buffer, document, {"raise_exceptions": True})
    return buffer.getvalue()


def _identifier(book_id: str) -> str:
    try:
        return f"urn:uuid:{uuid.UUID(book_id)}"
    except ValueError:
        return f"urn:skyferry:book:{book_id}"
