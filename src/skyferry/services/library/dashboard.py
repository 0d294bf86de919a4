"""The dashboard JSON: the original Goodreads Stats shape, field for field.

``books[]`` carry the export's own data with the enrichment merged in (the export wins where it
has a value: it is the reader's own record); ``summary`` is computed over them; ``metadata``
says where the data came from and lists every note (skipped rows, failed lookups, skipped
sources). Rereads count once, at their latest read date; an unrated book (Goodreads' 0) has
``my_rating`` null and ``is_rated`` false.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from skyferry.services.library.enrichment import Enrichment
from skyferry.services.library.exports import ExportBook, ParsedExport

EXPORTER_VERSION = "1.0.0"
DATA_SCHEMA_VERSION = "1.0.0"
TOP_GENRES = 10


def page_category(pages: int | None) -> str | None:
    if not pages:
        return None
    if pages < 200:
        return "Short (<200)"
    if pages < 350:
        return "Medium (200-350)"
    if pages < 500:
        return "Long (350-500)"
    return "Very Long (500+)"


def build(
    upload_id: str,
    parsed: ParsedExport,
    enrichments: dict[str, Enrichment | None],
    notes: list[str],
    now: datetime | None = None,
) -> dict[str, Any]:
    """``enrichments``: each book key's enrichment, or None where it failed."""
    books = [_book(book, enrichments.get(book.key)) for book in parsed.books]
    summary = _summary(books)
    all_notes = [
        "Re-reads treated as single entries using latest read date",
        "Unrated books (rating=0) treated as None for analytics",
        *parsed.notes,
        *notes,
    ]
    undated = sum(1 for b in books if b["reading_status"] == "read" and not b["date_read"])
    if undated:
        all_notes.append(
            f"{undated} read books have no read date: counted as read, left out of the years"
        )
    return {
        "export_id": upload_id,
        "books": books,
        "summary": summary,
        "metadata": {
            "export_id": upload_id,
            "export_timestamp": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
            "exporter_version": EXPORTER_VERSION,
            "data_schema_version": DATA_SCHEMA_VERSION,
            "export_source": f"{parsed.source}_csv_with_genre_enrichment",
            "processing_notes": all_notes,
        },
    }


def _book(book: ExportBook, extra: Enrichment | None) -> dict[str, Any]:
    extra = extra or Enrichment()
    pages = book.num_pages or extra.num_pages
    read_on = book.date_read
    return {
        "goodreads_id": book.goodreads_id,
        "title": book.title,
        "author": book.author,
        "isbn": book.isbn,
        "isbn13": book.isbn13,
        "date_read": read_on.isoformat() if read_on else None,
        "reading_year": read_on.year if read_on else None,
        "reading_month_year": f"{read_on.year}-{read_on.month:02d}" if read_on else None,
        "my_rating": book.my_rating,
        "average_rating": book.average_rating or extra.average_rating,
        "is_rated": book.my_rating is not None,
        "num_pages": pages,
        "publisher": book.publisher or extra.publisher,
        "binding": book.binding,
        "publication_year": book.publication_year or extra.publication_year,
        "page_category": page_category(pages),
        "reading_status": book.reading_status,
        "bookshelves": book.bookshelves,
        "genres": extra.genres,
        "thumbnail_url": extra.thumbnail_url,
        "small_thumbnail_url": extra.small_thumbnail_url,
        "my_review": book.my_review,
        "private_notes": book.private_notes,
        "has_spoilers": book.has_spoilers,
        "has_review": bool(book.my_review),
        "genre_enriched": bool(extra.genres),
        "was_reread": book.read_count > 1,
        "original_read_count": book.read_count,
    }


def _summary(books: list[dict[str, Any]]) -> dict[str, Any]:
    read = [b for b in books if b["reading_status"] == "read"]
    rated = [b for b in books if b["is_rated"]]
    enriched = [b for b in books if b["genre_enriched"]]
    dates = sorted(b["date_read"] for b in read if b["date_read"])
    genres = Counter(g for b in books for g in b["genres"])
    tagged = sum(genres.values())
    return {
        "total_books": len(books),
        "read_books": len(read),
        "rated_books": len(rated),
        "genre_enriched_books": len(enriched),
        "genre_enrichment_rate": round(len(enriched) / len(books) * 100, 1) if books else 0.0,
        "unique_authors": len({b["author"] for b in books}),
        "unique_genres": len(genres),
        "total_pages": sum(b["num_pages"] or 0 for b in read),
        "reading_date_range": {
            "earliest": dates[0] if dates else None,
            "latest": dates[-1] if dates else None,
        },
        "reading_years": sorted({b["reading_year"] for b in read if b["reading_year"]}),
        "average_rating": (
            round(sum(b["my_rating"] for b in rated) / len(rated), 2) if rated else None
        ),
        "most_common_genres": [
            {"genre": genre, "count": count, "percentage": round(count / tagged * 100, 1)}
            for genre, count in genres.most_common(TOP_GENRES)
        ],
    }
