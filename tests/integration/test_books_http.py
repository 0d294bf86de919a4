"""The books API through real HTTP, on SQLite and Postgres, with the offline provider."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from ebooklib import ITEM_DOCUMENT, epub

from skyferry.app import create_app
from skyferry.config import load_settings
from tests.fakes.openai_server import FakeOpenAI, serve_fake_openai
from tests.servers import serve_in_thread

ApiFactory = Callable[..., httpx.Client]


@pytest.fixture
def start_api(database_url: str, tmp_path: Path) -> Iterator[ApiFactory]:
    """Start the app (books only, real uvicorn) with these books settings; one per test."""
    with ExitStack() as stack:

        def start(blob_url: str = f"file://{tmp_path}/blobs", **books: Any) -> httpx.Client:
            settings = load_settings(
                database_url=database_url,
                blob_url=blob_url,
                log_format="text",
                auto_migrate=True,
                services=["books"],
                books={"offline_seconds_per_chapter": 0.02, **books},
            )
            url = stack.enter_context(serve_in_thread(create_app(settings)))
            return stack.enter_context(httpx.Client(base_url=url, timeout=30))

        yield start


def wait_for(client: httpx.Client, book_id: str, until: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + 60
    book: dict[str, Any] = {}
    while time.monotonic() < deadline:
        book = client.get(f"/books/{book_id}").json()
        if until(book):
            return book
        time.sleep(0.05)
    raise TimeoutError(f"book {book_id} never got there: {book}")


def finished(book: dict[str, Any]) -> bool:
    return book["status"] in ("succeeded", "failed", "cancelled")


def test_a_book_is_written_served_downloaded_and_deleted(start_api: ApiFactory) -> None:
    api = start_api()
    body = {"topic": "Tide pools", "chapters": 3, "words_per_chapter": 150, "audience": "kids"}
    response = api.post("/books", json=body)
    assert response.status_code == 202
    accepted = response.json()
    book_id = accepted["id"]
    assert response.headers["location"] == f"/books/{book_id}"
    assert accepted["status"] == "queued"
    assert accepted["book"] is None
    assert accepted["links"]["self"] == f"/books/{book_id}"

    book = wait_for(api, book_id, finished)
    assert book["status"] == "succeeded", book
    assert book["progress"] == {"phase": "done", "done": 5, "total": 5}
    assert book["timings"]["started_at"]
    assert book["timings"]["finished_at"]
    content = book["book"]
    assert content["title"] == book["title"]
    assert [c["number"] for c in content["chapters"]] == [1, 2, 3]
    assert [c["title"] for c in content["chapters"]] == [e["title"] for e in content["outline"]]
    assert all("Tide pools" in c["text"] for c in content["chapters"])
    assert content["word_count"] == sum(c["word_count"] for c in content["chapters"])
    assert book["word_count"] == content["word_count"] > 300
    assert (content["provider"], content["model"]) == ("offline", "skyferry-grammar-1")

    job = api.get(f"/jobs/{book_id}").json()
    assert (job["kind"], job["status"], job["result_url"]) == (
        "books.generate",
        "succeeded",
        f"/books/{book_id}",
    )

    markdown = api.get(book["links"]["download_md"])
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text.startswith(f"# {content['title']}\n")
    assert content["chapters"][2]["text"] in markdown.text
    assert "attachment;" in markdown.headers["content-disposition"]
    text = api.get(f"/books/{book_id}/download", params={"format": "txt"})
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert content["chapters"][0]["text"] in text.text

    ebook = api.get(f"/books/{book_id}/download", params={"format": "epub"})
    assert ebook.headers["content-type"] == "application/epub+zip"
    assert ebook.headers["content-disposition"].endswith('.epub"')
    document = epub.read_epub(io.BytesIO(ebook.content), {"ignore_ncx": True})
    assert document.get_metadata("DC", "title")[0][0] == content["title"]
    pages = [i for i in document.get_items_of_type(ITEM_DOCUMENT) if "chapter" in i.file_name]
    assert len(pages) == 3

    listed = api.get("/books", params={"status": "succeeded"}).json()
    assert [item["id"] for item in listed["items"]] == [book_id]
    assert listed["items"][0]["book"] is None  # lists stay small
    assert api.get("/books", params={"status": "running"}).json()["items"] == []

    assert api.delete(f"/books/{book_id}").status_code == 204
    assert api.get(f"/books/{book_id}").status_code == 404
    assert api.get(f"/books/{book_id}/download").status_code == 404
    assert api.get("/books").json()["items"] == []


def test_books_live_in_s3_as_well(
    start_api: ApiFactory, s3_bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    api = start_api(blob_url=f"s3://{s3_bucket}/skyferry")
    book_id = api.post("/books", json={"topic": "Glaciers", "chapters": 2}).json()["id"]
    book = wait_for(api, book_id, finished)
    assert book["status"] == "succeeded", book
    keys = {
        obj["Key"]
        for obj in boto3.client("s3", endpoint_url=moto_endpoint)
        .list_objects_v2(Bucket=s3_bucket)
        .get("Contents", [])
    }
    prefix = f"skyferry/books/{book_id}/"
    assert {prefix + name for name in ("book.json", "book.epub", "chapters/002.json")} <= keys
    epub_file = api.get(book["links"]["download_epub"])
    assert epub_file.headers["content-type"] == "application/epub+zip"
    assert api.delete(f"/books/{book_id}").status_code == 204
    remaining = boto3.client("s3", endpoint_url=moto_endpoint).list_objects_v2(Bucket=s3_bucket)
    assert remaining.get("KeyCount") == 0


def test_the_lambda_era_paths_answer_as_before(start_api: ApiFactory) -> None:
    api = start_api()
    response = api.post("/books/", json={"topic": "Lighthouses", "chapters": 1})
    assert response.status_code == 202
    book_id = response.json()["book_id"]
    book = wait_for(api, book_id, finished)
    assert book["book_id"] == book["id"] == book_id
    assert book["status"] == "succeeded"
    assert len(book["book"]["chapters"]) == 1
    assert api.get("/books/").json()["items"][0]["id"] == book_id


def test_idempotency_key_gives_the_same_book(start_api: ApiFactory) -> None:
    api = start_api()
    body = {"topic": "Kites", "chapters": 1}
    headers = {"Idempotency-Key": "kites-1"}
    first = api.post("/books", json=body, headers=headers)
    again = api.post("/books", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["location"] == f"/books/{first.json()['id']}"
    other = api.post("/books", json={**body, "chapters": 2}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert len(api.get("/books").json()["items"]) == 1
    wait_for(api, first.json()["id"], finished)
    assert api.delete(f"/books/{first.json()['id']}").status_code == 204
    # deleting a book forgets its key with it: the same request makes the book anew
    anew = api.post("/books", json=body, headers=headers)
    assert anew.status_code == 202
    assert anew.json()["status"] == "queued"


BAD_BODIES = [
    ({"topic": ""}, "topic"),
    ({"topic": "x" * 2048}, "topic"),
    ({"topic": "x", "chapters": 0}, "chapters"),
    ({"topic": "x", "chapters": 500}, "chapters"),
    ({"topic": "x", "words_per_chapter": 10}, "words_per_chapter"),
    ({"chapters": 3}, "topic"),
]


def test_bad_input_is_a_422_naming_the_field(start_api: ApiFactory) -> None:
    api = start_api()
    for body, field in BAD_BODIES:
        response = api.post("/books", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["loc"] for e in response.json()["errors"]] == [["body", field]], body
    not_json = api.post("/books", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422
    assert api.get("/books").json()["items"] == []


def test_unknown_ids_formats_and_cursors(start_api: ApiFactory) -> None:
    api = start_api(offline_seconds_per_chapter=5)
    for method, path in [
        ("GET", "/books/no-such-book"),
        ("DELETE", "/books/no-such-book"),
        ("GET", "/books/no-such-book/download"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "no book with id 'no-such-book'"
    book_id = api.post("/books", json={"topic": "Clocks", "chapters": 2}).json()["id"]
    bad_format = api.get(f"/books/{book_id}/download", params={"format": "pdf"})
    assert bad_format.status_code == 422
    assert bad_format.json()["errors"][0]["loc"] == ["query", "format"]
    not_yet = api.get(f"/books/{book_id}/download", params={"format": "epub"})
    assert not_yet.status_code == 409
    assert not_yet.json()["book_status"] in ("queued", "running")
    assert api.get("/books", params={"cursor": "not-a-cursor"}).status_code == 400
    assert api.get("/books", params={"status": "sideways"}).status_code == 422
    assert api.delete(f"/books/{book_id}").json()["status"] == "cancelled"


def test_delete_cancels_a_running_book_and_nothing_half_written_is_served(
    start_api: ApiFactory,
) -> None:
    api = start_api(offline_seconds_per_chapter=0.3)
    book_id = api.post("/books", json={"topic": "Bridges", "chapters": 10}).json()["id"]
    wait_for(api, book_id, lambda b: b["progress"]["phase"] == "chapter 2 of 10")
    running = api.get(f"/books/{book_id}").json()
    assert running["status"] == "running"
    assert running["book"] is None
    assert "download_md" not in running["links"]

    cancelled = api.delete(f"/books/{book_id}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    time.sleep(0.5)  # long enough for another chapter, had the job not stopped
    book = api.get(f"/books/{book_id}").json()
    assert book["status"] == "cancelled"
    assert book["book"] is None
    assert api.get(f"/books/{book_id}/download").status_code == 409
    assert api.get("/books", params={"status": "cancelled"}).json()["items"][0]["id"] == book_id
    assert api.delete(f"/books/{book_id}").status_code == 204
    assert api.get(f"/books/{book_id}").status_code == 404


def test_listing_pages_newest_first_without_overlap(start_api: ApiFactory) -> None:
    api = start_api()
    ids = [
        api.post("/books", json={"topic": f"Topic {n}", "chapters": 1}).json()["id"]
        for n in range(3)
    ]
    first = api.get("/books", params={"limit": 2}).json()
    second = api.get("/books", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [b["id"] for b in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with serve_fake_openai(api_key="sk-books-test", delay_seconds=0.05) as fake:
        yield fake


def openai_settings(fake: FakeOpenAI, **more: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "openai_base_url": fake.url,
        "openai_model": "gpt-test",
        "openai_api_key": "sk-books-test",
        "retry_initial_seconds": 0.01,
        **more,
    }


def test_openai_provider_writes_books_within_the_shared_concurrency(
    start_api: ApiFactory, fake_openai: FakeOpenAI
) -> None:
    api = start_api(**openai_settings(fake_openai, provider_concurrency=2))
    ids = [
        api.post("/books", json={"topic": f"Rivers {n}", "chapters": 2}).json()["id"]
        for n in range(4)
    ]
    books = [wait_for(api, book_id, finished) for book_id in ids]
    assert [b["status"] for b in books] == ["succeeded"] * 4, books
    assert books[0]["book"]["provider"] == "openai"
    assert books[0]["book"]["model"] == "fake-gpt-1"
    assert books[0]["book"]["title"] == "A Book From The Fake Server"
    assert len(fake_openai.calls) == 4 * 3  # an outline and two chapters each
    assert fake_openai.max_in_flight <= 2


def test_a_provider_failure_fails_the_book_with_the_reason(
    start_api: ApiFactory, fake_openai: FakeOpenAI
) -> None:
    api = start_api(**openai_settings(fake_openai, openai_api_key="sk-wrong"))
    book_id = api.post("/books", json={"topic": "Volcanoes", "chapters": 2}).json()["id"]
    book = wait_for(api, book_id, finished)
    assert book["status"] == "failed"
    assert book["error"]["type"] == "ProviderHTTPError"
    assert "401" in book["error"]["message"]
    assert "sk-wrong" not in str(book)
    assert api.get(f"/books/{book_id}/download").status_code == 409
    failed = api.get("/books", params={"status": "failed"}).json()["items"]
    assert [b["id"] for b in failed] == [book_id]
    assert len(fake_openai.calls) == 1  # a wrong key is not worth retrying
