"""What every service gets from the core, through real HTTP on SQLite and Postgres: one winner
among racing idempotent submits, status from the job alone (so listings page correctly),
problem+json for every error with each one documented, ``Allow`` on a 405, downloads with
Range/ETag/HEAD, a 503 with Retry-After when storage is down, and one engine per process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyferry.app import create_app, load_setup, running
from skyferry.config import load_settings
from skyferry.platform import PlatformError
from tests.servers import free_port, serve_in_thread


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = load_settings(
        database_url=database_url,
        blob_url=f"file://{tmp_path}/blobs",
        log_format="text",
        log_level="WARNING",
        auto_migrate=True,
        services=["demo", "books", "inventory"],
        books={"offline_seconds_per_chapter": 0.01},
    )
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def wait_for(api: httpx.Client, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found: dict[str, Any] = api.get(path).json()
        if found["status"] in ("succeeded", "failed", "cancelled"):
            return found
        time.sleep(0.05)
    raise TimeoutError(path)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/books", {"topic": "Kites", "chapters": 1}), ("/jobs/demo", {"steps": 1})],
)
def test_racing_submits_with_one_key_make_one_job(
    api: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    def submit(_: int) -> httpx.Response:
        return api.post(path, json=body, headers={"Idempotency-Key": "race-1"})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(submit, range(20)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 19 + [202]
    assert len({answer.json()["id"] for answer in answers}) == 1


def test_listing_by_status_pages_through_the_jobs_own_status(api: httpx.Client) -> None:
    ids = [
        api.post("/books", json={"topic": f"T{n}", "chapters": 1}).json()["id"] for n in range(3)
    ]
    for book_id in ids:
        assert wait_for(api, f"/books/{book_id}")["status"] == "succeeded"
    running = api.post("/books", json={"topic": "slow", "chapters": 50}).json()["id"]
    first = api.get("/books", params={"status": "succeeded", "limit": 2}).json()
    second = api.get(
        "/books", params={"status": "succeeded", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert len(first["items"]) == 2  # full pages: the filter is applied before paging
    assert [b["id"] for b in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    # DELETE and GET agree, both from the job
    assert api.delete(f"/books/{running}").json()["status"] == "cancelled"
    assert api.get(f"/books/{running}").json()["status"] == "cancelled"
    assert api.delete(f"/books/{running}").status_code == 204
    assert api.get(f"/books/{running}").status_code == 404


def test_book_downloads_answer_range_etag_and_head(api: httpx.Client) -> None:
    book_id = api.post("/books", json={"topic": "Sea glass", "chapters": 1}).json()["id"]
    wait_for(api, f"/books/{book_id}")
    path = f"/books/{book_id}/download?format=md"
    whole = api.get(path)
    assert whole.status_code == 200
    etag = whole.headers["etag"]
    part = api.get(path, headers={"Range": "bytes=2-9"})
    assert (part.status_code, part.content) == (206, whole.content[2:10])
    assert part.headers["content-range"] == f"bytes 2-9/{len(whole.content)}"
    assert api.get(path, headers={"If-None-Match": etag}).status_code == 304
    head = api.head(path)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(whole.content))
    huge = api.get(path, headers={"Range": "bytes=0-" + "9" * 5000})
    assert (huge.status_code, huge.content) == (206, whole.content)
    beyond = api.get(path, headers={"Range": "bytes=99999999999999999999999-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-type"] == "application/problem+json"


def test_every_error_is_a_documented_problem(api: httpx.Client) -> None:
    wrong = api.put("/jobs")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.headers["allow"] == "GET, HEAD"
    book = api.patch("/books/some-id")
    assert book.status_code == 405
    assert book.headers["allow"] == "DELETE, GET, HEAD"
    bad_cursor = api.get("/jobs", params={"cursor": "eyJiIjogMTAwMDAwMDAwMDAwMDAwMDAwLCAibyI6IDB9"})
    assert (bad_cursor.status_code, bad_cursor.json()["title"]) == (400, "Invalid cursor")
    empty_key = api.post("/jobs/demo", json={}, headers={"Idempotency-Key": ""})
    assert empty_key.status_code == 422
    nul = api.get("/jobs/a%00b")
    assert nul.status_code == 404
    assert api.get("/jobs", params={"kind": "a\x00b"}).status_code == 422

    schema = api.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("400", "404", "422", "500", "503"):
                content = responses[status]["content"]
                assert "application/problem+json" in content, (method, path, status)
    assert "409" in schema["paths"]["/jobs/{job_id}/result"]["get"]["responses"]
    book_download = schema["paths"]["/books/{book_id}/download"]["get"]["responses"]
    assert {"200", "206", "304", "409", "416"} <= set(book_download)


def test_a_blob_store_that_is_down_is_a_503_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/db/app.db",
        blob_url="s3://nowhere/prefix",
        aws_endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        log_format="text",
        log_level="CRITICAL",
        services=["inventory"],
    )
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        for response in (
            client.get("/files"),
            client.put("/files/a.txt", content=b"x"),
            client.get("/file/download/a.txt"),
            client.get("/ready"),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["retry-after"]) > 0
            assert str(tmp_path) not in response.text


@pytest.mark.anyio
async def test_a_second_engine_in_one_process_is_refused(tmp_path: Path) -> None:
    first = load_setup(
        load_settings(database_url=f"sqlite:///{tmp_path}/a/app.db", log_format="text"),
        default_services=["demo"],
        run_workers=False,
    )
    second = load_setup(
        load_settings(database_url=f"sqlite:///{tmp_path}/b/app.db", log_format="text"),
        default_services=["demo"],
        run_workers=False,
    )
    async with running(first):
        with pytest.raises(PlatformError, match="already started in this process"):
            async with running(second):
                pass
