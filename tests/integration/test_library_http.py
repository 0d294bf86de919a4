"""The library API through real HTTP, on SQLite and Postgres, with the offline source: the
original Goodreads Stats contract (``/upload``, ``/status``, ``/data``) end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import LibraryFactory

FIXTURES = Path(__file__).parent.parent / "fixtures" / "library"


@pytest.fixture
def start_api(start_library: LibraryFactory) -> LibraryFactory:
    return start_library


def upload(
    api: httpx.Client, name: str, data: bytes | None = None, key: str | None = None
) -> httpx.Response:
    content = data if data is not None else (FIXTURES / name).read_bytes()
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/upload", files={"csv": (name, content, "text/csv")}, headers=headers)


def wait_done(api: httpx.Client, upload_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    seen: list[float] = []
    while time.monotonic() < deadline:
        status = api.get(f"/status/{upload_id}").json()
        seen.append(status["progress"]["percent_complete"])
        if status["status"] != "processing":
            assert seen == sorted(seen), f"progress went backwards: {seen}"
            return dict(status)
        time.sleep(0.05)
    raise TimeoutError(f"upload {upload_id} never finished")


def test_an_export_is_uploaded_processed_served_and_deleted(start_api: LibraryFactory) -> None:
    api = start_api()
    response = upload(api, "goodreads_31_columns.csv")
    assert response.status_code == 200, response.text
    accepted = response.json()
    upload_id = accepted["uuid"]
    assert accepted["status"] == "processing"
    assert accepted["message"]
    assert response.headers["location"] == f"/jobs/{upload_id}"

    status = wait_done(api, upload_id)
    assert status["status"] == "complete", status
    assert status["filename"] == "goodreads_31_columns.csv"
    assert status["file_size"] == len((FIXTURES / "goodreads_31_columns.csv").read_bytes())
    assert status["progress"] == {
        "total_books": 10,
        "processed_books": 10,
        "percent_complete": 100.0,
    }
    assert status["data_url"] == f"/data/{upload_id}"
    assert status["upload_time"].endswith("Z")
    assert status["completion_time"].endswith("Z")

    data = api.get(status["data_url"]).json()
    assert data["export_id"] == upload_id
    books = {b["goodreads_id"]: b for b in data["books"]}
    assert len(books) == 10
    dune = books["234225"]
    assert dune["title"] == "Dune (Dune, #1)"
    assert dune["author"] == "Frank Herbert"
    assert (dune["isbn"], dune["isbn13"]) == ("0441013597", "9780441013593")
    assert dune["date_read"] == "2019-08-15"
    assert dune["reading_year"] == 2019
    assert dune["reading_month_year"] == "2019-08"
    assert dune["my_rating"] == 5
    assert dune["is_rated"] is True
    assert dune["page_category"] == "Very Long (500+)"
    assert dune["publication_year"] == 1965
    assert dune["was_reread"] is True
    assert dune["original_read_count"] == 2
    assert dune["my_review"] == "A masterpiece.\n\nWorldbuilding & politics."
    assert "Science Fiction" in dune["genres"]
    assert dune["genre_enriched"] is True
    alchemist = books["18144590"]
    assert alchemist["my_rating"] is None
    assert alchemist["is_rated"] is False
    assert alchemist["page_category"] == "Short (<200)"
    assert books["13496"]["reading_status"] == "to-read"
    assert books["77203"]["reading_status"] == "did-not-finish"
    summary = data["summary"]
    assert summary["total_books"] == 10
    assert summary["read_books"] == sum(1 for b in books.values() if b["reading_status"] == "read")
    assert summary["reading_date_range"] == {"earliest": "2017-03-12", "latest": "2022-07-07"}
    assert summary["reading_years"] == [2017, 2018, 2019, 2020, 2022]
    assert summary["genre_enrichment_rate"] == 100.0
    top = summary["most_common_genres"]
    assert top[0]["count"] >= top[-1]["count"]
    notes = data["metadata"]["processing_notes"]
    assert any("row 12" in note for note in notes), notes  # the row cut short
    assert data["metadata"]["export_source"] == "goodreads_csv_with_genre_enrichment"

    deleted = api.delete(f"/data/{upload_id}")
    assert deleted.status_code == 200
    assert set(deleted.json()["deleted_files"]) >= {"dashboard.json", "export.json"}
    for path in (f"/status/{upload_id}", f"/data/{upload_id}"):
        gone = api.get(path)
        assert gone.status_code == 404
        assert gone.json()["detail"]


@pytest.mark.parametrize(
    ("name", "source", "books"),
    [
        ("goodreads_24_columns.csv", "goodreads", 9),
        ("goodreads_2026.csv", "goodreads", 5),
        ("storygraph.csv", "storygraph", 6),
    ],
)
def test_every_export_vintage_is_read(
    start_api: LibraryFactory, name: str, source: str, books: int
) -> None:
    api = start_api()
    upload_id = upload(api, name).json()["uuid"]
    assert wait_done(api, upload_id)["status"] == "complete"
    data = api.get(f"/data/{upload_id}").json()
    assert data["summary"]["total_books"] == books
    assert data["metadata"]["export_source"] == f"{source}_csv_with_genre_enrichment"


def test_wrong_files_are_refused_with_what_is_wrong(start_api: LibraryFactory) -> None:
    api = start_api(max_upload_bytes=4096)
    not_csv = upload(api, "library.pdf", b"%PDF-1.7 binary\x00\x01")
    assert not_csv.status_code == 400
    assert not_csv.headers["content-type"] == "application/problem+json"
    assert "CSV" in not_csv.json()["detail"]

    missing = upload(api, "export.csv", b"Title,Author,Shelf\nDune,Frank Herbert,read\n")
    assert missing.status_code == 400
    assert "My Rating" in missing.json()["detail"]
    assert "Date Read" in missing.json()["detail"]

    too_large = upload(api, "export.csv", b"Title,Author,My Rating,Date Read\n" + b"x" * 8000)
    assert too_large.status_code == 413
    assert "Maximum size" in too_large.json()["detail"]

    unknown = api.get("/status/nope")
    assert unknown.status_code == 404


def test_an_idempotent_repeat_is_the_same_upload(start_api: LibraryFactory) -> None:
    api = start_api()
    first = upload(api, "goodreads_2026.csv", key="library-1")
    again = upload(api, "goodreads_2026.csv", key="library-1")
    assert first.status_code == again.status_code == 200
    assert first.json()["uuid"] == again.json()["uuid"]
    assert wait_done(api, first.json()["uuid"])["status"] == "complete"


def test_data_is_202_while_processing(start_api: LibraryFactory) -> None:
    api = start_api(offline_seconds_per_book=0.5, concurrency=1)
    upload_id = upload(api, "goodreads_2026.csv").json()["uuid"]
    pending = api.get(f"/data/{upload_id}")
    assert pending.status_code == 202
    assert pending.json() == {"detail": "Still processing"}
    status = api.get(f"/status/{upload_id}").json()
    assert status["status"] == "processing"
    assert status["data_url"] is None
