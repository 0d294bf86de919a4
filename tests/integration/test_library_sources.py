"""Enrichment from Open Library and Google Books, against fake servers that speak their wire
formats and enforce their limits: merged genres and covers, no call over any limit, errors
waited out and never cached as "unknown", sources without a key or quota skipped, and a
library uploaded again costs no call at all."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.api_controls import Fail, Malformed
from tests.fakes.book_catalogue import make_isbn13
from tests.fakes.google_books_server import FakeGoogleBooks
from tests.fakes.open_library_server import FakeOpenLibrary
from tests.integration.conftest import LibraryFactory
from tests.library_exports import goodreads_export

AGENT = "skyferry-tests/1.0 (tests@example.com)"
RATE = 20  # Open Library's limit in these tests, enforced by the fake: fast, still a limit


@pytest.fixture
def open_library() -> Iterator[FakeOpenLibrary]:
    with FakeOpenLibrary(identified_rate_per_second=RATE, retry_after=True).serve() as fake:
        yield fake


@pytest.fixture
def google() -> Iterator[FakeGoogleBooks]:
    with FakeGoogleBooks(requests_per_window=30, window_seconds=5).serve() as fake:
        yield fake


@pytest.fixture
def start_api(
    start_library: LibraryFactory, open_library: FakeOpenLibrary, google: FakeGoogleBooks
) -> LibraryFactory:
    def start(**library: Any) -> httpx.Client:
        return start_library(
            **{
                "providers": ["open_library", "google_books"],
                "open_library_base_url": open_library.url,
                "open_library_user_agent": AGENT,
                "open_library_requests_per_second": RATE,
                "google_books_base_url": f"{google.url}/books/v1",
                "google_books_api_key": google.api_key,
                "google_books_requests": 30,
                "google_books_period_seconds": 5,
                "retry_initial_seconds": 0.05,
                # the app and the fakes share this process's GIL: a request reaches the fake
                # up to several hundred milliseconds after its turn when the machine is busy
                "rate_margin": 0.9,
                **library,
            }
        )

    return start


def imported(api: httpx.Client, export: bytes, name: str = "export.csv") -> dict[str, Any]:
    response = api.post("/upload", files={"csv": (name, export, "text/csv")})
    assert response.status_code == 200, response.text
    upload_id = response.json()["uuid"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = api.get(f"/status/{upload_id}").json()
        if status["status"] != "processing":
            assert status["status"] == "complete", status
            data: dict[str, Any] = api.get(f"/data/{upload_id}").json()
            data["status"] = status
            return data
        time.sleep(0.1)
    raise TimeoutError(upload_id)


def test_books_are_enriched_within_every_limit_and_cached(
    start_api: LibraryFactory, open_library: FakeOpenLibrary, google: FakeGoogleBooks
) -> None:
    api = start_api()
    export = goodreads_export(40)
    data = imported(api, export)
    books = data["books"]
    with_isbn = [b for b in books if b["isbn13"]]
    assert all(b["genre_enriched"] for b in books), [b for b in books if not b["genres"]]
    # Google is the fallback, for what Open Library left without genres: nothing here
    assert google.calls == []
    # covers, and pages the export lacks, come from the sources where they know them
    for book in with_isbn:
        known = open_library.catalogue.by_isbn(book["isbn13"])
        assert known is not None
        if known.pages:
            assert book["num_pages"], book
        assert bool(book["thumbnail_url"]) == (known.cover_id is not None), book
    assert open_library.over_limit == 0
    assert google.over_limit == 0
    batched = [c for c in open_library.calls if c.path == "/api/books"]
    assert len(batched) < len(with_isbn) / 5, "ISBNs are asked for many at a time"
    in_batches = Counter(isbn for call in batched for isbn in call.isbns)
    assert set(in_batches.values()) == {1}, "no ISBN asked for twice"
    assert data["summary"]["genre_enrichment_rate"] == 100.0

    ol_calls, google_calls = len(open_library.calls), len(google.calls)
    again = imported(api, export, name="same-library-again.csv")
    assert len(open_library.calls) == ol_calls
    assert len(google.calls) == google_calls
    assert [b["genres"] for b in again["books"]] == [b["genres"] for b in books]


def test_api_errors_are_waited_out_and_never_cached_as_unknown(
    start_api: LibraryFactory, open_library: FakeOpenLibrary
) -> None:
    api = start_api(providers=["open_library"])
    open_library.script(
        Fail(429, headers={"Retry-After": "1"}), Fail(503), Malformed(), Fail(502), Fail(500)
    )
    data = imported(api, goodreads_export(12, without_isbn_every=0))
    assert all(b["genre_enriched"] for b in data["books"])
    assert open_library.over_limit == 0
    failed_then_answered = [c for c in open_library.calls if c.status >= 400]
    assert len(failed_then_answered) >= 4


def test_a_source_without_a_key_or_quota_is_skipped_and_said_so(
    start_api: LibraryFactory, google: FakeGoogleBooks
) -> None:
    api = start_api(providers=["google_books", "offline"], google_books_api_key=None)
    data = imported(api, goodreads_export(5))
    assert len(google.calls) == 0
    assert "no API key" in data["status"]["skipped_sources"]["google_books"]
    assert all(b["genre_enriched"] for b in data["books"])  # offline still gave genres
    assert any("google_books was not asked" in n for n in data["metadata"]["processing_notes"])


def test_a_used_up_daily_quota_stops_the_source_not_the_import(
    start_api: LibraryFactory, google: FakeGoogleBooks
) -> None:
    api = start_api(providers=["google_books", "offline"], google_books_daily_quota=3)
    data = imported(api, goodreads_export(10))
    assert len(google.calls) == 3  # our own count of the day's quota stopped the fourth
    assert "quota" in data["status"]["skipped_sources"]["google_books"]
    assert len(data["books"]) == 10
    assert all(b["genre_enriched"] for b in data["books"])


def test_google_books_is_asked_for_what_open_library_does_not_know(
    start_api: LibraryFactory, open_library: FakeOpenLibrary, google: FakeGoogleBooks
) -> None:
    unknown = make_isbn13(3)  # book 2 of the export
    open_library.catalogue.missing.add(unknown)
    open_library.catalogue.missing_titles.add("book number 3")
    api = start_api()
    data = imported(api, goodreads_export(6, without_isbn_every=0))
    assert set(google.lookups()) == {unknown}
    book = next(b for b in data["books"] if b["isbn13"] == unknown)
    assert book["genre_enriched"] is True
    assert google.over_limit == 0
