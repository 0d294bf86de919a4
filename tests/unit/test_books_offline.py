"""The offline provider writes readable, varied prose that follows its outline, per seed."""

from __future__ import annotations

import re
import time

import pytest

from skyferry.services.books.models import BookRequest, OutlineEntry
from skyferry.services.books.providers import Outline, open_provider, prose
from skyferry.services.books.providers.offline import OfflineProvider
from skyferry.services.books.settings import BooksSettings

pytestmark = pytest.mark.anyio


def book(request: BookRequest, seed: int = 0) -> tuple[str, list[str]]:
    title, entries = prose.outline(request, seed)
    numbers = range(1, len(entries) + 1)
    return title, [prose.chapter(request, title, entries, n, seed) for n in numbers]


@pytest.mark.parametrize("chapters", [1, 2, 10, 30, 50])
def test_outline_has_the_chapters_asked_for_with_distinct_titles(chapters: int) -> None:
    request = BookRequest(topic="urban beekeeping", chapters=chapters)
    title, entries = prose.outline(request, seed=1)
    assert title
    assert [entry.number for entry in entries] == list(range(1, chapters + 1))
    assert len({entry.title for entry in entries}) == chapters
    assert all(entry.summary for entry in entries)


def test_a_requested_title_is_kept() -> None:
    request = BookRequest(topic="tea", title="All the Tea in the World", chapters=2)
    assert prose.outline(request, 0)[0] == "All the Tea in the World"


def test_same_seed_same_book_other_seed_other_book() -> None:
    request = BookRequest(topic="sourdough baking", chapters=3, words_per_chapter=300)
    assert book(request, seed=7) == book(request, seed=7)
    assert book(request, seed=7)[1] != book(request, seed=8)[1]


def test_chapters_follow_the_topic_and_outline_and_never_repeat_a_paragraph() -> None:
    request = BookRequest(
        topic="urban beekeeping", chapters=10, words_per_chapter=800, audience="city dwellers"
    )
    title, entries = prose.outline(request, 3)
    focuses = prose.focuses(request, entries, 3)
    chapters = [prose.chapter(request, title, entries, n, 3) for n in range(1, 11)]

    paragraphs = [p for text in chapters for p in text.split("\n\n")]
    assert len(paragraphs) == len(set(paragraphs)), "a paragraph was repeated"
    assert len(set(chapters)) == 10
    for number, text in enumerate(chapters, start=1):
        assert "urban beekeeping" in text
        assert focuses[number - 1] in text, "the chapter does not follow its outline entry"
        words = len(text.split())
        assert 700 <= words <= 1000, (number, words)
        if number < 10:
            assert f"In the next chapter, we turn to {focuses[number]}." in text
    assert "city dwellers" in chapters[0]


def test_prose_reads_as_sentences() -> None:
    request = BookRequest(topic="learning the cello", chapters=4, words_per_chapter=1500)
    _, chapters = book(request, seed=11)
    text = "\n\n".join(chapters)
    assert "{" not in text, "an unfilled slot"
    assert not re.search(r"\b[Aa] [aeio]", text), "'a' before a vowel"
    assert "lorem" not in text.lower()
    for paragraph in text.split("\n\n"):
        assert paragraph[0].isupper()
        assert paragraph.rstrip()[-1] in ".?!"
    for chapter in chapters:
        sentences = re.split(r"(?<=[.?!]) ", chapter.replace("\n\n", " "))
        assert all(s[0].isupper() for s in sentences), [s for s in sentences if not s[0].isupper()]
        assert len(sentences) == len(set(sentences)), "a sentence was repeated in a chapter"


def test_long_chapters_stay_varied() -> None:
    request = BookRequest(topic="chess openings", chapters=1, words_per_chapter=5000)
    (_, [text]) = book(request)
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == len(set(paragraphs))
    assert len(text.split()) >= 4900


async def test_provider_follows_settings_and_simulates_latency() -> None:
    settings = BooksSettings(offline_seconds_per_chapter=0.05, offline_seed=5)
    provider = open_provider(settings)
    assert isinstance(provider, OfflineProvider)
    request = BookRequest(topic="knots", chapters=2, words_per_chapter=200)
    async with provider:
        outline = await provider.outline(request)
        started = time.monotonic()
        text = await provider.chapter(request, outline, 2)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.05  # a sleep never ends early, so this cannot flake
    assert text.model == outline.model == "skyferry-grammar-1"
    assert text.text == prose.chapter(request, outline.title, outline.chapters, 2, 5)


async def test_provider_writes_chapters_for_an_outline_it_did_not_write() -> None:
    request = BookRequest(topic="kites", chapters=2, words_per_chapter=200)
    outline = Outline(
        title="Kites",
        chapters=[
            OutlineEntry(number=1, title="Line and Bridle", summary=""),
            OutlineEntry(number=2, title="Flying in Gusts", summary=""),
        ],
        model="elsewhere",
    )
    async with OfflineProvider(BooksSettings(offline_seconds_per_chapter=0)) as provider:
        first = await provider.chapter(request, outline, 1)
    assert "line and Bridle" in first.text
    assert "In the next chapter, we turn to flying in Gusts." in first.text
