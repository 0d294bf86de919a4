"""Reading chat models' answers leniently, and what they are asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from skyferry.services.books.models import BookRequest, OutlineEntry
from skyferry.services.books.providers import Outline, prompts
from skyferry.services.books.providers.openai import retry_after

REQUEST = BookRequest(topic="tide pools", chapters=3)


def titles(outline: Outline) -> list[str]:
    return [entry.title for entry in outline.chapters]


@pytest.mark.parametrize(
    "answer",
    [
        '{"title": "Life Between Tides", "chapters": [{"title": "Rock", "summary": "Where."},'
        ' {"title": "Water"}, {"title": "Life"}]}',
        'Sure! Here it is:\n```json\n{"title": "Life Between Tides", "chapters": '
        '["Rock", "Water", "Life"]}\n```',
    ],
)
def test_outline_from_json_fenced_or_not(answer: str) -> None:
    outline = prompts.parse_outline(answer, REQUEST, "m")
    assert outline.title == "Life Between Tides"
    assert titles(outline) == ["Rock", "Water", "Life"]
    assert [e.number for e in outline.chapters] == [1, 2, 3]
    assert outline.model == "m"


def test_outline_from_a_numbered_or_bulleted_list() -> None:
    numbered = "1. **Rock** - where the pools form\n2) Water\nChapter 3: Life\n"
    assert titles(prompts.parse_outline(numbered, REQUEST, "m")) == ["Rock", "Water", "Life"]
    bulleted = "- Rock\n* Water\n\u2022 Life\n- Extra"
    outline = prompts.parse_outline(bulleted, REQUEST, "m")
    assert titles(outline) == ["Rock", "Water", "Life"]  # extra chapters are dropped
    assert outline.chapters[0].summary == ""
    assert prompts.parse_outline(numbered, REQUEST, "m").chapters[0].summary == (
        "where the pools form"
    )


def test_an_unusable_outline_still_gives_a_book_plan() -> None:
    outline = prompts.parse_outline("I cannot help with that.", REQUEST, "m")
    assert outline.title == "tide pools"
    assert titles(outline) == ["Chapter 1", "Chapter 2", "Chapter 3"]
    short = prompts.parse_outline('{"chapters": [{"title": "Rock"}]}', REQUEST, "m")
    assert titles(short) == ["Rock", "Chapter 2", "Chapter 3"]


def test_the_callers_title_wins_and_control_characters_go() -> None:
    request = BookRequest(topic="tide pools", title="My Title", chapters=1)
    outline = prompts.parse_outline('{"title": "Theirs", "chapters": ["A\\u0000B"]}', request, "m")
    assert outline.title == "My Title"
    assert titles(outline) == ["AB"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("# Rock\n\nThe text.", "The text."),
        ("**Chapter 1: Rock**\nThe text.", "The text."),
        ("Chapter 1 - Rock\n\nThe text.\n\nMore.", "The text.\n\nMore."),
        ("Chapter 1 begins at dawn.\n\nMore.", "Chapter 1 begins at dawn.\n\nMore."),
        ("The\x07 text.\r\nNext line.", "The text.\nNext line."),
    ],
)
def test_a_chapter_loses_its_heading_and_control_characters(answer: str, expected: str) -> None:
    assert prompts.clean_chapter(answer) == expected


def test_chapter_prompt_names_the_chapter_and_carries_the_outline() -> None:
    request = BookRequest(topic="tide pools", chapters=2, words_per_chapter=600, language="de")
    outline = Outline(
        title="Gezeiten",
        chapters=[
            OutlineEntry(number=1, title="Fels", summary="Wo."),
            OutlineEntry(number=2, title="Wasser"),
        ],
        model="m",
    )
    messages = prompts.chapter_messages(request, outline, 2)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert 'Write chapter 2 of 2: "Wasser".' in user
    assert "1. Fels - Wo." in user
    assert "about 600 words" in user
    assert "Language: de" in user
    assert "It covers" not in user
    outline_prompt = prompts.outline_messages(request)[1]["content"]
    assert "exactly 2 chapters" in outline_prompt


def test_retry_after_in_seconds_milliseconds_or_as_a_date() -> None:
    assert retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    assert retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after(httpx.Headers({"retry-after": later})) or 0) <= 30
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    assert retry_after(httpx.Headers({"retry-after": past})) == 0.0
    assert retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after(httpx.Headers({})) is None
