"""Reading a library export: Goodreads (every vintage) or StoryGraph, by column name.

Columns are found by name, never by position: Goodreads has shipped a 31-column export (with
``Recommended For`` … ``BCID``), a 24-column one, and in 2026 one without ``Average Rating``;
StoryGraph's has its own names. Names are matched without case, spaces or a BOM mattering.

What real exports hold, and what becomes of it:

- ISBNs written as ``="0441013597"`` (so spreadsheets keep the zeros), empty ones as ``=""``;
  ISBN-10s ending in ``X``; StoryGraph's ``ISBN/UID`` may be an ASIN or its own id. An ISBN is
  kept only when its check digit is right (python-stdnum), so lookups never ask for garbage.
- ``My Rating`` 0 means unrated (None); StoryGraph rates in quarter steps (3.75).
- Dates are ``YYYY/MM/DD`` (also ``YYYY-MM-DD``, ``YYYY/MM``, ``YYYY``); ``Date Read`` is empty
  or only the latest read; StoryGraph lists every read in ``Dates Read``
  (``2025/03/01-2025/03/14, 2026/09/01-2026/09/12``).
- ``Read Count`` 0 for to-read, 2+ for rereads; comma-separated ``Bookshelves``; custom
  exclusive shelves (``did-not-finish``) kept as the reading status.
- Empty or 0 pages are unknown (None); HTML in reviews becomes text; runs of spaces in names
  collapse; a UTF-8 BOM is ignored; a file that is not UTF-8 is read as Windows-1252 (what
  Excel saves), with a note.

A row that cannot be read is skipped and named in the notes; it never fails the upload. A file
that is no export at all (not text, no header, required columns missing) is an ``ExportError``.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field
from stdnum import isbn as isbn_numbers

from skyferry.services.library.errors import ExportError

Source = Literal["goodreads", "storygraph"]

GOODREADS_REQUIRED = ("Title", "Author", "My Rating", "Date Read")
STORYGRAPH_REQUIRED = ("Title", "Authors", "Read Status")
MAX_FIELD_CHARS = 1_000_000
"""A review may be long; a field larger than this is a broken file, not a review."""
MAX_NOTES = 200


class ExportBook(BaseModel):
    """One book of an export, cleaned; the dashboard's fields that the export itself holds."""

    key: str = Field(description="Unique within the export: the Goodreads id, else derived.")
    goodreads_id: str
    title: str
    author: str
    additional_authors: list[str] = Field(default_factory=list)
    isbn: str | None = None
    isbn13: str | None = None
    my_rating: int | float | None = None
    average_rating: float | None = None
    publisher: str | None = None
    binding: str | None = None
    num_pages: int | None = None
    publication_year: int | None = None
    date_read: date | None = None
    date_added: date | None = None
    reading_status: str = "read"
    bookshelves: list[str] = Field(default_factory=list)
    my_review: str | None = None
    private_notes: str | None = None
    has_spoilers: bool = False
    read_count: int = 0

    @property
    def lookup_title(self) -> str:
        """The title without a series suffix: ``Dune (Dune Chronicles, #1)`` → ``Dune``."""
        return _SERIES.sub("", self.title).strip() or self.title


class ParsedExport(BaseModel):
    source: Source
    books: list[ExportBook]
    notes: list[str] = Field(default_factory=list)
    rows: int = 0


@dataclass
class _Notes:
    lines: list[str] = field(default_factory=list)
    dropped: int = 0

    def add(self, line: str) -> None:
        if len(self.lines) < MAX_NOTES:
            self.lines.append(line)
        else:
            self.dropped += 1

    def all(self) -> list[str]:
        if self.dropped:
            return [*self.lines, f"… and {self.dropped} more notes like these"]
        return list(self.lines)


def parse_export(data: bytes, *, max_books: int = 1_000_000) -> ParsedExport:
    """Parse a whole export; raises ``ExportError`` if it is not one."""
    notes = _Notes()
    text = _decode(data, notes)
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ExportError("the file is empty: expected a Goodreads or StoryGraph export") from None
    except csv.Error as exc:
        raise ExportError(f"File must be a CSV: {exc}") from None
    columns = _Columns(header)
    source = columns.source()
    parse_row = _goodreads_row if source == "goodreads" else _storygraph_row
    books: list[ExportBook] = []
    seen: set[str] = set()
    rows = 0
    for number, row in _rows(reader, notes):
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        if len(books) >= max_books:
            notes.add(f"only the first {max_books} books were read; the rest were left out")
            break
        if not columns.fits(row):
            notes.add(
                f"row {number}: skipped: {len(row)} fields where the header has {columns.width}"
            )
            continue
        fields = columns.record(row)
        try:
            book = parse_row(fields, number)
        except ValueError as exc:
            notes.add(f"row {number}: skipped: {exc}")
            continue
        if book.key in seen:
            notes.add(f"row {number}: skipped: a second entry for {book.title!r}")
            continue
        seen.add(book.key)
        books.append(book)
    return ParsedExport(source=source, books=books, notes=notes.all(), rows=rows)


def check_header(data: bytes) -> Source:
    """Which export this is, from its header alone; ``ExportError`` naming what is missing.

    What an upload route can afford to check before answering: the rows are the job's.
    """
    head = data[:65536]
    if b"\x00" in head[:4096]:
        raise ExportError("File must be a CSV: this one is binary")
    text = head.decode("utf-8-sig", errors="replace")
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text)))
    except (StopIteration, csv.Error):
        raise ExportError("File must be a CSV: no header line") from None
    return _Columns(header).source()


# -- the file ------------------------------------------------------------------------------------


def _decode(data: bytes, notes: _Notes) -> str:
    if b"\x00" in data[:4096]:
        raise ExportError("File must be a CSV: this one is binary")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        notes.add("the file is not UTF-8; it was read as Windows-1252")
        return data.decode("cp1252", errors="replace")


def _dialect(text: str) -> type[csv.Dialect]:
    """Goodreads and StoryGraph write commas; a spreadsheet's re-save may use ``;`` or tabs."""
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])

    class Export(csv.excel):
        pass

    Export.delimiter = delimiter if counts[delimiter] else ","
    return Export


def _rows(reader: Iterator[list[str]], notes: _Notes) -> Iterator[tuple[int, list[str]]]:
    """Data rows with their line-ish numbers (the header is row 1); a broken row is noted."""
    number = 1
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            notes.add(f"row {number}: skipped: {exc}")
            return  # the reader cannot resynchronise after a broken quote
        if sum(len(cell) for cell in row) > MAX_FIELD_CHARS:
            notes.add(f"row {number}: skipped: over {MAX_FIELD_CHARS} characters")
            continue
        yield number, row


def _normal(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.replace("\ufeff", "")).strip().lower()


class _Columns:
    def __init__(self, header: list[str]) -> None:
        self.width = len(header)
        self.index: dict[str, int] = {}
        for position, name in enumerate(header):
            self.index.setdefault(_normal(name), position)

    def has(self, name: str) -> bool:
        return _normal(name) in self.index

    def source(self) -> Source:
        if self.has("ISBN/UID") or self.has("Authors"):  # Goodreads says "Author"
            missing = [c for c in STORYGRAPH_REQUIRED if not self.has(c)]
            source: Source = "storygraph"
        else:
            missing = [c for c in GOODREADS_REQUIRED if not self.has(c)]
            source = "goodreads"
        if missing:
            raise ExportError(
                "Invalid CSV format or not a Goodreads export: missing columns "
                + ", ".join(missing),
                missing_columns=missing,
            )
        return source

    def fits(self, row: list[str]) -> bool:
        """A row cut short (a stray line break) or with extra values (shifted columns) is
        broken; one with trailing empty fields missing or added, as spreadsheets save it, is
        not."""
        extra = row[self.width :]
        return self.width // 2 < len(row) and not any(cell.strip() for cell in extra)

    def record(self, row: list[str]) -> Callable[[str], str]:
        def get(name: str) -> str:
            position = self.index.get(_normal(name))
            if position is None or position >= len(row):
                return ""
            return row[position].strip()

        return get


# -- rows ----------------------------------------------------------------------------------------


def _goodreads_row(get: Callable[[str], str], number: int) -> ExportBook:
    title = _name(get("Title"))
    if not title:
        raise ValueError("it has no title")
    author = _name(get("Author")) or "Unknown"
    goodreads_id = get("Book Id")
    if goodreads_id and not goodreads_id.isdigit():
        raise ValueError(f"its Book Id {goodreads_id[:40]!r} is not a number")
    isbn10, isbn13 = _isbns(get("ISBN"), get("ISBN13"))
    shelves = _list(get("Bookshelves"))
    status = get("Exclusive Shelf").lower() or "read"
    read_count = _int(get("Read Count")) or 0
    return ExportBook(
        key=goodreads_id or _derived_key(title, author, number),
        goodreads_id=goodreads_id or _derived_key(title, author, number),
        title=title,
        author=author,
        additional_authors=[_name(a) for a in _list(get("Additional Authors"))],
        isbn=isbn10,
        isbn13=isbn13,
        my_rating=_rating(get("My Rating")),
        average_rating=_float(get("Average Rating")),
        publisher=_name(get("Publisher")) or None,
        binding=get("Binding") or None,
        num_pages=_pages(get("Number of Pages")),
        publication_year=_year(get("Original Publication Year")) or _year(get("Year Published")),
        date_read=_date(get("Date Read")),
        date_added=_date(get("Date Added")),
        reading_status=status,
        bookshelves=shelves,
        my_review=_text(get("My Review")),
        private_notes=_text(get("Private Notes")),
        has_spoilers=get("Spoiler").lower() in ("true", "yes", "1"),
        read_count=read_count,
    )


def _storygraph_row(get: Callable[[str], str], number: int) -> ExportBook:
    title = _name(get("Title"))
    if not title:
        raise ValueError("it has no title")
    authors = [_name(a) for a in _list(get("Authors"))]
    author = authors[0] if authors else "Unknown"
    uid = get("ISBN/UID").strip('="')
    isbn10, isbn13 = _isbns(uid, "")
    reads = _read_dates(get("Dates Read"))
    date_read = _date(get("Last Date Read")) or (reads[-1] if reads else None)
    status = get("Read Status").lower() or "read"
    read_count = _int(get("Read Count"))
    if read_count is None:
        read_count = max(len(reads), 1 if status == "read" else 0)
    key = f"sg-{_digest(f'{uid}|{title}|{author}')}"
    return ExportBook(
        key=key,
        goodreads_id=key,
        title=title,
        author=author,
        additional_authors=authors[1:],
        isbn=isbn10,
        isbn13=isbn13,
        my_rating=_rating(get("Star Rating")),
        binding=get("Format") or None,
        date_read=date_read,
        date_added=_date(get("Date Added")),
        reading_status=status,
        bookshelves=_list(get("Tags")),
        my_review=_text(get("Review")),
        read_count=read_count,
    )


# -- fields --------------------------------------------------------------------------------------

_SERIES = re.compile(r"\s*\([^()]*#\s*[\d.\-]+\)\s*$")
_TAG = re.compile(r"<[^>]{0,2000}>")
_BREAK = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?$")
_SPAN = re.compile(r"(\d{4}[/-]\d{1,2}[/-]\d{1,2})\s*$")


def _name(value: str) -> str:
    return " ".join(value.split())


def _list(value: str) -> list[str]:
    return [item for item in (" ".join(part.split()) for part in value.split(",")) if item]


def _isbns(first: str, second: str) -> tuple[str | None, str | None]:
    """(ISBN-10, ISBN-13) from the export's two columns, each checked; either may be None."""
    isbn10 = isbn13 = None
    for raw in (first, second):
        value = raw.strip().lstrip("=").strip('"').replace("-", "").replace(" ", "").upper()
        if not value or not isbn_numbers.is_valid(value):
            continue
        if len(value) == 10:
            isbn10 = isbn10 or value
            isbn13 = isbn13 or isbn_numbers.to_isbn13(value)
        else:
            isbn13 = isbn13 or value
            if isbn10 is None and value.startswith("978"):
                isbn10 = isbn_numbers.to_isbn10(value)
    return isbn10, isbn13


def _int(value: str) -> int | None:
    try:
        return int(float(value)) if value else None
    except (ValueError, OverflowError):
        return None


def _float(value: str) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number <= 5 else None


def _rating(value: str) -> float | None:
    number = _float(value)
    if not number:
        return None  # 0 is Goodreads' "not rated"
    return int(number) if number == int(number) else number


def _pages(value: str) -> int | None:
    pages = _int(value)
    return pages if pages and 0 < pages < 100_000 else None


def _year(value: str) -> int | None:
    year = _int(value)
    return year if year and -3000 < year <= date.today().year + 5 else None


def _date(value: str) -> date | None:
    match = _DATE.match(value.strip())
    if match is None:
        return None
    year, month, day = (int(part) if part else 1 for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _read_dates(value: str) -> list[date]:
    """StoryGraph's ``Dates Read``: reads as ``start-end`` spans (or single dates), in order."""
    found = []
    for span in value.split(","):
        match = _SPAN.search(span.strip())
        if match and (when := _date(match.group(1))):
            found.append(when)
    return sorted(found)


def _text(value: str) -> str | None:
    if not value.strip():
        return None
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", value)))
    return text.strip() or None


def _derived_key(title: str, author: str, number: int) -> str:
    return f"row-{_digest(f'{title}|{author}|{number}')}"


def _digest(text: str) -> str:
    """A stable id for a book its export gives none (StoryGraph, a Goodreads row without one)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
