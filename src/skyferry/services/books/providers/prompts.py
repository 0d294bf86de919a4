"""What a chat model is asked, and how its answers are read.

Models follow formats loosely, and the service must work with OpenAI-compatible servers it has
never seen, so reading is lenient: an outline is taken from JSON (fenced or not), else from a
numbered or bulleted list; chapters a model left out get a plain "Chapter k" title rather than
failing the book. A chapter loses a leading heading and control characters, which would break
the EPUB's XML.
"""

from __future__ import annotations

import json
import re
from typing import Any

from skyferry.services.books.models import BookRequest, OutlineEntry
from skyferry.services.books.providers import Outline

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LIST_ITEM = re.compile(r"^\s*(?:chapter\s+)?(?:\d+[.):]|[-*\u2022])\s+(.+?)\s*$", re.IGNORECASE)
_MARKDOWN_HEADING = re.compile(r"^\s*#{1,6}\s")
_CHAPTER_LINE = re.compile(r"^\W*chapter\s+\w+\b", re.IGNORECASE)
_TITLE_CHARS = 200
_SUMMARY_CHARS = 600

SYSTEM = (
    "You are a careful non-fiction author. You write clear, accurate, engaging prose in the "
    "language you are asked for, and you follow the requested output format exactly."
)


def outline_messages(request: BookRequest) -> list[dict[str, str]]:
    lines = [
        f"Plan a book about: {request.topic}",
        f"Title: {request.title}" if request.title else "Title: choose a fitting title",
        f"Audience: {request.audience or 'general readers'}",
        f"Style: {request.style or 'clear and engaging'}",
        f"Language: {request.language}",
        f"Write an outline of exactly {request.chapters} chapters, each with a short title and "
        "a one- or two-sentence summary.",
        "Reply with JSON only, in this form:",
        '{"title": "...", "chapters": [{"title": "...", "summary": "..."}]}',
    ]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def chapter_messages(request: BookRequest, outline: Outline, number: int) -> list[dict[str, str]]:
    entry = outline.chapters[number - 1]
    contents = "\n".join(
        f"{e.number}. {e.title}" + (f" - {e.summary}" if e.summary else "")
        for e in outline.chapters
    )
    lines: list[str | None] = [
        f'Book: "{outline.title}", about {request.topic}.',
        f"Audience: {request.audience or 'general readers'}",
        f"Style: {request.style or 'clear and engaging'}",
        f"Language: {request.language}",
        "Outline:",
        contents,
        "",
        f'Write chapter {number} of {len(outline.chapters)}: "{entry.title}".',
        f"It covers: {entry.summary}" if entry.summary else None,
        f"Length: about {request.words_per_chapter} words.",
        "Write the chapter's prose only, as Markdown paragraphs separated by blank lines, "
        "without the chapter title or any heading.",
    ]
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "\n".join(line for line in lines if line is not None)},
    ]


def parse_outline(text: str, request: BookRequest, model: str) -> Outline:
    title, items = _from_json(text) or (None, _from_list(text))
    entries = []
    for number in range(1, request.chapters + 1):
        item_title, summary = items[number - 1] if number <= len(items) else ("", "")
        entries.append(
            OutlineEntry(
                number=number,
                title=_clean_line(item_title, _TITLE_CHARS) or f"Chapter {number}",
                summary=_clean_line(summary, _SUMMARY_CHARS),
            )
        )
    # the caller's title wins; a model's is used only where none was asked for
    book_title = request.title or _clean_line(title or "", _TITLE_CHARS) or request.topic
    return Outline(title=book_title, chapters=entries, model=model)


def clean_chapter(text: str) -> str:
    lines = _CONTROL.sub("", text).replace("\r\n", "\n").strip().split("\n")
    while lines and (not lines[0].strip() or _is_heading(lines[0])):
        lines.pop(0)
    return "\n".join(lines).strip()


def _is_heading(line: str) -> bool:
    """A Markdown heading, or a short "Chapter 3: ..." line that is not a sentence."""
    if _MARKDOWN_HEADING.match(line):
        return True
    stripped = line.strip()
    return (
        bool(_CHAPTER_LINE.match(stripped))
        and len(stripped) <= 120
        and not stripped.endswith((".", "!", "?"))
    )


def _from_json(text: str) -> tuple[str | None, list[tuple[str, str]]] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("chapters"), list):
        return None
    title = data.get("title")
    items = [_item(chapter) for chapter in data["chapters"]]
    return (title if isinstance(title, str) else None), [item for item in items if item[0]]


def _item(chapter: Any) -> tuple[str, str]:
    if isinstance(chapter, str):
        return chapter, ""
    if isinstance(chapter, dict):
        title, summary = chapter.get("title"), chapter.get("summary")
        return (
            title if isinstance(title, str) else "",
            summary if isinstance(summary, str) else "",
        )
    return "", ""


def _from_list(text: str) -> list[tuple[str, str]]:
    items = []
    for line in text.splitlines():
        match = _LIST_ITEM.match(line)
        if match:
            title, _, summary = match.group(1).partition(" - ")
            items.append((title, summary))
    return items


def _clean_line(text: str, limit: int) -> str:
    text = _CONTROL.sub("", text).replace("\n", " ").replace("\r", " ")
    return text.strip().strip("*_#\"'").strip()[:limit]
