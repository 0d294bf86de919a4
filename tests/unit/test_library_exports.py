"""Library exports as users' files hold them: every Goodreads vintage, StoryGraph, the quirks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from skyferry.services.library.errors import ExportError
from skyferry.services.library.exports import check_header, parse_export
from skyferry.services.library.genres import merge, normalise

FIXTURES = Path(__file__).parent.parent / "fixtures" / "library"
GOODREADS_24 = (
    "Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Average Rating,"
    "Publisher,Binding,Number of Pages,Year Published,Original Publication Year,Date Read,"
    "Date Added,Bookshelves,Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,"
    "Private Notes,Read Count,Owned Copies\n"
)


def test_goodreads_quirks_are_cleaned() -> None:
    parsed = parse_export((FIXTURES / "goodreads_31_columns.csv").read_bytes())
    assert parsed.source == "goodreads"
    books = {b.goodreads_id: b for b in parsed.books}
    dune = books["234225"]
    assert dune.author == "Frank Herbert"  # two spaces in the export
    assert (dune.isbn, dune.isbn13) == ("0441013597", "9780441013593")  # ="…" unwrapped
    assert dune.bookshelves == ["sci-fi", "favorites"]
    assert dune.read_count == 2
    assert dune.date_read == date(2019, 8, 15)
    assert dune.publication_year == 1965  # the original's year, not the edition's
    assert dune.lookup_title == "Dune"
    assert dune.my_review == "A masterpiece.\n\nWorldbuilding & politics."
    kite = books["77203"]
    assert kite.isbn == "159463193X"  # the X check digit
    assert kite.reading_status == "did-not-finish"
    potter = books["3"]
    assert (potter.isbn, potter.isbn13) == (None, None)  # ="" is no ISBN
    assert potter.date_read is None
    assert books["18144590"].my_rating is None  # 0 is unrated
    assert books["40961427"].has_spoilers is True
    assert any("row 12" in note and "fields" in note for note in parsed.notes)


def test_the_2026_export_without_average_rating_reads_by_name() -> None:
    parsed = parse_export((FIXTURES / "goodreads_2026.csv").read_bytes())
    hail_mary = parsed.books[0]
    assert hail_mary.title == "Project Hail Mary"
    assert hail_mary.average_rating is None
    assert hail_mary.publisher == "Ballantine Books"  # one column to the left of 2025's
    assert hail_mary.num_pages == 476


def test_storygraph_exports() -> None:
    parsed = parse_export((FIXTURES / "storygraph.csv").read_bytes())
    assert parsed.source == "storygraph"
    books = {b.title: b for b in parsed.books}
    red = books["Red Rising"]
    assert red.author == "Pierce Brown"
    assert red.additional_authors == ["Someone Else"]
    assert red.my_rating == 3.75
    assert red.read_count == 2
    assert red.date_read == date(2026, 9, 12)
    psalm = books["A Psalm for the Wild-Built"]
    assert psalm.bookshelves == ["cozy", "solarpunk"]
    assert psalm.my_review == 'Lovely.\nMade me want tea, "badly".'
    assert books["Whipping Star"].isbn == "042504355X"
    assert books["Some Web Novel"].isbn is None  # a UID, not an ISBN
    assert books["Some Web Novel"].reading_status == "did-not-finish"
    assert len({b.key for b in parsed.books}) == len(parsed.books)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('"=""0441013597"""', "0441013597"),
        ("0441013597", "0441013597"),
        ('"=""0441013598"""', None),  # a wrong check digit
        ('"="""""', None),
        ("12345", None),
    ],
)
def test_isbn_cells(cell: str, expected: str | None) -> None:
    row = f"1,Dune,Frank Herbert,,,{cell},,4,4.2,Ace,,412,,,2024/01/02,,,,read,,,,1,0\n"
    book = parse_export((GOODREADS_24 + row).encode()).books[0]
    assert book.isbn == expected


def test_bom_semicolons_and_windows_1252() -> None:
    header = GOODREADS_24.replace(",", ";")
    row = "7;Café Society;Zoë Heller;;;;;4;;;;;;;2021/05/06;;;;read;;;;1;0\n"
    parsed = parse_export("\ufeff".encode() + (header + row).encode("cp1252"))
    assert parsed.books[0].title == "Café Society"
    assert parsed.books[0].author == "Zoë Heller"
    assert any("Windows-1252" in note for note in parsed.notes)


def test_trailing_empty_fields_are_no_fault() -> None:
    row = "4,Emma,Jane Austen,,,,,5,,,,,,,2020/02/03,,,,read,,,,1,0,,\n"  # two commas too many
    shifted = "5,Persuasion,Jane Austen,,,,,5,,,,,,,2020/02/03,,,,read,,,,1,0,oops\n"
    parsed = parse_export((GOODREADS_24 + row + shifted).encode())
    assert [b.title for b in parsed.books] == ["Emma"]
    assert any("row 3" in note for note in parsed.notes)


def test_a_bad_row_is_noted_and_the_rest_are_read() -> None:
    rows = (
        "1,,Nobody,,,,,0,,,,,,,,,,,read,,,,0,0\n"  # no title
        "2,Dune,Frank Herbert,,,,,4,,,,412,,,2024/13/45,,,,read,,,,1,0\n"  # a date that is none
        "x3,Bad Id,Someone,,,,,4,,,,,,,,,,,read,,,,1,0\n"
        "4,Emma,Jane Austen,,,,,5,,,,,,,2020/02/03,,,,read,,,,1,0\n"
    )
    parsed = parse_export((GOODREADS_24 + rows).encode())
    assert [b.title for b in parsed.books] == ["Dune", "Emma"]
    assert parsed.books[0].date_read is None
    assert any("row 2" in n and "title" in n for n in parsed.notes)
    assert any("row 4" in n and "Book Id" in n for n in parsed.notes)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"Name,Rating\nDune,5\n", "missing columns Title, Author, My Rating, Date Read"),
        (b"Title,Authors,Format\nDune,Frank,paper\n", "missing columns Read Status"),
    ],
)
def test_what_is_not_an_export_says_why(data: bytes, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        parse_export(data)
    if data:
        with pytest.raises(ExportError, match=message):
            check_header(data)


def test_genres_from_every_source_become_one_vocabulary() -> None:
    assert normalise(
        [
            "Fiction, science fiction, general",
            "Accessible book",
            "nyt:hardcover-fiction=2010-05-09",
            "Science fiction",
            "Mars (Planet) -- Fiction",
            "sci-fi",
        ]
    ) == ["Fiction", "Science Fiction"]
    assert merge(["Fiction / Science Fiction / Space Opera"], ["Fantasy fiction", "FICTION"]) == [
        "Fiction",
        "Science Fiction",
        "Space Opera",
        "Fantasy",
    ]
    assert normalise(["young-adult", "literary-fiction", "favourites", "to-read"]) == [
        "Young Adult",
        "Literary Fiction",
    ]
