"""Where a book's genres, cover, pages and year come from: one ``Source`` per book API.

Each source answers ``lookup(book)`` with ``Facts``: ``found=False`` only when the API said it
does not know the book. Anything else (429, 5xx, a timeout, a body that is not the API's) is
a ``ProviderError`` after the source's own retries, so an outage is never cached as "unknown".
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from skyferry.services.library.exports import ExportBook


class BookFacts(BaseModel):
    """What a book's export may lack and a source may know."""

    genres: list[str] = Field(default_factory=list)
    thumbnail_url: str | None = None
    small_thumbnail_url: str | None = None
    num_pages: int | None = None
    publication_year: int | None = None
    average_rating: float | None = None
    publisher: str | None = None


class Facts(BookFacts):
    """What one source said of one book; genres as the source names them."""

    found: bool


NOT_FOUND = Facts(found=False)


class Source(Protocol):
    name: str

    async def lookup(self, book: ExportBook) -> Facts: ...

    def available(self) -> str | None:
        """None when the source can be asked; else why it is skipped (for the status)."""
        ...


def cover_url(value: object) -> str | None:
    """A cover link as a source gives it, made https (both send http:// ones, which a page
    served over https would refuse to load); None if it is no http(s) URL."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return None
    return "https://" + value.removeprefix("http://").removeprefix("https://")


def lookup_key(book: ExportBook) -> str:
    """The cache key of a book for every source: its ISBN-13, else normalised title + author.

    The same book in two users' exports has the same key, so the second upload costs no call.
    """
    if book.isbn13:
        return f"isbn:{book.isbn13}"
    title = " ".join(book.lookup_title.lower().split())
    author = " ".join(book.author.lower().split())
    return f"title:{title}|{author}"[:500]
