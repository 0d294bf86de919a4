"""The blob port on every backend: local files, memory, and S3 through a moto server."""

from __future__ import annotations

import hashlib
import pickle
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest

from skyferry.redaction import without_local_paths
from skyferry.storage.blobs import BlobRange, BlobStore, open_blob_store
from skyferry.storage.errors import BlobNotFoundError, InvalidBlobKeyError, StorageError

MIB = 1024 * 1024
S3_PREFIX = "some/prefix"
BAD_KEYS = ["", "../x", "a/../../x", "/etc/passwd", "a\\b", "a\x00b", "a\nb", "a//b", "é" * 513]


@pytest.fixture(params=["file", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return open_blob_store(f"file://{tmp_path / 'blobs'}")
    if request.param == "memory":
        return open_blob_store("memory://")
    bucket = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("moto_endpoint")
    return open_blob_store(f"s3://{bucket}/{S3_PREFIX}", endpoint_url=endpoint)


def keeps_content_type(store: BlobStore) -> bool:
    return not store.url.startswith("file:")


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def in_pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.anyio
async def test_put_then_get_round_trips_bytes(store: BlobStore) -> None:
    put = await store.put("docs/a.txt", b"hello blobs", content_type="text/plain")
    info, chunks = await store.get("docs/a.txt")

    assert b"".join(await collect(chunks)) == b"hello blobs"
    assert await store.read("docs/a.txt") == b"hello blobs"
    assert (put.key, put.size) == ("docs/a.txt", 11)
    assert (info.key, info.size, info.etag) == ("docs/a.txt", 11, put.etag)
    expected_type = "text/plain" if keeps_content_type(store) else None
    assert put.content_type == info.content_type == expected_type


@pytest.mark.anyio
async def test_streamed_put_and_get_move_megabytes_in_chunks(store: BlobStore) -> None:
    data = random.Random(7).randbytes(12 * MIB + 123)

    put = await store.put("big/blob.bin", in_pieces(data, 256 * 1024))
    info, chunks = await store.get("big/blob.bin")
    received = await collect(chunks)

    assert put.size == info.size == len(data)
    assert len(received) > 1
    assert max(len(chunk) for chunk in received) <= MIB
    assert hashlib.sha256(b"".join(received)).digest() == hashlib.sha256(data).digest()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("byte_range", "expected"),
    [
        (BlobRange(10, 19), slice(10, 20)),
        (BlobRange(0, 0), slice(0, 1)),
        (BlobRange(1000), slice(1000, None)),
        (BlobRange(1000, 5000), slice(1000, None)),
        (BlobRange(suffix=24), slice(-24, None)),
        (BlobRange(suffix=5000), slice(None)),
    ],
)
async def test_ranged_get_returns_only_the_range(
    store: BlobStore, byte_range: BlobRange, expected: slice
) -> None:
    data = bytes(range(256)) * 4
    await store.put("ranged", data)

    info, chunks = await store.get("ranged", byte_range=byte_range)

    assert b"".join(await collect(chunks)) == data[expected]
    assert info.size == len(data)


@pytest.mark.anyio
async def test_range_starting_past_the_end_is_a_storage_error(store: BlobStore) -> None:
    await store.put("short", b"0123456789")

    with pytest.raises(StorageError) as caught:
        await store.get("short", byte_range=BlobRange(20))

    assert not isinstance(caught.value, BlobNotFoundError)
    assert caught.value.key == "short"


@pytest.mark.parametrize(
    "fields",
    [{"start": -1}, {"start": 10, "end": 9}, {"suffix": 0}, {"start": 5, "suffix": 3}],
)
def test_blob_range_refuses_impossible_ranges(fields: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="BlobRange"):
        BlobRange(**fields)


@pytest.mark.anyio
async def test_head_reports_size_etag_and_time(store: BlobStore) -> None:
    first = await store.put("h/one", b"first", content_type="application/octet-stream")
    info = await store.head("h/one")
    second = await store.put("h/one", b"second version")

    assert (info.key, info.size, info.etag) == ("h/one", 5, first.etag)
    assert info.etag
    assert isinstance(info.last_modified, datetime)
    assert info.last_modified.tzinfo is not None
    assert (await store.head("h/one")).etag == second.etag != first.etag


@pytest.mark.anyio
async def test_list_matches_the_prefix_as_a_string(store: BlobStore) -> None:
    keys = ["reports/2024/a", "reports/2024/b", "reports/2025/c", "reportsX", "other/d"]
    for key in keys:
        await store.put(key, key.encode())

    async def listed(prefix: str) -> list[str]:
        return sorted([info.key async for info in store.list(prefix)])

    assert await listed("") == sorted(keys)
    assert await listed("reports/2024/") == ["reports/2024/a", "reports/2024/b"]
    assert await listed("reports/202") == ["reports/2024/a", "reports/2024/b", "reports/2025/c"]
    assert await listed("reports") == [*keys[:4]]
    assert await listed("reports/2024/a") == ["reports/2024/a"]
    assert await listed("nothing/") == []
    sizes = {info.key: info.size async for info in store.list("other")}
    assert sizes == {"other/d": 7}


@pytest.mark.anyio
async def test_deleted_blob_is_gone(store: BlobStore) -> None:
    await store.put("d/x", b"x")

    await store.delete("d/x")

    with pytest.raises(BlobNotFoundError):
        await store.head("d/x")
    with pytest.raises(BlobNotFoundError):
        await store.delete("d/x")
    assert [info async for info in store.list()] == []


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["get", "read", "head", "delete"])
async def test_missing_blob_raises_not_found(store: BlobStore, operation: str) -> None:
    call: Callable[[str], Awaitable[object]] = getattr(store, operation)

    with pytest.raises(BlobNotFoundError) as caught:
        await call("no/such/blob")

    assert (caught.value.key, caught.value.url) == ("no/such/blob", store.url)
    assert caught.value.log_detail == f"blob key 'no/such/blob' in {store.url}: not found"
    # what clients may see: a file:// store's root cut to its last part
    assert str(caught.value) == without_local_paths(caught.value.log_detail)
    assert "/tmp" not in str(caught.value)
    restored = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own exception
    assert (type(restored), str(restored)) == (BlobNotFoundError, str(caught.value))


@pytest.mark.anyio
async def test_every_method_refuses_invalid_keys(store: BlobStore) -> None:
    operations: list[Callable[[str], Awaitable[object]]] = [
        lambda key: store.put(key, b"x"),
        store.get,
        store.read,
        store.head,
        store.delete,
    ]
    for key in BAD_KEYS:
        for operation in operations:
            with pytest.raises(InvalidBlobKeyError):
                await operation(key)
    for prefix in ["../", "/", "a//", "a\\"]:
        with pytest.raises(InvalidBlobKeyError):
            [info async for info in store.list(prefix)]
    assert [info async for info in store.list()] == []


@pytest.mark.anyio
async def test_put_lets_the_callers_own_error_through(store: BlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * MIB
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        await store.put("half", broken())

    with pytest.raises(BlobNotFoundError):
        await store.head("half")


@pytest.mark.anyio
async def test_check_passes_on_a_live_store(store: BlobStore) -> None:
    await store.check()


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file()
    }


@pytest.mark.anyio
async def test_file_store_cannot_be_escaped(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    store = open_blob_store(f"file://{tmp_path / 'root'}")

    for key in ["../x", "a/../../x", "../outside/secret.txt", "..", "/tmp/x", "..\\x", "a/.."]:
        with pytest.raises(InvalidBlobKeyError):
            await store.put(key, b"escaped")
        with pytest.raises(InvalidBlobKeyError):
            await store.read(key)
        with pytest.raises(InvalidBlobKeyError):
            await store.delete(key)

    assert files_under(tmp_path) == {"outside/secret.txt": b"secret"}


@pytest.mark.anyio
async def test_relative_file_url_is_created_under_the_working_directory(tmp_path: Path) -> None:
    # tests/conftest.py runs every test in tmp_path
    store = open_blob_store("file://./.skyferry/blobs")
    await store.put("a/b.txt", b"here")

    root = tmp_path / ".skyferry" / "blobs"
    assert store.url == root.as_uri()
    assert files_under(root) == {"a/b.txt": b"here"}


@pytest.mark.anyio
async def test_s3_keys_live_under_the_url_prefix(s3_bucket: str, moto_endpoint: str) -> None:
    store = open_blob_store(f"s3://{s3_bucket}/{S3_PREFIX}/", endpoint_url=moto_endpoint)
    whole_bucket = open_blob_store(f"s3://{s3_bucket}", endpoint_url=moto_endpoint)
    await store.put("k.txt", b"v")

    assert store.url == f"s3://{s3_bucket}/{S3_PREFIX}"
    assert [info.key async for info in store.list()] == ["k.txt"]
    assert [info.key async for info in whole_bucket.list()] == [f"{S3_PREFIX}/k.txt"]


@pytest.mark.anyio
async def test_check_names_a_missing_bucket_without_leaking_credentials(
    moto_endpoint: str, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-do-not-print")
    store = open_blob_store("s3://no-such-bucket", endpoint_url=moto_endpoint)

    with pytest.raises(StorageError) as caught:
        await store.check()

    message = str(caught.value)
    assert message.startswith("s3://no-such-bucket: unreachable: ")
    assert "NoSuchBucket" in message
    assert "AKIAEXAMPLEKEYID0001" not in message
    assert "example-secret-do-not-print" not in message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://bucket", "expected file://path, memory:// or s3://bucket/prefix"),
        ("http://user:password@example.com/blobs", "unsupported blob store URL scheme 'http'"),
        ("sqlite:///blobs.db", "unsupported blob store URL scheme 'sqlite'"),
        ("file://", "needs a directory"),
        ("memory://somewhere", "takes no host"),
        ("s3://", "expected s3://bucket"),
        ("s3://user:password@bucket", "credentials come from AWS_"),
        ("s3://bucket/../up", "'..' segment"),
    ],
)
def test_unusable_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        open_blob_store(url)

    assert "password" not in str(caught.value)


def test_endpoint_with_credentials_is_refused() -> None:
    with pytest.raises(ValueError, match="without credentials"):
        open_blob_store("s3://bucket", endpoint_url="http://user:password@127.0.0.1:9000")
