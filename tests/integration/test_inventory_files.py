"""Inventory files through real HTTP, on local files and on S3 (a moto server): upload, list,
delete, and downloads with Range and conditional requests as RFC 9110 describes them; names
that try to leave the store and uploads over the limit are refused."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyferry.app import create_app
from skyferry.config import load_settings
from tests.servers import serve_in_thread

LIMIT = 256 * 1024
"""max_upload_bytes in these tests: small enough that an oversized body fits in socket buffers,
so the client finishes sending and reads the 413 instead of a reset connection."""

PROBLEM = "application/problem+json"
DATA = bytes(range(256)) * 4  # 1 KiB whose every slice is distinct


@pytest.fixture(params=["file", "s3"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    overrides: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/db/skyferry.db",
        "blob_url": f"file://{tmp_path}/store",
        "log_format": "text",
        "log_level": "WARNING",
        "auto_migrate": True,
        "inventory": {"max_upload_bytes": LIMIT},
    }
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        overrides["blob_url"] = f"s3://{bucket}/shop"
        overrides["AWS_ENDPOINT_URL"] = request.getfixturevalue("moto_endpoint")
    settings = load_settings(**overrides)
    with (
        serve_in_thread(create_app(settings, run_workers=False)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def upload(api: httpx.Client, name: str, data: bytes = DATA, **headers: str) -> httpx.Response:
    response = api.put(f"/files/{name}", content=data, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response


def assert_problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = dict(response.json())
    for word in words:
        assert word in problem["detail"], problem
    return problem


def test_upload_list_download_delete(api: httpx.Client) -> None:
    created = api.put(
        "/files/manuals/pump.txt", content=b"v1", headers={"content-type": "text/plain"}
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/file/download/manuals/pump.txt"
    assert created.json()["name"] == "manuals/pump.txt"
    assert created.json()["size"] == 2
    assert created.json()["content_type"] == "text/plain"
    replaced = upload(api, "manuals/pump.txt", b"version 2", **{"content-type": "text/plain"})
    assert replaced.status_code == 200
    assert replaced.headers["etag"] != created.headers["etag"]

    listed = api.get("/files").json()
    assert [(f["name"], f["size"]) for f in listed["files"]] == [("manuals/pump.txt", 9)]

    download = api.get("/file/download/manuals/pump.txt")
    assert download.status_code == 200
    assert download.content == b"version 2"
    assert download.headers["content-type"] == "text/plain"
    assert download.headers["content-length"] == "9"
    assert download.headers["accept-ranges"] == "bytes"
    assert download.headers["etag"] == replaced.headers["etag"]
    assert parsedate_to_datetime(download.headers["last-modified"]).tzinfo is not None
    assert download.headers["content-disposition"] == 'attachment; filename="pump.txt"'

    assert api.delete("/files/manuals/pump.txt").status_code == 204
    assert_problem(api.get("/file/download/manuals/pump.txt"), 404, "manuals/pump.txt")
    assert_problem(api.delete("/files/manuals/pump.txt"), 404)
    assert api.get("/files").json()["files"] == []


def test_a_large_file_streams_both_ways_intact(api: httpx.Client) -> None:
    data = random.Random(3).randbytes(LIMIT)

    def pieces() -> Iterator[bytes]:  # no Content-Length: a chunked upload
        for start in range(0, len(data), 10_000):
            yield data[start : start + 10_000]

    assert api.put("/files/big.bin", content=pieces()).status_code == 201
    digest = hashlib.sha256()
    with api.stream("GET", "/file/download/big.bin") as response:
        assert response.headers["content-length"] == str(len(data))
        assert response.headers["content-type"] == "application/octet-stream"
        for chunk in response.iter_bytes():
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(data).digest()


def test_non_ascii_names_download_with_an_encoded_disposition(api: httpx.Client) -> None:
    upload(api, "fiches/café%20crème.pdf")
    response = api.get("/file/download/fiches/café%20crème.pdf")
    assert response.content == DATA
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''caf%C3%A9%20cr%C3%A8me.pdf"
    )


def test_listing_pages_by_name_and_filters_by_prefix(api: httpx.Client) -> None:
    names = ["a/1.txt", "a/2.txt", "a/3.txt", "b/1.txt", "ab.txt"]
    for name in names:
        upload(api, name, name.encode())
    seen: list[str] = []
    cursor = None
    while True:
        page = api.get("/files", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += [f["name"] for f in page.json()["files"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(names)
    in_a = api.get("/files", params={"prefix": "a/"}).json()["files"]
    assert [f["name"] for f in in_a] == ["a/1.txt", "a/2.txt", "a/3.txt"]
    assert_problem(api.get("/files", params={"prefix": "../"}), 400, "..")
    assert_problem(api.get("/files", params={"cursor": "%%%"}), 400, "cursor")


# -- Range ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=500-99999", 500, 1023),
        ("bytes=1023-1023", 1023, 1023),
        ("bytes=-5000", 0, 1023),
    ],
)
def test_a_satisfiable_range_is_206_with_exactly_those_bytes(
    api: httpx.Client, header: str, first: int, last: int
) -> None:
    etag = upload(api, "data.bin").headers["etag"]
    response = api.get("/file/download/data.bin", headers={"Range": header})
    assert response.status_code == 206
    assert response.content == DATA[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/1024"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["etag"] == etag


def test_an_unsatisfiable_range_is_416_naming_the_size(api: httpx.Client) -> None:
    upload(api, "data.bin")
    upload(api, "empty.bin", b"")
    for name, header, size in [
        ("data.bin", "bytes=1024-", 1024),
        ("data.bin", "bytes=5000-6000", 1024),
        ("data.bin", "bytes=-0", 1024),
        ("empty.bin", "bytes=0-0", 0),
        ("empty.bin", "bytes=-10", 0),
    ]:
        response = api.get(f"/file/download/{name}", headers={"Range": header})
        assert_problem(response, 416)
        assert response.headers["content-range"] == f"bytes */{size}", header


def test_ranges_it_does_not_serve_get_the_whole_file(api: httpx.Client) -> None:
    upload(api, "data.bin")
    for header in ["bytes=0-1,5-6", "bytes=9-5", "bytes=x-y", "lines=1-2"]:
        response = api.get("/file/download/data.bin", headers={"Range": header})
        assert response.status_code == 200, header
        assert response.content == DATA


def test_if_range_serves_the_range_only_for_the_same_version(api: httpx.Client) -> None:
    etag = upload(api, "data.bin").headers["etag"]
    same = api.get("/file/download/data.bin", headers={"Range": "bytes=0-3", "If-Range": etag})
    assert same.status_code == 206
    assert same.content == DATA[:4]
    stale = api.get(
        "/file/download/data.bin", headers={"Range": "bytes=0-3", "If-Range": '"other"'}
    )
    assert stale.status_code == 200
    assert stale.content == DATA


# -- conditional requests ------------------------------------------------------------------------


def test_if_none_match_of_the_current_etag_is_304_without_a_body(api: httpx.Client) -> None:
    etag = upload(api, "data.bin").headers["etag"]
    for header in [etag, f'"x", {etag}', f"W/{etag}", "*"]:
        response = api.get("/file/download/data.bin", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
    changed = api.get("/file/download/data.bin", headers={"If-None-Match": '"old"'})
    assert changed.status_code == 200
    assert changed.content == DATA


def test_if_modified_since_is_304_unless_the_file_is_newer(api: httpx.Client) -> None:
    upload(api, "data.bin")
    modified = api.get("/file/download/data.bin").headers["last-modified"]
    assert (
        api.get("/file/download/data.bin", headers={"If-Modified-Since": modified}).status_code
        == 304
    )
    earlier = format_datetime(parsedate_to_datetime(modified).replace(year=2001), usegmt=True)
    response = api.get("/file/download/data.bin", headers={"If-Modified-Since": earlier})
    assert response.status_code == 200
    assert response.content == DATA
    # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 §13.2.2)
    both = api.get(
        "/file/download/data.bin",
        headers={"If-Modified-Since": modified, "If-None-Match": '"old"'},
    )
    assert both.status_code == 200


def test_head_answers_the_headers_of_a_download(api: httpx.Client) -> None:
    etag = upload(api, "data.bin").headers["etag"]
    response = api.head("/file/download/data.bin")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "1024"
    assert response.headers["etag"] == etag
    assert api.head("/file/download/missing.bin").status_code == 404


# -- refused names and sizes ---------------------------------------------------------------------

# httpx resolves a literal ".." segment before sending, so the percent-encoded forms carry it
BAD_NAMES = [
    "%2e%2e",
    "%2e%2e/%2e%2e/secret.txt",
    "..%2Fsecret.txt",
    "a/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "C:%5Cwindows%5Cwin.ini",
    "..%5C..%5Csecret.txt",
    "a%00b",
    "x" * 256,
    "%C3%A9" * 128,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_that_could_leave_the_store_are_400(
    api: httpx.Client, name: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside the store")
    for response in [
        api.put(f"/files/{name}", content=b"overwrite?"),
        api.get(f"/file/download/{name}"),
        api.delete(f"/files/{name}"),
    ]:
        problem = assert_problem(response, 400, "invalid filename")
        assert problem["title"] == "Invalid filename"
        assert problem["reason"]
    assert secret.read_bytes() == b"outside the store"
    assert api.get("/files").json()["files"] == []


def test_an_upload_over_the_limit_is_413_and_stores_nothing(api: httpx.Client) -> None:
    upload(api, "kept.bin")
    too_big = b"x" * (LIMIT + 1)

    assert_problem(api.put("/files/kept.bin", content=too_big), 413)

    def chunked() -> Iterator[bytes]:  # no Content-Length: only counting can catch it
        yield too_big[:LIMIT]
        yield too_big[LIMIT:]

    assert_problem(api.put("/files/kept.bin", content=chunked()), 413)
    assert_problem(api.put("/files/new.bin", content=chunked()), 413)

    assert api.get("/file/download/kept.bin").content == DATA  # the old version is intact
    assert_problem(api.get("/file/download/new.bin"), 404)
    assert [f["name"] for f in api.get("/files").json()["files"]] == ["kept.bin"]
    assert api.put("/files/exact.bin", content=too_big[:LIMIT]).status_code == 201


def test_a_name_past_the_file_systems_limit_once_staged_is_400_on_a_local_store(
    request: pytest.FixtureRequest, api: httpx.Client
) -> None:
    """250 bytes pass the 255-byte rule, but obstore stages a write as "<name>#1" (before: 503
    from the file system's ENAMETOOLONG). S3 takes such names."""
    name = "é" * 125  # 250 bytes
    longest = "x" * 247  # the name limit of 255, less 8 for the staging suffix
    if request.node.callspec.params["api"] == "s3":
        assert upload(api, name).status_code == 201
        return
    for response in [
        api.put(f"/files/{name}", content=b"x"),
        api.get(f"/file/download/{name}"),
        api.delete(f"/files/{name}"),
    ]:
        problem = assert_problem(response, 400, "invalid filename", "at most 247", "name limit")
        assert problem["title"] == "Invalid filename"
    assert upload(api, longest).status_code == 201
    assert api.get(f"/file/download/{longest}").content == DATA


@pytest.mark.parametrize("api", ["file"], indirect=True)
def test_a_local_store_refuses_a_name_that_is_both_file_and_folder(api: httpx.Client) -> None:
    # S3 keys are flat, so there "manuals" and "manuals/pump.pdf" can coexist; on a disk they
    # cannot, and the client learns why (409) instead of getting a 503
    upload(api, "manuals/pump.pdf")
    assert_problem(api.put("/files/manuals", content=b"x"), 409, "folder")
    assert_problem(api.put("/files/manuals/pump.pdf/part1", content=b"x"), 409, "is a file")
    assert_problem(api.get("/file/download/manuals/pump.pdf/part1"), 404)
    assert_problem(api.get("/file/download/manuals"), 404)
    assert api.get("/file/download/manuals/pump.pdf").content == DATA


def test_the_openapi_schema_documents_the_file_routes(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths["/files/{filename}"]) == {"put", "delete"}
    assert set(paths["/file/download/{filename}"]) == {"get"}
    assert "/inventory/{sku}/adjust" in paths

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    # every status each route answers is listed (a status it can give beyond the common ones)
    assert {"200", "201", "409", "413"} <= statuses("/files/{filename}", "put")
    assert {"200", "206", "304", "416"} <= statuses("/file/download/{filename}", "get")
    assert {"201", "409"} <= statuses("/inventory", "post")
    assert {"200", "304"} <= statuses("/inventory/{sku}", "get")
    for method in ("patch", "delete"):
        assert {"409", "412"} <= statuses("/inventory/{sku}", method)
    assert {"409", "412"} <= statuses("/inventory/{sku}/adjust", "post")
