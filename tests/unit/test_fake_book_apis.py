"""The fake Open Library and Google Books servers: the shapes, limits and failures tests rely on.

Limits are checked at their published rates where that is quick (Open Library's 1 and 3 per
second) and with a smaller window where the real one is long (Google's 100 per 100 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest

from tests.fakes.api_controls import TRUNCATED_JSON
from tests.fakes.book_catalogue import Catalogue, generated_book, isbn13, make_isbn13
from tests.fakes.google_books_server import FakeGoogleBooks, google_books_server, parse_query
from tests.fakes.open_library_server import (
    Fail,
    FakeOpenLibrary,
    Hang,
    Malformed,
    Slow,
    identifies_itself,
    open_library_server,
)

DUNE_10, DUNE_13 = "0441013597", "9780441013593"
UNKNOWN = "9780316769488"
IDENTIFIED = {"User-Agent": "SkyferryLibrary/1.0 (library@example.com)"}
FAST = {"rate_per_second": 1000.0, "identified_rate_per_second": 1000.0}
KEY = "fake-books-key"


@pytest.fixture
def open_library() -> Iterator[FakeOpenLibrary]:
    with open_library_server(missing={UNKNOWN}, **FAST) as fake:
        yield fake


@pytest.fixture
def google() -> Iterator[FakeGoogleBooks]:
    with google_books_server(missing={UNKNOWN}) as fake:
        yield fake


def _client(url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=url, headers=headers, timeout=10)


def _at_once(count: int, request: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Send ``count`` requests together; the answers, by status."""
    with ThreadPoolExecutor(count) as pool:
        return sorted(pool.map(lambda _: request(), range(count)), key=lambda r: r.status_code)


def _statuses(responses: list[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


# -- the catalogue -------------------------------------------------------------------------------


def test_an_isbn_10_and_its_isbn_13_are_one_deterministic_book() -> None:
    one, other = Catalogue(), Catalogue()
    assert isbn13(DUNE_10) == DUNE_13
    assert isbn13("0-441-01359-7") == DUNE_13
    assert one.by_isbn(DUNE_10) == other.by_isbn(DUNE_13) == generated_book(DUNE_13)
    assert one.by_isbn("0441013598") is None  # wrong check digit: not an ISBN
    assert Catalogue(missing={DUNE_10}).by_isbn(DUNE_13) is None
    assert isbn13(make_isbn13(12345)) == make_isbn13(12345)


def test_generated_books_are_realistic_and_noisy() -> None:
    books = [generated_book(make_isbn13(n)) for n in range(300)]
    pages = [book.pages for book in books if book.pages is not None]
    assert all(90 <= p <= 900 for p in pages)
    assert 0 < len(pages) < len(books)  # some books have no page count
    assert all(2 <= len(book.subjects) <= 8 for book in books)
    subjects = [s for book in books for s in book.subjects]
    assert any(s.startswith("nyt:") for s in subjects)
    assert "Large type books" in subjects
    assert any(len({s.casefold() for s in b.subjects}) < len(b.subjects) for b in books)
    assert any(not book.edition_subjects for book in books)  # only the work has subjects
    assert any(book.cover_id is None for book in books)
    assert {" / " in c for book in books for c in book.categories} == {True}


# -- Open Library: shapes ------------------------------------------------------------------------


def test_books_api_is_keyed_by_the_requested_bibkeys(open_library: FakeOpenLibrary) -> None:
    dune = replace(
        generated_book(DUNE_13),
        title="Dune",
        pages=None,
        cover_id=8231856,
        edition_subjects=("Science fiction", "Fiction, general"),
    )
    with (
        open_library_server(records={DUNE_10: dune}, missing={UNKNOWN}, **FAST) as fake,
        _client(fake.url) as client,
    ):
        params = {"bibkeys": f"ISBN:{DUNE_10},ISBN:{UNKNOWN}", "jscmd": "data", "format": "json"}
        body = client.get("/api/books", params=params).json()
    assert list(body) == [f"ISBN:{DUNE_10}"]
    entry = body[f"ISBN:{DUNE_10}"]
    assert entry["title"] == "Dune"
    assert entry["key"] == dune.edition_key
    assert entry["url"].startswith("https://openlibrary.org/books/OL")
    assert entry["authors"] == [{"url": entry["authors"][0]["url"], "name": dune.authors[0]}]
    assert "number_of_pages" not in entry
    assert entry["identifiers"]["isbn_13"] == [DUNE_13]
    assert entry["publishers"] == [{"name": dune.publisher}]
    assert entry["publish_date"] == dune.publish_date
    assert entry["cover"] == {
        "small": "https://covers.openlibrary.org/b/id/8231856-S.jpg",
        "medium": "https://covers.openlibrary.org/b/id/8231856-M.jpg",
        "large": "https://covers.openlibrary.org/b/id/8231856-L.jpg",
    }
    assert entry["subjects"] == [
        {"name": "Science fiction", "url": "https://openlibrary.org/subjects/science_fiction"},
        {"name": "Fiction, general", "url": "https://openlibrary.org/subjects/fiction_general"},
    ]

    with _client(open_library.url) as client:
        none_known = client.get("/api/books", params={**params, "bibkeys": f"ISBN:{UNKNOWN}"})
        javascript = client.get("/api/books", params={"bibkeys": f"ISBN:{DUNE_13}"})
        details = client.get(
            "/api/books",
            params={"bibkeys": f"ISBN:{DUNE_13}", "jscmd": "details", "format": "json"},
        ).json()
    assert none_known.json() == {}
    assert javascript.text.startswith("var _OLBookInfo = {")
    assert details[f"ISBN:{DUNE_13}"]["details"]["works"][0]["key"].startswith("/works/OL")


def test_a_batch_longer_than_nginx_reads_is_414(open_library: FakeOpenLibrary) -> None:
    def ask(count: int) -> httpx.Response:
        bibkeys = ",".join(f"ISBN:{make_isbn13(n)}" for n in range(count))
        return client.get("/api/books", params={"bibkeys": bibkeys, "format": "json"})

    with _client(open_library.url) as client:
        batch, too_long = ask(300), ask(400)  # ~23 URL-encoded bytes per bibkey, 8 KB in all
    assert len(batch.json()) == 300
    assert too_long.status_code == 414
    assert "414 Request-URI Too Large" in too_long.text
    assert open_library.over_limit == 0


def test_isbn_redirects_to_the_edition_whose_work_has_subjects(
    open_library: FakeOpenLibrary,
) -> None:
    book = generated_book(DUNE_13)
    with _client(open_library.url) as client:
        redirect = client.get(f"/isbn/{DUNE_10}.json")
        edition = client.get(f"/isbn/{DUNE_10}.json", follow_redirects=True).json()
        work = client.get(f"{edition['works'][0]['key']}.json").json()
        unknown = client.get(f"/isbn/{UNKNOWN}.json")
        no_work = client.get("/works/OL1M.json")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == f"{book.edition_key}.json"
    assert edition["title"] == book.title
    assert edition["isbn_13"] == [DUNE_13]
    assert work["subjects"] == list(book.subjects)
    assert work["title"] == book.title
    assert (unknown.status_code, unknown.json()["error"]) == (404, "notfound")
    assert no_work.status_code == 404
    assert open_library.lookups_of(DUNE_10) == 4  # two redirects, the edition, the work
    assert open_library.lookups_of(DUNE_13, answered=True) == 2


def test_search_finds_books_by_title_and_author() -> None:
    dune = replace(generated_book(DUNE_13), title="Dune", authors=("Frank Herbert",))
    fake = FakeOpenLibrary(
        records={DUNE_13: dune}, missing_titles={"Lost Book"}, identified_rate_per_second=100
    )
    with fake.serve(), _client(fake.url, IDENTIFIED) as client:
        found = client.get("/search.json", params={"title": "dune", "author": "frank herbert"})
        made_up = client.get("/search.json", params={"title": "The Dispossessed"})
        lost = client.get("/search.json", params={"title": "lost  book"})
        by_isbn = client.get("/search.json", params={"q": DUNE_10})
        assert fake.title_lookups() == {
            ("dune", "frank herbert"): 1,
            ("the dispossessed", ""): 1,
            ("lost  book", ""): 1,
        }
        assert fake.lookups() == {DUNE_13: 1}
    doc = found.json()["docs"][0]
    assert found.json()["numFound"] == 1
    assert (doc["title"], doc["author_name"], doc["isbn"]) == (
        "Dune",
        ["Frank Herbert"],
        [DUNE_13, DUNE_10],
    )
    assert doc["key"] == dune.work_key
    assert doc["subject"] == list(dune.subjects)
    assert doc["first_publish_year"] == int(dune.published_date[:4])
    assert by_isbn.json()["docs"] == found.json()["docs"]
    assert made_up.json()["docs"][0]["title"] == "The Dispossessed"
    assert lost.json()["numFound"] == 0
    assert lost.json()["docs"] == []


# -- Open Library: the rate limit ----------------------------------------------------------------


def test_identifying_user_agents_name_a_contact() -> None:
    assert identifies_itself("MyApp/1.0 (me@example.com)")
    assert identifies_itself("MyApp/1.0 (+https://example.com/bot)")
    assert not identifies_itself("python-httpx/0.28.1")
    assert not identifies_itself(None)


def test_open_library_allows_1_per_second_anonymous_and_3_identified() -> None:
    with open_library_server(retry_after=True) as fake:
        anonymous, identified = _client(fake.url), _client(fake.url, IDENTIFIED)
        with anonymous, identified:
            isbn_url = f"/isbn/{DUNE_13}.json"
            unnamed = _at_once(4, lambda: anonymous.get(isbn_url))
            named = _at_once(6, lambda: identified.get(isbn_url))
        assert _statuses(unnamed) == [302, 429, 429, 429]
        assert _statuses(named) == [302] * 3 + [429] * 3
        refused = unnamed[-1]
        assert refused.json()["message"].startswith("Too Many Requests.")
        assert refused.headers["retry-after"] == "1"
        assert fake.over_limit == 6
        assert fake.over_limit_reasons == {"anonymous": 3, "identified": 3}


def test_a_client_paced_at_the_published_rate_is_never_refused() -> None:
    with open_library_server() as fake, _client(fake.url, IDENTIFIED) as client:
        for n in range(5):  # 3/s: a place frees every 1/3 s, and the client waits a little more
            if n:
                time.sleep(0.37)  # the pace under test, not synchronisation
            assert client.get("/search.json", params={"q": "dune"}).status_code == 200
        assert fake.over_limit == 0
        burst = _at_once(5, lambda: client.get("/search.json", params={"q": "dune"}))
        assert _statuses(burst).count(429) >= 2
        assert fake.over_limit == _statuses(burst).count(429)


def test_concurrent_clients_never_get_more_than_the_limit() -> None:
    # 3/s over a 5 s window: 15 places, however many threads race for them
    with open_library_server(window_seconds=5, latency=0.05) as fake:
        with _client(fake.url, IDENTIFIED) as client:
            answers = _at_once(24, lambda: client.get("/api/books", params={"bibkeys": "ISBN:1"}))
        assert _statuses(answers).count(200) == 15
        assert fake.over_limit == 9
        assert fake.max_in_flight > 1  # latency overlaps, as on a real server
        fake.reset()
        assert (fake.over_limit, fake.calls) == (0, [])


# -- Open Library: scripted failures -------------------------------------------------------------


def test_scripted_failures_come_in_order_then_normal_replies(
    open_library: FakeOpenLibrary,
) -> None:
    open_library.script(
        Fail(429, {"Retry-After": "2"}),
        Fail(429),
        Fail(503),
        Malformed(),
        TRUNCATED_JSON,
        Slow(0.05),
    )
    with _client(open_library.url) as client:
        answers = [client.get("/works/OL44101359W.json") for _ in range(7)]
    first, second, third, fourth, fifth, sixth, seventh = answers
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert second.status_code == 429
    assert "retry-after" not in second.headers
    assert third.status_code == 503
    assert "<center>nginx</center>" in third.text
    assert (fourth.status_code, fourth.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert fifth.status_code == 200
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        fifth.json()
    assert sixth.json()["key"] == seventh.json()["key"] == "/works/OL44101359W"
    assert [call.status for call in open_library.calls] == [429, 429, 503, 200, 200, 200, 200]
    assert open_library.over_limit == 0  # scripted failures are not the limiter's


def test_a_hanging_request_times_the_client_out(open_library: FakeOpenLibrary) -> None:
    open_library.script(Hang(5))
    with httpx.Client(base_url=open_library.url, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(f"/isbn/{DUNE_13}.json")
        assert client.get(f"/isbn/{DUNE_13}.json").status_code == 302


# -- Google Books --------------------------------------------------------------------------------


def test_volumes_have_googles_shape(google: FakeGoogleBooks) -> None:
    book = generated_book(DUNE_13)
    with _client(google.url) as client:
        found = client.get("/books/v1/volumes", params={"q": f"isbn:{DUNE_10}", "key": KEY}).json()
        unknown = client.get("/books/v1/volumes", params={"q": f"isbn:{UNKNOWN}", "key": KEY})
        by_title = client.get(
            "/books/v1/volumes",
            params={"q": "intitle:the dispossessed+inauthor:le guin", "key": KEY},
        ).json()
    assert (found["kind"], found["totalItems"]) == ("books#volumes", 1)
    volume = found["items"][0]
    assert (volume["kind"], volume["id"]) == ("books#volume", book.google_id)
    info = volume["volumeInfo"]
    assert info["title"] == book.title
    assert info["authors"] == list(book.authors)
    assert info["industryIdentifiers"] == [
        {"type": "ISBN_13", "identifier": DUNE_13},
        {"type": "ISBN_10", "identifier": DUNE_10},
    ]
    assert info.get("categories", []) == list(book.categories)
    assert info.get("pageCount") == book.pages
    assert info["publishedDate"][:4].isdigit()
    assert unknown.json() == {"kind": "books#volumes", "totalItems": 0}
    assert by_title["items"][0]["volumeInfo"]["title"] == "the dispossessed"
    assert by_title["items"][0]["volumeInfo"]["authors"] == ["le guin"]
    assert google.lookups() == {DUNE_13: 1, UNKNOWN: 1}
    assert google.title_lookups() == {("the dispossessed", "le guin"): 1}


def test_parse_query_reads_isbn_title_and_author_terms() -> None:
    assert parse_query("isbn:0441013597") == ("0441013597", None, None)
    assert parse_query('intitle:"The Left Hand"+inauthor:Le+Guin') == (
        None,
        "The Left Hand",
        "Le Guin",
    )


def test_keys_are_checked_as_google_checks_them(google: FakeGoogleBooks) -> None:
    with _client(google.url) as client:
        keyless = client.get("/books/v1/volumes", params={"q": f"isbn:{DUNE_13}"})
        wrong = client.get("/books/v1/volumes", params={"q": f"isbn:{DUNE_13}", "key": "nope"})
        no_query = client.get("/books/v1/volumes", params={"key": KEY})
    assert keyless.status_code == 429
    assert keyless.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert wrong.json()["error"]["message"] == "API key not valid. Please pass a valid API key."
    assert (no_query.status_code, no_query.json()["error"]["message"]) == (400, "Missing query.")
    assert google.over_limit_reasons == {"keyless": 1}


def test_google_limits_each_key_per_window_and_per_day() -> None:
    options = {"api_keys": (KEY, "other-key"), "requests_per_window": 5, "window_seconds": 30}
    with google_books_server(daily_quota=7, **options) as fake, _client(fake.url) as client:

        def ask(key: str) -> httpx.Response:
            return client.get("/books/v1/volumes", params={"q": "isbn:1", "key": key})

        assert _statuses(_at_once(8, lambda: ask(KEY))) == [200] * 5 + [429] * 3
        window = ask(KEY).json()["error"]
        assert window["errors"][0]["reason"] == "rateLimitExceeded"
        assert "'Queries per 100 seconds per user'" in window["message"]
        assert [ask("other-key").status_code for _ in range(3)] == [200, 200, 200]
        fake.windows[KEY].clear()
        assert [ask(KEY).status_code for _ in range(3)] == [200, 200, 429]
        daily = ask(KEY).json()["error"]
        assert "'Queries per day'" in daily["message"]
        assert fake.used_today(KEY) == 7
        fake.new_day()
        assert ask(KEY).status_code == 200
        assert fake.over_limit_reasons == {"window": 4, "daily": 2}


def test_legacy_quota_errors_are_403_usage_limits() -> None:
    with google_books_server(daily_quota=1, quota_style="legacy") as fake, _client(fake.url) as c:
        params = {"q": "isbn:1", "key": KEY}
        assert c.get("/books/v1/volumes", params=params).status_code == 200
        refused = c.get("/books/v1/volumes", params=params)
    assert refused.status_code == 403
    assert refused.json()["error"]["errors"][0] == {
        "message": "Daily Limit Exceeded",
        "domain": "usageLimits",
        "reason": "dailyLimitExceeded",
    }


def test_google_scripts_serve_its_error_bodies(google: FakeGoogleBooks) -> None:
    google.script(
        Fail(403, reason="quotaExceeded"),
        Fail(429, {"Retry-After": "3"}),
        Fail(503),
        Fail(502),
        Malformed(),
    )
    with _client(google.url) as client:
        answers = [
            client.get("/books/v1/volumes", params={"q": f"isbn:{DUNE_13}", "key": KEY})
            for _ in range(6)
        ]
    quota, limited, unavailable, bad_gateway, html, normal = answers
    assert quota.status_code == 403
    assert quota.json()["error"]["errors"][0]["reason"] == "quotaExceeded"
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert limited.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert unavailable.json()["error"]["status"] == "UNAVAILABLE"
    assert (bad_gateway.status_code, "Error 502" in bad_gateway.text) == (502, True)
    assert html.status_code == 200
    assert html.text.startswith("<html>")
    assert normal.json()["totalItems"] == 1
    assert google.lookups_of(DUNE_10) == 6
    assert google.lookups_of(DUNE_10, answered=True) == 2
