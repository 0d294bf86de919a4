"""A fake Google Books API: real HTTP on localhost, its wire format and quotas, scripted failures.

``GET /books/v1/volumes?q=isbn:9780441013593&key=KEY`` (also ``q=intitle:…+inauthor:…``) answers
the Volumes list of https://developers.google.com/books/docs/v1/reference/volumes/list:
``{"kind": "books#volumes", "totalItems", "items": [{"kind": "books#volume", "id", "etag",
"selfLink", "volumeInfo": {title, subtitle, authors, publisher, publishedDate, description,
industryIdentifiers [{type: ISBN_13|ISBN_10, identifier}], pageCount, printType, categories
["Fiction / Science Fiction / General"], averageRating, ratingsCount, imageLinks
{smallThumbnail, thumbnail}, language, previewLink, infoLink, canonicalVolumeLink}, "saleInfo",
"accessInfo"}]}``; an unknown book is ``{"kind": "books#volumes", "totalItems": 0}`` with no
``items`` (https://developers.google.com/books/docs/v1/using#WorkingVolumes).

Errors have Google's JSON shape (https://cloud.google.com/apis/design/errors#http_mapping):
``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}``.

- no ``key``: 429 ``RESOURCE_EXHAUSTED`` / ``rateLimitExceeded`` — keyless calls share one
  anonymous daily quota that is always spent (counted in ``over_limit`` as ``"keyless"``);
- a key the fake does not know: 400 ``INVALID_ARGUMENT`` "API key not valid. Please pass a valid
  API key." with an ``API_KEY_INVALID`` ErrorInfo; no ``q``: 400 "Missing query.";
- per key, at most ``requests_per_window`` (100) requests in any ``window_seconds`` (100 s) —
  "Queries per 100 seconds per user" — then 429 ``rateLimitExceeded`` (``"window"``);
- per key, ``daily_quota`` admitted requests ("Queries per day"; ``new_day()`` restarts it),
  then 429 ``rateLimitExceeded`` with the per-day message (``"daily"``).

Today's Google answers quota errors as 429 ``RESOURCE_EXHAUSTED`` with reason
``rateLimitExceeded`` and the quota named in the message ("Quota exceeded for quota metric
'Queries' and limit 'Queries per day' of service 'books.googleapis.com' …", as users report in
e.g. https://github.com/bdlukaa/books_finder/issues/26); older clients still see the legacy form,
403 with domain ``usageLimits`` and reason ``userRateLimitExceeded`` / ``dailyLimitExceeded``:
``quota_style="legacy"`` serves that. ``Retry-After`` is sent on limit errors only if
``retry_after`` is set (Google rarely sends one); scripts (``Fail(429, {"Retry-After": "3"})``,
``Fail(403, reason="quotaExceeded")``, ``Fail(503)``, ``Slow``, ``Hang``, ``Malformed``) serve
admitted requests.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.api_controls import (
    TRUNCATED_JSON,
    Behaviour,
    Call,
    Fail,
    FakeServer,
    Hang,
    Malformed,
    Reply,
    SlidingWindow,
    Slow,
    normalised_isbns,
    retry_after,
)
from tests.fakes.book_catalogue import Book, Catalogue

__all__ = [
    "TRUNCATED_JSON",
    "Behaviour",
    "Book",
    "Call",
    "Fail",
    "FakeGoogleBooks",
    "Hang",
    "Malformed",
    "Reply",
    "Slow",
    "google_books_server",
    "parse_query",
]

QuotaStyle = Literal["resource_exhausted", "legacy"]

_TERM = re.compile(r"\b(isbn|intitle|inauthor):", re.IGNORECASE)
_CONSUMER = "project_number:418062843517"
_PER_100S = "Queries per 100 seconds per user"
_PER_DAY = "Queries per day"
_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    400: ("Request contains an invalid argument.", "global", "badRequest"),
    403: (
        "The request cannot be completed because you have exceeded your quota.",
        "usageLimits",
        "quotaExceeded",
    ),
    429: (
        f"Quota exceeded for quota metric 'Queries' and limit '{_PER_100S}'",
        "global",
        "rateLimitExceeded",
    ),
    500: ("Backend Error", "global", "backendError"),
    503: ("The service is currently unavailable.", "global", "backendError"),
    504: ("Deadline expired before operation could complete.", "global", "deadlineExceeded"),
}
_GOOGLE_502 = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    "  <title>Error 502 (Server Error)!!1</title>\n"
    "  <p><b>502.</b> <ins>That's an error.</ins>\n"
    "  <p>The server encountered a temporary error and could not complete your request."
    "<p>Please try again in 30 seconds.  <ins>That's all we know.</ins>\n"
)


def parse_query(q: str) -> tuple[str | None, str | None, str | None]:
    """(isbn, title, author) from the ``isbn:``, ``intitle:`` and ``inauthor:`` terms of ``q``.

    A query with no such term is taken as a title, the closest a catalogue of one book per title
    comes to Google's full-text search.
    """
    terms: dict[str, str] = {}
    marks = list(_TERM.finditer(q))
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(q)
        value = q[mark.end() : end].replace("+", " ").strip().strip('"').strip()
        terms[mark.group(1).lower()] = " ".join(value.split())
    if not marks and q.strip():
        terms["intitle"] = " ".join(q.replace("+", " ").split())
    return terms.get("isbn"), terms.get("intitle"), terms.get("inauthor")


class FakeGoogleBooks(FakeServer):
    """Google Books' volume search over a deterministic ``Catalogue``; see the module docstring."""

    def __init__(
        self,
        *,
        api_keys: Collection[str] = ("fake-books-key",),
        missing: Iterable[str] = (),
        records: Mapping[str, Book] | None = None,
        missing_titles: Collection[str] = (),
        requests_per_window: int = 100,
        window_seconds: float = 100.0,
        daily_quota: int | None = 1000,
        quota_style: QuotaStyle = "resource_exhausted",
        retry_after: bool = False,
        latency: float = 0.0,
    ) -> None:
        super().__init__(latency=latency)
        if not api_keys:
            raise ValueError("api_keys: give at least one key the fake accepts")
        if daily_quota is not None and daily_quota < 0:
            raise ValueError(f"daily_quota must not be negative, not {daily_quota}")
        if quota_style not in ("resource_exhausted", "legacy"):
            raise ValueError(
                f"Invalid quota_style {quota_style!r}: choose resource_exhausted|legacy"
            )
        self.api_keys = tuple(api_keys)
        self.api_key = self.api_keys[0]
        self.catalogue = Catalogue(missing=missing, records=records, missing_titles=missing_titles)
        self.windows = {
            key: SlidingWindow(requests_per_window, window_seconds) for key in self.api_keys
        }
        self.daily_quota = daily_quota
        self.quota_style: QuotaStyle = quota_style
        self.retry_after = retry_after
        self._used_today: Counter[str] = Counter()
        self.app = self._build_app()

    def used_today(self, key: str | None = None) -> int:
        """Admitted requests today for ``key`` (default: the first key)."""
        with self._lock:
            return self._used_today[key or self.api_key]

    def new_day(self) -> None:
        """Midnight Pacific: every key's daily quota starts again."""
        with self._lock:
            self._used_today.clear()

    def reset(self) -> None:
        super().reset()
        self.new_day()
        for window in self.windows.values():
            window.clear()

    # -- the server ------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/books/v1/volumes")
        async def volumes(request: Request) -> Response:
            q = request.query_params.get("q", "")
            isbn, title, author = parse_query(q)
            call = Call(
                path=request.url.path,
                query=dict(request.query_params),
                headers=dict(request.headers),
                at=time.monotonic(),
                isbns=normalised_isbns([isbn]) if isbn else (),
                title=title,
                author=author,
            )
            key = request.query_params.get("key")
            refusal = self._refusal(call, key, q)
            return await self._handle(
                call, refusal, lambda: self._answer(q, isbn, title, author), self._failure
            )

        return app

    def _refusal(self, call: Call, key: str | None, q: str) -> Response | None:
        if not key:
            # the anonymous pool is Google's, shared by everyone, and always spent
            self._refused("keyless")
            return self._limit_error(_PER_DAY, None, "dailyLimitExceeded", "resource_exhausted")
        if key not in self.windows:
            return _error(
                400,
                "API key not valid. Please pass a valid API key.",
                "global",
                "badRequest",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "books.googleapis.com"},
                    }
                ],
            )
        if not q.strip():
            return _error(400, "Missing query.", "global", "queryRequired")
        with self._lock:
            spent = self.daily_quota is not None and self._used_today[key] >= self.daily_quota
        if spent:
            self._refused("daily")
            return self._limit_error(_PER_DAY, None, "dailyLimitExceeded")
        wait = self.windows[key].admit(call.at)
        if wait is not None:
            self._refused("window")
            return self._limit_error(_PER_100S, wait, "userRateLimitExceeded")
        with self._lock:
            self._used_today[key] += 1
        return None

    def _limit_error(
        self, limit: str, wait: float | None, legacy_reason: str, style: QuotaStyle | None = None
    ) -> Response:
        headers = {"Retry-After": retry_after(wait or 1.0)} if self.retry_after else None
        if (style or self.quota_style) == "legacy":
            message = "Daily Limit Exceeded" if limit == _PER_DAY else "User Rate Limit Exceeded"
            return _error(403, message, "usageLimits", legacy_reason, headers=headers)
        message = (
            f"Quota exceeded for quota metric 'Queries' and limit '{limit}' of service "
            f"'books.googleapis.com' for consumer '{_CONSUMER}'."
        )
        return _error(429, message, "global", "rateLimitExceeded", headers=headers)

    def _failure(self, fail: Fail) -> Response:
        if fail.status == 502:
            return Response(
                _GOOGLE_502, status_code=502, headers=fail.headers, media_type="text/html"
            )
        message, domain, reason = _MESSAGES.get(
            fail.status, ("Backend Error", "global", "backendError")
        )
        if fail.status == 429:
            message += f" of service 'books.googleapis.com' for consumer '{_CONSUMER}'."
        return _error(fail.status, message, domain, fail.reason or reason, headers=fail.headers)

    def _answer(self, q: str, isbn: str | None, title: str | None, author: str | None) -> Response:
        book = (
            self.catalogue.by_isbn(isbn)
            if isbn
            else self.catalogue.by_title(title, author)
            if title
            else None
        )
        body: dict[str, Any] = {"kind": "books#volumes", "totalItems": 1 if book else 0}
        if book is not None:
            body["items"] = [_volume(book, q)]
        return JSONResponse(body)


def _error(
    status: int,
    message: str,
    domain: str,
    reason: str,
    *,
    headers: Mapping[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
        "status": _STATUS.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


def _has_google_cover(book: Book) -> bool:
    # Google's covers are its own: mostly, but not always, where Open Library has one
    return hashlib.sha256(b"cover:" + book.isbn13.encode()).digest()[0] % 10 != 0


def _volume(book: Book, q: str) -> dict[str, Any]:
    """One ``books#volume``, the fields in Google's order."""
    gid = book.google_id
    dq = q.replace(" ", "+")
    info: dict[str, Any] = {"title": book.title}
    if book.subtitle:
        info["subtitle"] = book.subtitle
    info["authors"] = list(book.authors)
    info["publisher"] = book.publisher
    info["publishedDate"] = book.published_date
    if book.description:
        info["description"] = book.description
    info["industryIdentifiers"] = [{"type": "ISBN_13", "identifier": book.isbn13}] + (
        [{"type": "ISBN_10", "identifier": book.isbn10}] if book.isbn10 else []
    )
    info["readingModes"] = {"text": False, "image": False}
    if book.pages is not None:
        info["pageCount"] = book.pages
    info["printType"] = "BOOK"
    if book.categories:
        info["categories"] = list(book.categories)
    if book.average_rating is not None:
        info["averageRating"] = book.average_rating
        info["ratingsCount"] = book.ratings_count
    info["maturityRating"] = "NOT_MATURE"
    info["allowAnonLogging"] = False
    info["contentVersion"] = "0.3.2.0.preview.0"
    if _has_google_cover(book):
        content = f"http://books.google.com/books/content?id={gid}&printsec=frontcover&img=1"
        info["imageLinks"] = {
            "smallThumbnail": f"{content}&zoom=5&source=gbs_api",
            "thumbnail": f"{content}&zoom=1&source=gbs_api",
        }
    info["language"] = book.language
    info["previewLink"] = (
        f"http://books.google.com/books?id={gid}&printsec=frontcover&dq={dq}&hl=&cd=1&source=gbs_api"
    )
    info["infoLink"] = f"http://books.google.com/books?id={gid}&dq={dq}&hl=&source=gbs_api"
    slug = re.sub(r"\W+", "_", book.title).strip("_")
    info["canonicalVolumeLink"] = f"https://books.google.com/books/about/{slug}.html?hl=&id={gid}"
    return {
        "kind": "books#volume",
        "id": gid,
        "etag": hashlib.sha256(b"etag:" + book.isbn13.encode()).hexdigest()[:11],
        "selfLink": f"https://www.googleapis.com/books/v1/volumes/{gid}",
        "volumeInfo": info,
        "saleInfo": {"country": "US", "saleability": "NOT_FOR_SALE", "isEbook": False},
        "accessInfo": {
            "country": "US",
            "viewability": "NO_PAGES",
            "embeddable": False,
            "publicDomain": False,
            "textToSpeechPermission": "ALLOWED",
            "epub": {"isAvailable": False},
            "pdf": {"isAvailable": False},
            "webReaderLink": f"http://play.google.com/books/reader?id={gid}&hl=&source=gbs_api",
            "accessViewStatus": "NONE",
            "quoteSharingAllowed": False,
        },
    }


@contextmanager
def google_books_server(**options: Any) -> Iterator[FakeGoogleBooks]:
    """Serve a ``FakeGoogleBooks`` on a free port; ``fake.url`` is the base URL for settings
    (requests go to ``{fake.url}/books/v1/volumes``, as to ``https://www.googleapis.com``)."""
    with FakeGoogleBooks(**options).serve() as fake:
        yield fake
