"""What a book request accepts, and the errors it gives for what it does not."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
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
        ({"topic": "x", "chapters": "10"}, "chapters"),
        ({"topic": "x", "chapters": True}, "chapters"),
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


# every kind of character the rules treat apart: white space that is stripped (and control
# characters among it), blanks that only str.strip() takes, other controls, XML's non-characters
_SPECIAL = [" ", "\t", "\n", "\r", "\x0b", "\x85", "\xa0", "\u2003", "\u3000", "\x1c", "\x1f"]
_SPECIAL += ["\x00", "\x07", "\x7f", "\ufffe", "\ufeff", "\u200b", "é", "x"]


def _texts(limit: int) -> list[str]:
    texts = ["", "x" * limit, "x" * (limit + 1), " " + "x" * limit + "\n", "x" + " " * limit]
    for a in _SPECIAL:
        texts += [a, a * 3, a + "x", "x" + a, "x" + a + "y", a + "x" + a]
        texts += [a + b for b in _SPECIAL]
    return texts


def _taken(field: str, value: str) -> bool:
    body = {"topic": value} if field == "topic" else {"topic": "x", field: value}
    try:
        BookRequest.model_validate(body)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("field", "limit"), [("topic", 500), ("title", 200), ("style", 200)])
def test_the_schema_takes_exactly_the_texts_the_model_takes(field: str, limit: int) -> None:
    # what /openapi.json says is what the server does, blanks and white space included
    schema = jsonschema_rs.validator_for(BookRequest.model_json_schema()["properties"][field])
    disagree = [text for text in _texts(limit) if schema.is_valid(text) != _taken(field, text)]
    assert disagree == []
