"""The books both fake book APIs know: ISBN rules, and a deterministic, realistic record per book.

The fake Open Library and Google Books servers answer from one ``Catalogue``, so the same ISBN
has the same title, author, pages and genres in both, as a real book mostly has. By default the
catalogue knows every valid ISBN (checksum included; an ISBN-10 and its ISBN-13 are one book),
except those in ``missing``; explicit ``records`` replace the generated ones for exact asserts.
A title search (books without an ISBN) finds the explicit record of that title, or else a book
generated from the title and author, unless the title is in ``missing_titles``.

Generated records carry the noise real catalogues have: subjects duplicated in another case,
shelving and bestseller-list tags (``nyt:hardcover-fiction=2010-05-09``), format tags (``Large
type books``), an edition without subjects where only the work has them, no page count, no
cover, publication dates as free text (``August 1, 2005``, ``c1990``).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

_NOT_ISBN_CHARS = re.compile(r"[\s\-]")
_ISBN10 = re.compile(r"\d{9}[\dX]")
_ISBN13 = re.compile(r"97[89]\d{10}")


def clean_isbn(text: str) -> str:
    """Strip hyphens and spaces, upper-case a final ``x``: the form ISBNs are compared in."""
    return _NOT_ISBN_CHARS.sub("", text).upper()


def _isbn10_check(first9: str) -> str:
    total = sum((10 - i) * int(d) for i, d in enumerate(first9))
    digit = (11 - total % 11) % 11
    return "X" if digit == 10 else str(digit)


def _isbn13_check(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def isbn13(text: str) -> str | None:
    """The ISBN-13 of a valid ISBN-10 or ISBN-13 (hyphens allowed); None if it is not one."""
    isbn = clean_isbn(text)
    if _ISBN10.fullmatch(isbn) and _isbn10_check(isbn[:9]) == isbn[9]:
        first12 = "978" + isbn[:9]
        return first12 + _isbn13_check(first12)
    if _ISBN13.fullmatch(isbn) and _isbn13_check(isbn[:12]) == isbn[12]:
        return isbn
    return None


def isbn10(isbn13_: str) -> str | None:
    """The ISBN-10 of a 978 ISBN-13; 979 books have none."""
    if not isbn13_.startswith("978"):
        return None
    return isbn13_[3:12] + _isbn10_check(isbn13_[3:12])


def make_isbn13(n: int) -> str:
    """The n-th valid ISBN-13 (``978`` + n as nine digits + check digit): fixtures, benches."""
    first12 = f"978{n % 10**9:09d}"
    return first12 + _isbn13_check(first12)


def edition_number(isbn13_: str) -> int:
    """The number in a book's Open Library keys (``/books/OL{n}M``): its ISBN, reversibly."""
    return int(isbn13_[:12]) - 978_000_000_000


def isbn_of_edition(number: int) -> str | None:
    """The ISBN-13 behind an edition number (the inverse of ``edition_number``)."""
    if not 0 <= number < 2_000_000_000:
        return None
    first12 = str(978_000_000_000 + number)
    return first12 + _isbn13_check(first12)


@dataclass(frozen=True)
class Book:
    """One book as the fakes know it; each API shows the part its real counterpart shows.

    ``subjects`` are the Open Library *work's* subjects; ``edition_subjects`` what its edition
    (and so ``/api/books?jscmd=data``) lists, often nothing; ``categories`` are Google's
    (``"Fiction / Science Fiction / General"``), also often nothing.
    """

    isbn13: str
    title: str
    authors: tuple[str, ...]
    subtitle: str | None = None
    publisher: str = "Ace Books"
    publish_date: str = "2005"  # Open Library's free text
    published_date: str = "2005"  # Google's YYYY[-MM[-DD]]
    pages: int | None = None
    subjects: tuple[str, ...] = ()
    edition_subjects: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    cover_id: int | None = None
    average_rating: float | None = None
    ratings_count: int | None = None
    description: str | None = None
    physical_format: str = "Paperback"
    language: str = "en"

    @property
    def isbn10(self) -> str | None:
        return isbn10(self.isbn13)

    @property
    def edition_key(self) -> str:
        return f"/books/OL{edition_number(self.isbn13)}M"

    @property
    def work_key(self) -> str:
        return f"/works/OL{edition_number(self.isbn13)}W"

    @property
    def google_id(self) -> str:
        """A 12-character volume id like Google's (``B1hSG45JCX4C``), fixed per ISBN."""
        digest = hashlib.sha256(b"google:" + self.isbn13.encode()).digest()
        return "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:12])

    def author_key(self, name: str) -> str:
        digest = hashlib.sha256(name.casefold().encode()).digest()
        return f"/authors/OL{int.from_bytes(digest[:4], 'big') % 10**7}A"


_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

# (work subjects a genre brings, Google's category for it)
_GENRES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Science fiction", "Fiction", "Space opera"), "Fiction / Science Fiction / General"),
    (("Fantasy", "Fiction", "Magic", "Dragons"), "Fiction / Fantasy / Epic"),
    (("Mystery and detective stories", "Fiction", "Detectives"), "Fiction / Mystery & Detective"),
    (("Thrillers", "Fiction", "Suspense"), "Fiction / Thrillers / Suspense"),
    (("Romance", "Fiction", "Love stories"), "Fiction / Romance / Contemporary"),
    (("Historical fiction", "Fiction", "History"), "Fiction / Historical / General"),
    (("Horror", "Fiction", "Ghost stories"), "Fiction / Horror"),
    (("History", "Europe", "World War, 1939-1945"), "History / Europe / General"),
    (("Biography", "Biography & Autobiography", "Authors"), "Biography & Autobiography / General"),
    (("Science", "Popular works", "Physics"), "Science / Physics / General"),
    (("Philosophy", "Ethics"), "Philosophy / General"),
    (("Psychology", "Self-help", "Happiness"), "Self-Help / Personal Growth / General"),
    (("Poetry", "American poetry"), "Poetry / American / General"),
    (("Juvenile fiction", "Fiction", "Friendship"), "Juvenile Fiction / General"),
)
_NOISE = (
    "Fiction, general",
    "Accessible book",
    "Protected DAISY",
    "In library",
    "Large type books",
    "American literature",
    "Translations into English",
    "Fiction, science fiction, general",
    "Open Library Staff Picks",
)
_ADJECTIVES = ("Silent", "Hidden", "Last", "Broken", "Golden", "Distant", "Burning", "Winter")
_NOUNS = ("River", "Empire", "Garden", "Machine", "Crown", "Harbor", "Memory", "Star", "Storm")
_FIRST = ("Ursula", "Frank", "Octavia", "Terry", "Agatha", "Iain", "Margaret", "Kazuo", "Zadie")
_LAST = ("Le Guin", "Herbert", "Butler", "Pratchett", "Christie", "Banks", "Atwood", "Smith")
_PUBLISHERS = ("Ace Books", "Tor", "Penguin Books", "Vintage", "HarperCollins", "Orbit", "Del Rey")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August")
_FORMATS = ("Paperback", "Hardcover", "Mass Market Paperback", "E-book")


def _rng(seed: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


def _subjects(rng: random.Random, genre: tuple[str, ...], year: int) -> tuple[str, ...]:
    count = rng.randint(2, 8)
    subjects = list(genre[:count])
    while len(subjects) < count:
        roll = rng.random()
        if roll < 0.25:
            subjects.append(
                f"nyt:hardcover-fiction={year + 1}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
            )
        elif roll < 0.5:
            subjects.append(
                rng.choice(subjects).title() if subjects else "Fiction"
            )  # "Science Fiction"
        else:
            subjects.append(rng.choice(_NOISE))
    return tuple(subjects)


def _publish_dates(rng: random.Random, year: int) -> tuple[str, str]:
    """The same date as Open Library's free text and as Google's ISO-ish publishedDate."""
    month, day = rng.randint(1, 8), rng.randint(1, 28)
    style = rng.randrange(5)
    if style == 0:
        return f"{_MONTHS[month - 1]} {day}, {year}", f"{year}-{month:02d}-{day:02d}"
    if style == 1:
        return f"{_MONTHS[month - 1][:3]} {year}", f"{year}-{month:02d}"
    if style == 2:
        return f"c{year}", str(year)
    return str(year), str(year) if style == 3 else f"{year}-{month:02d}-{day:02d}"


def generated_book(isbn13_: str, *, title: str | None = None, author: str | None = None) -> Book:
    """The record the catalogue makes up for an ISBN (or a title and author): same input, same book.

    Tests that need exact values start from this and ``dataclasses.replace`` what they assert.
    """
    return _generated(isbn13_, title, author)


@lru_cache(maxsize=8192)
def _generated(isbn13_: str, title: str | None, author: str | None) -> Book:
    rng = _rng(isbn13_)
    genre, category = rng.choice(_GENRES)
    year = rng.randint(1950, 2025)
    subjects = _subjects(rng, genre, year)
    publish_date, published_date = _publish_dates(rng, year)
    rated = rng.random() < 0.6
    made_up_title = (
        f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        if rng.random() < 0.6
        else f"{rng.choice(_NOUNS)} of {rng.choice(_NOUNS)}s"
    )
    made_up_author = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    return Book(
        isbn13=isbn13_,
        title=title if title is not None else made_up_title,
        subtitle="A Novel" if title is None and rng.random() < 0.15 else None,
        authors=(author if author is not None else made_up_author,),
        publisher=rng.choice(_PUBLISHERS),
        publish_date=publish_date,
        published_date=published_date,
        pages=rng.randint(90, 900) if rng.random() < 0.9 else None,
        subjects=subjects,
        edition_subjects=subjects[: rng.randint(1, len(subjects))] if rng.random() < 0.6 else (),
        categories=(category,) if rng.random() < 0.8 else (),
        cover_id=rng.randint(1_000_000, 14_999_999) if rng.random() < 0.85 else None,
        average_rating=round(rng.uniform(2.8, 4.8), 1) if rated else None,
        ratings_count=rng.randint(1, 4000) if rated else None,
        description=f"A {genre[0].lower()} book first published in {year}.",
        physical_format=rng.choice(_FORMATS),
    )


def _title_key(title: str, author: str | None) -> tuple[str, str]:
    return (" ".join(title.casefold().split()), " ".join((author or "").casefold().split()))


class Catalogue:
    """What a fake API knows: every valid ISBN but ``missing``, with ``records`` overriding."""

    def __init__(
        self,
        *,
        missing: Iterable[str] = (),
        records: Mapping[str, Book] | None = None,
        missing_titles: Iterable[str] = (),
    ) -> None:
        self.missing = {isbn13(isbn) or clean_isbn(isbn) for isbn in missing}
        self.records: dict[str, Book] = {}
        for isbn, book in (records or {}).items():
            key = isbn13(isbn)
            if key is None:
                raise ValueError(f"records: {isbn!r} is not a valid ISBN")
            self.records[key] = replace(book, isbn13=key)
        self.missing_titles = {_title_key(title, None)[0] for title in missing_titles}

    def by_isbn(self, text: str) -> Book | None:
        """The book with this ISBN-10 or ISBN-13; None if invalid or missing."""
        key = isbn13(text)
        if key is None or key in self.missing:
            return None
        return self.records.get(key) or generated_book(key)

    def by_edition(self, number: int) -> Book | None:
        """The book behind ``/books/OL{number}M`` or ``/works/OL{number}W``."""
        key = isbn_of_edition(number)
        return None if key is None else self.by_isbn(key)

    def by_title(self, title: str, author: str | None = None) -> Book | None:
        """A title (and author) search: an explicit record first, else one made from the query."""
        wanted_title, wanted_author = _title_key(title, author)
        if not wanted_title or wanted_title in self.missing_titles:
            return None
        for book in self.records.values():
            book_title, book_author = _title_key(
                book.title, book.authors[0] if book.authors else ""
            )
            if book_title == wanted_title and wanted_author in ("", book_author):
                return book
        seed = int.from_bytes(
            hashlib.sha256(repr((wanted_title, wanted_author)).encode()).digest()[:4]
        )
        key = make_isbn13(seed)
        if key in self.missing:
            return None
        return generated_book(key, title=" ".join(title.split()), author=author)
