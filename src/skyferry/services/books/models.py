"""Request and response schemas of the books API.

``GET /books/{id}`` keeps the Lambda-era contract that existing clients poll: ``book_id`` and
``status`` at the top, and the finished book under ``book`` once ``status`` is ``succeeded``
(``null`` before). Everything else is additive.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from skyferry.http.bodies import JsonInt
from skyferry.jobs.models import JobError, JobStatus

DownloadFormat = Literal["md", "txt", "epub"]

# control characters, and what XML 1.0 cannot hold at all (surrogates, U+FFFE, U+FFFF): these
# strings end up in prompts, file names and the EPUB's XML
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

# The same rules as JSON Schema patterns, so that /openapi.json says what is taken. What
# strip_whitespace takes off both ends is Unicode's White_Space (pydantic strips as Rust's
# str::trim does); str.strip(), which decides what is blank, also takes U+001C-U+001F.
# Surrogates are left out of the patterns: a schema's regex cannot name them, and UTF-8 JSON
# cannot carry them.
_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_BLANK = _SPACE + r"\x1c-\x1f"
_CONTROL_CLASS = r"\x00-\x1f\x7f\ufffe\uffff"


def _text_pattern(max_length: int) -> str:
    """A single line of 1 to ``max_length`` characters once white space is stripped."""
    inner, edge = f"[^{_CONTROL_CLASS}]", f"[^{_SPACE}{_CONTROL_CLASS}]"
    return rf"^[{_SPACE}]*{edge}(?:{inner}{{0,{max_length - 2}}}{edge})?[{_SPACE}]*$"


def _text_schema(max_length: int) -> dict[str, str]:
    return {"type": "string", "pattern": _text_pattern(max_length)}


BLANK_SCHEMA = {
    "type": "string",
    "pattern": f"^[{_BLANK}]*$",
    "description": 'Blank (""): the same as leaving the field out.',
}

Topic = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    WithJsonSchema(_text_schema(500), mode="validation"),
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalText = Annotated[
    ShortText | None,
    # older clients send "" (or blanks) for fields they leave out: taken as unset
    WithJsonSchema(
        {"anyOf": [_text_schema(200), BLANK_SCHEMA, {"type": "null"}]}, mode="validation"
    ),
]


class BookRequest(BaseModel):
    """What to write. Also the job's parameters, so an Idempotency-Key compares all of it."""

    model_config = ConfigDict(extra="forbid")

    topic: Topic = Field(description="What the book is about, 1-500 characters.")
    title: OptionalText = Field(default=None, description="Chosen by the provider if unset.")
    audience: OptionalText = Field(default=None, description="Who the book is written for.")
    language: str = Field(
        default="en",
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        max_length=35,
        description="BCP 47 language tag, e.g. en, de, pt-BR.",
    )
    chapters: JsonInt = Field(default=10, ge=1, le=50)
    words_per_chapter: JsonInt = Field(default=800, ge=100, le=5000)
    style: OptionalText = Field(default=None, description="e.g. 'playful', 'for exams'.")

    @field_validator("title", "audience", "style", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # older clients send "" for fields they leave out
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("topic", "title", "audience", "style")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        # these end up in prompts, file names and EPUB XML, where control characters break things
        if value is not None and _CONTROL.search(value):
            raise ValueError(
                "must be a single line without control characters or characters XML cannot hold"
            )
        return value


class OutlineEntry(BaseModel):
    number: int
    title: str
    summary: str = ""


class Chapter(BaseModel):
    number: int
    title: str
    text: str
    word_count: int
    seconds: float = Field(description="How long the provider took to write it.")


class BookContent(BaseModel):
    """The finished book, as stored in ``books/{id}/book.json`` by the assemble step."""

    title: str
    topic: str
    language: str
    audience: str | None = None
    outline: list[OutlineEntry]
    chapters: list[Chapter]
    word_count: int
    provider: str
    model: str


class BookProgress(BaseModel):
    phase: str = Field(description="queued, outline, 'chapter k of n', assembling or done.")
    done: int
    total: int | None = None


class BookTimings(BaseModel):
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    queued_seconds: float | None = None
    running_seconds: float | None = None


class BookView(BaseModel):
    id: str
    book_id: str = Field(description="Same as id; the name the Lambda-era API used.")
    status: JobStatus
    topic: str
    title: str | None = None
    request: BookRequest
    progress: BookProgress
    timings: BookTimings
    word_count: int | None = None
    provider: str | None = None
    model: str | None = None
    error: JobError | None = None
    book: BookContent | None = None
    links: dict[str, str] = Field(default_factory=dict)


class BookPage(BaseModel):
    items: list[BookView]
    next_cursor: str | None = None
