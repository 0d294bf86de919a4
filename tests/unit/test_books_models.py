"""What a book request accepts, and the errors it gives for what it does not."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from skyferry.services.books.models import BookRequest


def test_defaults_follow_the_original_api() -> None:
    request = BookRequest(topic="  Tide pools ")
    assert request.topic == "Tide pools"
    assert (request.language, request.chapters, request.words_per_chapter) == ("en", 10, 800)
    assert request.title is request.audience is request.style is None


def test_blank_optional_fields_count_as_unset() -> None:
    request = BookRequest(topic="x", title="", audience="  ", style="")
    assert request.title is request.audience is request.style is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"topic": ""}, "topic"),
        ({"topic": "   "}, "topic"),
        ({"topic": "x" * 2048}, "topic"),
        ({"topic": "a\nb"}, "topic"),
        ({"topic": "a\x00b"}, "topic"),
        ({"topic": "x", "chapters": 0}, "chapters"),
        ({"topic": "x", "chapters": 500}, "chapters"),
        ({"topic": "x", "words_per_chapter": 99}, "words_per_chapter"),
        ({"topic": "x", "words_per_chapter": 5001}, "words_per_chapter"),
        ({"topic": "x", "language": "english please"}, "language"),
        ({"topic": "x", "title": "t" * 201}, "title"),
        ({"topic": "x", "colour": "red"}, "colour"),
        ({}, "topic"),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        BookRequest.model_validate(body)
    assert [error["loc"][0] for error in raised.value.errors()] == [field]


@pytest.mark.parametrize("language", ["en", "de", "pt-BR", "zh-Hant", "gsw"])
def test_language_tags(language: str) -> None:
    assert BookRequest(topic="x", language=language).language == language
