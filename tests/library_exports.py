"""Goodreads exports of any size, made up but shaped like the real ones, for tests and benches.

Book n has ISBN ``make_isbn13(n + first)``, which the fake book APIs know (unless told
otherwise); every seventh book has no ISBN (``=""``), as many real rows do, so it is looked up
by title and author; years, shelves, ratings and pages vary the way real libraries do.
"""

from __future__ import annotations

import csv
import io

from tests.fakes.book_catalogue import make_isbn13

HEADER = [
    "Book Id", "Title", "Author", "Author l-f", "Additional Authors", "ISBN", "ISBN13",
    "My Rating", "Average Rating", "Publisher", "Binding", "Number of Pages", "Year Published",
    "Original Publication Year", "Date Read", "Date Added", "Bookshelves",
    "Bookshelves with positions", "Exclusive Shelf", "My Review", "Spoiler", "Private Notes",
    "Read Count", "Owned Copies",
]  # fmt: skip
_SHELVES = ("read", "read", "read", "to-read", "currently-reading", "did-not-finish")


def goodreads_export(books: int, *, first: int = 1, without_isbn_every: int = 7) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for n in range(books):
        isbn = make_isbn13(first + n)
        has_isbn = not without_isbn_every or n % without_isbn_every != without_isbn_every - 1
        shelf = _SHELVES[n % len(_SHELVES)]
        year = 2015 + n % 10
        writer.writerow(
            [
                str(100_000 + first + n),
                f"Book Number {first + n}",
                f"Author {n % 97}",
                f"{n % 97}, Author",
                "",
                '=""',  # the ISBN-10 column: empty, as for most books since 2007
                f'="{isbn}"' if has_isbn else '=""',
                str(n % 6),
                f"{3 + (n % 20) / 10:.2f}",
                "Some Press",
                "Paperback",
                str(120 + (n * 37) % 600) if n % 11 else "",
                str(year),
                str(year - n % 30),
                f"{year}/{1 + n % 12:02d}/{1 + n % 28:02d}" if shelf == "read" else "",
                f"{year}/01/01",
                "favorites" if n % 5 == 0 else "",
                "",
                shelf,
                "",
                "",
                "",
                "1" if shelf == "read" else "0",
                "0",
            ]
        )
    return out.getvalue().encode()
