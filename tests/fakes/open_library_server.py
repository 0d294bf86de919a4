"""A fake Open Library: real HTTP on localhost, its wire formats and rate limit, scripted failures.

Endpoints, shaped as documented and as the live service answers:

- ``GET /api/books?bibkeys=ISBN:…,ISBN:…&jscmd=data&format=json`` — the Books API
  (https://openlibrary.org/dev/docs/api/books): an object keyed by each requested bibkey exactly
  as sent; unknown books are absent (``{}`` when none is known). ``jscmd=data`` gives ``url``,
  ``key``, ``title``, ``subtitle``, ``authors`` [{url, name}], ``number_of_pages``,
  ``identifiers``, ``publishers`` [{name}], ``publish_date``, ``subjects`` [{name, url}] (only
  when the edition has any) and ``cover`` {small, medium, large}; ``jscmd=details`` gives
  ``bib_key``, ``info_url``, ``preview``, ``thumbnail_url`` and ``details`` (the edition record,
  with its ``works``); anything else the ``viewapi`` summary. Without ``format=json`` the answer
  is JavaScript (``var _OLBookInfo = {…};``), as the live API sends.
- ``GET /isbn/{isbn}.json`` — 302 to ``/books/OL…M.json`` (each hop is a request and counts
  against the limit, as on the live site); ``GET /books/OL…M.json`` the edition record
  (https://openlibrary.org/dev/docs/api/books, "ISBN API"); unknown: 404
  ``{"error": "notfound", "key": …}``.
- ``GET /works/OL…W.json`` — the work: ``title``, ``subjects`` [strings], ``covers``, ``authors``,
  ``description`` (a string or a ``/type/text`` object, both occur).
- ``GET /search.json?title=…&author=…`` (or ``isbn=``, ``q=``, ``q=isbn:(A OR B …)`` in Solr's
  syntax for many books at once, one doc per work) —
  https://openlibrary.org/dev/docs/api/search: ``numFound``, ``docs`` [{key, title,
  author_name, isbn, subject, cover_i, number_of_pages_median, first_publish_year, …}]. The
  fake sends those fields whatever ``fields`` asks for.

Covers point at ``https://covers.openlibrary.org/b/id/{id}-S.jpg`` (-M, -L) as in
https://openlibrary.org/dev/docs/api/covers.

Rate limit, as published at https://openlibrary.org/developers/api: 1 request/s for clients
without an identifying User-Agent, 3/s with one (a User-Agent naming a contact: an e-mail
address or a URL, e.g. ``MyApp/1.0 (me@example.com)``). The fake keeps one sliding window per
kind of client (all clients share 127.0.0.1, as workers behind one NAT share an address): at most
``rate * window_seconds`` admitted requests in any ``window_seconds``, by arrival time. So a
client must send each request at least ``window_seconds`` after the ``rate * window_seconds``-th
one before it; a token bucket that bursts and then refills at the rate goes over. Over the
limit: 429 with the live body (``{"status": 429, "message": "Too Many Requests. Consider using
https://openlibrary.org/developers/dumps."}``), ``Retry-After`` only if ``retry_after`` is set,
counted in ``over_limit``. A request target longer than ``max_url_bytes`` (nginx's default 8 KB
buffer: about 350 URL-encoded ISBN bibkeys) gets nginx's 414 page, before any limit.

Scripted failures (``script``) are served to admitted requests: 5xx as nginx's HTML pages, 429
as the JSON above.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

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
from tests.fakes.book_catalogue import Book, Catalogue, edition_number, isbn13

__all__ = [
    "TRUNCATED_JSON",
    "Behaviour",
    "Book",
    "Call",
    "Fail",
    "FakeOpenLibrary",
    "Hang",
    "Malformed",
    "Reply",
    "Slow",
    "identifies_itself",
    "open_library_server",
]

SITE = "https://openlibrary.org"
COVERS = "https://covers.openlibrary.org/b/id"
TOO_MANY = {
    "status": 429,
    "message": "Too Many Requests. Consider using https://openlibrary.org/developers/dumps.",
}
_CONTACT = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|https?://\S+")
_SUBJECT_SEPARATORS = re.compile(r"[\s,]+")
_OLID = re.compile(r"OL(\d+)([MW])")
_STATUS_TEXT = {
    414: "Request-URI Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def identifies_itself(user_agent: str | None) -> bool:
    """Whether a User-Agent names a contact (an e-mail address or a URL), as Open Library asks."""
    return bool(user_agent and _CONTACT.search(user_agent))


class FakeOpenLibrary(FakeServer):
    """Open Library's read APIs over one deterministic ``Catalogue``; see the module docstring."""

    def __init__(
        self,
        *,
        missing: Iterable[str] = (),
        records: Mapping[str, Book] | None = None,
        missing_titles: Collection[str] = (),
        rate_per_second: float = 1.0,
        identified_rate_per_second: float = 3.0,
        window_seconds: float = 1.0,
        retry_after: bool = False,
        latency: float = 0.0,
        latency_per_bibkey: float = 0.0,
        max_url_bytes: int = 8192,
    ) -> None:
        super().__init__(latency=latency)
        self.catalogue = Catalogue(missing=missing, records=records, missing_titles=missing_titles)
        self.anonymous_window = SlidingWindow(
            _per_window(rate_per_second, window_seconds), window_seconds
        )
        self.identified_window = SlidingWindow(
            _per_window(identified_rate_per_second, window_seconds), window_seconds
        )
        self.retry_after = retry_after
        self.latency_per_bibkey = latency_per_bibkey
        self.max_url_bytes = max_url_bytes
        self.app = self._build_app()

    def reset(self) -> None:
        super().reset()
        self.anonymous_window.clear()
        self.identified_window.clear()

    # -- the server ------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/books")
        async def books(request: Request) -> Response:
            bibkeys = [
                key.strip() for key in re.split(r"[,|]", request.query_params.get("bibkeys", ""))
            ]
            bibkeys = [key for key in bibkeys if key]
            isbns = [key.split(":", 1)[1] for key in bibkeys if key.upper().startswith("ISBN:")]
            call = self._call(request, isbns=normalised_isbns(isbns))
            return await self._handle(
                call,
                self._refusal(call, request),
                lambda: self._books_answer(request, bibkeys),
                _failure,
                extra_latency=self.latency_per_bibkey * len(bibkeys),
            )

        @app.get("/isbn/{isbn}.json")
        async def by_isbn(request: Request, isbn: str) -> Response:
            call = self._call(request, isbns=normalised_isbns([isbn]))
            book = self.catalogue.by_isbn(isbn)
            answer = (
                (lambda: _not_found(f"/isbn/{isbn}"))
                if book is None
                else (lambda: RedirectResponse(f"{book.edition_key}.json", status_code=302))
            )
            return await self._handle(call, self._refusal(call, request), answer, _failure)

        @app.get("/books/{olid}.json")
        async def edition(request: Request, olid: str) -> Response:
            book = self._by_olid(olid, "M")
            call = self._call(request, isbns=(book.isbn13,) if book else ())
            answer = (
                (lambda: _not_found(f"/books/{olid}"))
                if book is None
                else (lambda: JSONResponse(_edition(book)))
            )
            return await self._handle(call, self._refusal(call, request), answer, _failure)

        @app.get("/works/{olid}.json")
        async def work(request: Request, olid: str) -> Response:
            book = self._by_olid(olid, "W")
            call = self._call(request, isbns=(book.isbn13,) if book else ())
            answer = (
                (lambda: _not_found(f"/works/{olid}"))
                if book is None
                else (lambda: JSONResponse(_work(book)))
            )
            return await self._handle(call, self._refusal(call, request), answer, _failure)

        @app.get("/search.json")
        async def search(request: Request) -> Response:
            params = request.query_params
            isbn, title, query = params.get("isbn"), params.get("title"), params.get("q")
            author = params.get("author")
            if isbn is None and title is None and query is not None and isbn13(query):
                isbn = query
            several = _ISBN_QUERY.match(query or "")
            if several:  # q=isbn:(A OR B OR …): Solr's syntax, one doc per work found
                wanted = [part.strip() for part in several.group(1).split(" OR ")]
                call = self._call(request, isbns=normalised_isbns(wanted))
                books = [b for b in (self.catalogue.by_isbn(i) for i in wanted) if b]
                limit = int(params.get("limit") or 100)
                docs = [_search_doc(b) for b in {b.work_key: b for b in books}.values()][:limit]
            elif isbn is not None:
                call = self._call(request, isbns=normalised_isbns([isbn]))
                found = self.catalogue.by_isbn(isbn)
                docs = [_search_doc(found)] if found else []
            else:
                title = title if title is not None else query
                call = self._call(request, title=title, author=author)
                found = self.catalogue.by_title(title, author) if title else None
                docs = [_search_doc(found)] if found else []
            body = {
                "numFound": len(docs),
                "start": 0,
                "numFoundExact": True,
                "num_found": len(docs),
                "documentation_url": "https://openlibrary.org/dev/docs/api/search",
                "q": query or "",
                "offset": None,
                "docs": docs,
            }
            return await self._handle(
                call, self._refusal(call, request), lambda: JSONResponse(body), _failure
            )

        return app

    def _call(
        self,
        request: Request,
        *,
        isbns: tuple[str, ...] = (),
        title: str | None = None,
        author: str | None = None,
    ) -> Call:
        return Call(
            path=request.url.path,
            query=dict(request.query_params),
            headers=dict(request.headers),
            at=time.monotonic(),
            isbns=isbns,
            title=title,
            author=author,
        )

    def _refusal(self, call: Call, request: Request) -> Response | None:
        """nginx's answer before the app's: 414 for a long URL, 429 over the rate limit."""
        query = request.scope["query_string"]
        target = len(request.scope["raw_path"]) + (len(query) + 1 if query else 0)
        if target > self.max_url_bytes:
            return _failure(Fail(414))
        identified = identifies_itself(call.headers.get("user-agent"))
        window = self.identified_window if identified else self.anonymous_window
        wait = window.admit(call.at)
        if wait is None:
            return None
        self._refused("identified" if identified else "anonymous")
        headers = {"Retry-After": retry_after(wait)} if self.retry_after else None
        return JSONResponse(TOO_MANY, status_code=429, headers=headers)

    def _by_olid(self, olid: str, kind: str) -> Book | None:
        match = _OLID.fullmatch(olid)
        if match is None or match.group(2) != kind:
            return None
        return self.catalogue.by_edition(int(match.group(1)))

    def _books_answer(self, request: Request, bibkeys: list[str]) -> Response:
        jscmd = request.query_params.get("jscmd", "viewapi")
        found: dict[str, Any] = {}
        for bibkey in bibkeys:
            scheme, _, value = bibkey.partition(":")
            book: Book | None = None
            if scheme.upper() == "ISBN":
                book = self.catalogue.by_isbn(value)
            elif scheme.upper() == "OLID":
                book = self._by_olid(value, "M")
            if book is not None:
                found[bibkey] = (
                    _data(book) if jscmd == "data" else _details(bibkey, book, jscmd == "details")
                )
        if request.query_params.get("format") == "json":
            return JSONResponse(found)
        callback = request.query_params.get("callback")
        text = json.dumps(found)
        script = f"{callback}({text});" if callback else f"var _OLBookInfo = {text};"
        return Response(script, media_type="application/javascript")


def _per_window(rate: float, seconds: float) -> int:
    if rate <= 0:
        raise ValueError(f"rate per second must be positive, not {rate}")
    return max(1, round(rate * seconds))


def _failure(fail: Fail) -> Response:
    if fail.status == 429:
        return JSONResponse(TOO_MANY, status_code=429, headers=fail.headers)
    if fail.status == 404:
        return JSONResponse({"error": "notfound"}, status_code=404, headers=fail.headers)
    title = f"{fail.status} {_STATUS_TEXT.get(fail.status, 'Error')}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>"
        "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(page, status_code=fail.status, headers=fail.headers, media_type="text/html")


def _not_found(key: str) -> Response:
    return JSONResponse({"error": "notfound", "key": key}, status_code=404)


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "_", text).strip("_")


def _subject_url(subject: str) -> str:
    slug = _SUBJECT_SEPARATORS.sub("_", subject.lower()).strip("_")
    return f"{SITE}/subjects/{slug}"


def _cover(cover_id: int) -> dict[str, str]:
    return {
        size: f"{COVERS}/{cover_id}-{letter}.jpg"
        for size, letter in (("small", "S"), ("medium", "M"), ("large", "L"))
    }


def _year(book: Book) -> int:
    return int(book.published_date[:4])


def _data(book: Book) -> dict[str, Any]:
    """A ``jscmd=data`` entry."""
    entry: dict[str, Any] = {
        "url": f"{SITE}{book.edition_key}/{_slug(book.title)}",
        "key": book.edition_key,
        "title": book.title,
    }
    if book.subtitle:
        entry["subtitle"] = book.subtitle
    entry["authors"] = [
        {"url": f"{SITE}{book.author_key(name)}/{_slug(name)}", "name": name}
        for name in book.authors
    ]
    if book.pages is not None:
        entry["number_of_pages"] = book.pages
    entry["identifiers"] = {
        **({"isbn_10": [book.isbn10]} if book.isbn10 else {}),
        "isbn_13": [book.isbn13],
        "openlibrary": [book.edition_key.rsplit("/", 1)[1]],
    }
    entry["publishers"] = [{"name": book.publisher}]
    entry["publish_date"] = book.publish_date
    if book.edition_subjects:
        entry["subjects"] = [{"name": s, "url": _subject_url(s)} for s in book.edition_subjects]
    if book.cover_id is not None:
        entry["cover"] = _cover(book.cover_id)
    return entry


def _details(bibkey: str, book: Book, with_details: bool) -> dict[str, Any]:
    """A ``jscmd=details`` entry (or, without the details, a ``viewapi`` one)."""
    url = f"{SITE}{book.edition_key}/{_slug(book.title)}"
    entry: dict[str, Any] = {
        "bib_key": bibkey,
        "info_url": url,
        "preview": "noview",
        "preview_url": url,
    }
    if book.cover_id is not None:
        entry["thumbnail_url"] = f"{COVERS}/{book.cover_id}-S.jpg"
    if with_details:
        entry["details"] = _edition(book)
    return entry


_STAMPS = {
    "revision": 7,
    "latest_revision": 7,
    "created": {"type": "/type/datetime", "value": "2008-04-29T13:35:46.876380"},
    "last_modified": {"type": "/type/datetime", "value": "2023-09-16T21:04:11.217354"},
}


def _edition(book: Book) -> dict[str, Any]:
    """The edition record (``/books/OL…M.json``)."""
    record: dict[str, Any] = {"key": book.edition_key, "title": book.title}
    if book.subtitle:
        record["subtitle"] = book.subtitle
    record["authors"] = [{"key": book.author_key(name)} for name in book.authors]
    record["works"] = [{"key": book.work_key}]
    record["publishers"] = [book.publisher]
    record["publish_date"] = book.publish_date
    if book.pages is not None:
        record["number_of_pages"] = book.pages
    if book.cover_id is not None:
        record["covers"] = [book.cover_id]
    if book.isbn10:
        record["isbn_10"] = [book.isbn10]
    record["isbn_13"] = [book.isbn13]
    if book.edition_subjects:
        record["subjects"] = list(book.edition_subjects)
    record["physical_format"] = book.physical_format
    record["languages"] = [{"key": "/languages/eng"}]
    record["type"] = {"key": "/type/edition"}
    return record | _STAMPS


def _work(book: Book) -> dict[str, Any]:
    """The work record (``/works/OL…W.json``)."""
    record: dict[str, Any] = {
        "key": book.work_key,
        "title": book.title,
        "authors": [
            {"author": {"key": book.author_key(name)}, "type": {"key": "/type/author_role"}}
            for name in book.authors
        ],
        "type": {"key": "/type/work"},
        "first_publish_date": str(_year(book)),
    }
    if book.subjects:
        record["subjects"] = list(book.subjects)
    if book.cover_id is not None:
        record["covers"] = [book.cover_id]
    if book.description:
        # both shapes occur in real records; which one is fixed per book
        plain = edition_number(book.isbn13) % 2 == 0
        record["description"] = (
            book.description if plain else {"type": "/type/text", "value": book.description}
        )
    return record | _STAMPS


_ISBN_QUERY = re.compile(r"^isbn:\((.+)\)$")


def _search_doc(book: Book) -> dict[str, Any]:
    """A ``/search.json`` doc: the work, with its editions' ISBNs."""
    doc: dict[str, Any] = {
        "author_key": [book.author_key(name).rsplit("/", 1)[1] for name in book.authors],
        "author_name": list(book.authors),
        "cover_edition_key": book.edition_key.rsplit("/", 1)[1],
        "ebook_access": "no_ebook",
        "edition_count": 1 + edition_number(book.isbn13) % 40,
        "first_publish_year": _year(book),
        "has_fulltext": False,
        "isbn": [isbn for isbn in (book.isbn13, book.isbn10) if isbn],
        "key": book.work_key,
        "language": ["eng"],
        "public_scan_b": False,
        "title": book.title,
    }
    if book.cover_id is not None:
        doc["cover_i"] = book.cover_id
    if book.pages is not None:
        doc["number_of_pages_median"] = book.pages
    if book.subjects:
        doc["subject"] = list(book.subjects)
    return doc


@contextmanager
def open_library_server(**options: Any) -> Iterator[FakeOpenLibrary]:
    """Serve a ``FakeOpenLibrary`` on a free port; ``fake.url`` is the base URL for settings."""
    with FakeOpenLibrary(**options).serve() as fake:
        yield fake
