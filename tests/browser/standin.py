"""A stand-in for the library service's own API (``/upload``, ``/status``, ``/data``), for the
page tests while the service itself is not installed.

It is a test double of *our* API, not of a third party's: it answers the shapes the service
promises (issue 12) from a Goodreads export, parsed just enough for the pages (no enrichment,
genres from the shelves, covers on a made-up host the browser test serves itself), and it
"processes" an upload over ``PROCESSING_SECONDS`` so the page sees progress move. Once the
service is installed, the browser test runs against it instead (``library_url`` in conftest).
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from skyferry.http.security import ApiKeyGuard
from skyferry.services.library import pages

PROCESSING_SECONDS = 2.0
COVER_HOST = "http://covers.test"
REQUIRED_COLUMNS = ("Title", "Author", "My Rating", "Exclusive Shelf")
_EXCLUSIVE = {"read", "to-read", "currently-reading"}


@dataclass
class Upload:
    filename: str
    size: int
    books: list[dict[str, Any]]
    started: float = field(default_factory=time.monotonic)

    def fraction(self) -> float:
        return min(1.0, (time.monotonic() - self.started) / PROCESSING_SECONDS)


def build_app(api_key: str | None = None) -> FastAPI:
    """The stand-in API with the real pages router on it, as the service will mount it; with
    ``api_key``, behind skyferry's own API key guard, as ``SKYFERRY_API_KEYS`` puts it."""
    app = FastAPI()
    app.include_router(pages.router)
    if api_key:
        app.add_middleware(ApiKeyGuard, keys=[SecretStr(api_key)])
    uploads: dict[str, Upload] = {}

    @app.post("/upload")
    async def upload(request: Request) -> JSONResponse:
        body = await request.body()
        filename, content = _csv_field(request.headers.get("content-type", ""), body)
        if content is None:
            return JSONResponse({"detail": "send the export as multipart field 'csv'"}, 400)
        text = content.decode("utf-8-sig", errors="replace")
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            detail = f"not a Goodreads library export: missing columns {', '.join(missing)}"
            return JSONResponse({"detail": detail}, 400)
        upload_id = str(uuid.uuid4())
        uploads[upload_id] = Upload(filename, len(content), [_book(row) for row in reader])
        return JSONResponse(
            {"uuid": upload_id, "status": "processing", "message": "Upload received"},
            headers={"Location": f"/jobs/{upload_id}"},
        )

    @app.get("/status/{upload_id}")
    async def status(upload_id: str) -> JSONResponse:
        found = uploads.get(upload_id)
        if found is None:
            return JSONResponse({"detail": "no such upload"}, 404)
        total = len(found.books)
        done = int(total * found.fraction())
        complete = done == total
        answer: dict[str, Any] = {
            "uuid": upload_id,
            "status": "complete" if complete else "processing",
            "upload_time": "2026-01-01T00:00:00Z",
            "filename": found.filename,
            "file_size": found.size,
            "progress": {
                "total_books": total,
                "processed_books": done,
                "percent_complete": round(100 * done / total, 1) if total else 100.0,
            },
            "message": "Complete" if complete else f"Enriching books ({done}/{total})",
        }
        if complete:
            answer["data_url"] = f"/data/{upload_id}"
            answer["completion_time"] = "2026-01-01T00:00:02Z"
        return JSONResponse(answer)

    @app.get("/data/{upload_id}")
    async def data(upload_id: str) -> JSONResponse:
        found = uploads.get(upload_id)
        if found is None:
            return JSONResponse({"detail": "no such upload"}, 404)
        if found.fraction() < 1.0:
            return JSONResponse({"detail": "still processing"}, 202)
        return JSONResponse(_dashboard(upload_id, found.books))

    return app


def _csv_field(content_type: str, body: bytes) -> tuple[str, bytes | None]:
    """The ``csv`` part of a multipart form, read with the standard library's MIME parser."""
    if not content_type.startswith("multipart/form-data"):
        return "", None
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "csv":
            payload = part.get_payload(decode=True)
            return part.get_filename() or "", payload if isinstance(payload, bytes) else None
    return "", None


def _isbn(value: str) -> str:
    return value.strip().removeprefix("=").strip('"')


def _book(row: dict[str, str]) -> dict[str, Any]:
    shelves = [s.strip() for s in (row.get("Bookshelves") or "").split(",") if s.strip()]
    status = row["Exclusive Shelf"]
    date_read = (row.get("Date Read") or "").replace("/", "-") or None
    year = int(date_read[:4]) if date_read and status == "read" else None
    pages_text = (row.get("Number of Pages") or "").strip()
    num_pages = int(pages_text) if pages_text.isdigit() and int(pages_text) > 0 else None
    rating = int(row["My Rating"] or 0)
    average = float(row.get("Average Rating") or 0) or None
    isbn13 = _isbn(row.get("ISBN13", ""))
    genres = sorted({s.replace("-", " ").title() for s in shelves if s not in _EXCLUSIVE})
    read_count = int(row.get("Read Count") or 0)
    return {
        "goodreads_id": row.get("Book Id"),
        "title": row["Title"],
        "author": " ".join(row["Author"].split()),
        "isbn": _isbn(row.get("ISBN", "")) or None,
        "isbn13": isbn13 or None,
        "date_read": date_read,
        "reading_year": year,
        "reading_month_year": date_read[:7] if date_read and year else None,
        "my_rating": rating,
        "average_rating": average,
        "is_rated": rating > 0,
        "num_pages": num_pages,
        "publisher": row.get("Publisher") or None,
        "binding": row.get("Binding") or None,
        "publication_year": int(row["Year Published"]) if row.get("Year Published") else None,
        "page_category": _page_category(num_pages),
        "reading_status": status,
        "bookshelves": shelves,
        "genres": genres,
        "thumbnail_url": f"{COVER_HOST}/{isbn13}-M.png" if isbn13 else None,
        "small_thumbnail_url": f"{COVER_HOST}/{isbn13}-S.png" if isbn13 else None,
        "my_review": row.get("My Review") or None,
        "private_notes": row.get("Private Notes") or None,
        "has_spoilers": bool(row.get("Spoiler")),
        "has_review": bool(row.get("My Review")),
        "genre_enriched": bool(genres),
        "was_reread": read_count >= 2,
        "original_read_count": read_count,
    }


def _page_category(pages: int | None) -> str | None:
    if pages is None:
        return None
    if pages < 200:
        return "Short"
    if pages < 350:
        return "Medium"
    return "Long" if pages < 500 else "Very Long"


def _dashboard(upload_id: str, books: list[dict[str, Any]]) -> dict[str, Any]:
    read = [b for b in books if b["reading_status"] == "read"]
    rated = [b for b in books if b["is_rated"]]
    genres = Counter(g for b in books for g in b["genres"])
    dates = sorted(b["date_read"] for b in books if b["date_read"])
    enriched = sum(b["genre_enriched"] for b in books)
    return {
        "books": books,
        "summary": {
            "total_books": len(books),
            "read_books": len(read),
            "rated_books": len(rated),
            "genre_enriched_books": enriched,
            "genre_enrichment_rate": round(100 * enriched / len(books), 1) if books else 0,
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
                {"genre": g, "count": n, "percentage": round(100 * n / len(books), 1)}
                for g, n in genres.most_common(10)
            ],
        },
        "metadata": {
            "export_id": upload_id,
            "export_timestamp": "2026-01-01T00:00:02Z",
            "exporter_version": "stand-in",
            "data_schema_version": "1.0",
            "export_source": "goodreads",
            "processing_notes": [],
        },
    }
