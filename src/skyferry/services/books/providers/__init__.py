"""Text providers: whatever writes the outline and the chapters, chosen by ``settings.books``.

``offline`` (the default) composes prose from a grammar, needing no network or key; ``openai``
calls any OpenAI-compatible chat-completions endpoint. Both are async context managers, so a
provider with a connection pool closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from skyferry.services.books.models import BookRequest, OutlineEntry
from skyferry.services.books.settings import BooksSettings


@dataclass(frozen=True)
class Outline:
    """The book's title and one entry per chapter; ``model`` wrote them."""

    title: str
    chapters: list[OutlineEntry]
    model: str


@dataclass(frozen=True)
class Text:
    """A provider's answer and who wrote it: ``model`` is what the provider reported using."""

    text: str
    model: str


class TextProvider(Protocol):
    name: str

    async def outline(self, request: BookRequest) -> Outline:
        """Exactly ``request.chapters`` entries."""
        ...

    async def chapter(self, request: BookRequest, outline: Outline, number: int) -> Text:
        """Chapter ``number`` (1-based) of ``outline``: prose only, without its heading."""
        ...

    async def __aenter__(self) -> TextProvider: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


def open_provider(settings: BooksSettings) -> TextProvider:
    """The provider ``settings.provider`` names; the openai client is imported only when used."""
    if settings.provider == "openai":
        from skyferry.services.books.providers.openai import OpenAIProvider

        return OpenAIProvider(settings)
    from skyferry.services.books.providers.offline import OfflineProvider

    return OfflineProvider(settings)


__all__ = ["Outline", "Text", "TextProvider", "open_provider"]
