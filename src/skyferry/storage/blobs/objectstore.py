"""The blob port over obstore, whose one API covers local files, memory and S3-compatible stores.

This module picks an obstore store from a URL, checks keys, and translates obstore's answers and
exceptions into the port's; obstore moves the bytes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import obstore as obs
from obstore.store import LocalStore, MemoryStore, S3Store

from skyferry.storage.blobs.keys import validate_key, validate_prefix
from skyferry.storage.blobs.port import BlobInfo, BlobRange, BlobStore
from skyferry.storage.errors import (
    BlobNotFoundError,
    InvalidBlobKeyError,
    StorageError,
    StorageFullError,
    StorageReadOnlyError,
)

if TYPE_CHECKING:
    from obstore import (
        Attributes,
        BytesStream,
        GetOptions,
        GetResult,
        ObjectMeta,
        OffsetRange,
        SuffixRange,
    )
    from obstore.store import ClientConfig, ObjectStore, S3Config

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
"""Largest chunk ``get`` yields: big enough for throughput, small enough to hold many at once."""

_UPLOAD_CONCURRENCY = 4
"""Parts in flight per streamed put; with obstore's 5 MiB parts one upload holds about 20 MiB."""

_LIST_PAGE = 500

_CHECK_SECONDS = 5.0
"""A readiness probe must answer fast; obstore retries a refused connection for several seconds."""

_DETAIL_CHARS = 300

_STAGING_SUFFIX_BYTES = 8
"""Room a file:// key's last segment leaves for obstore's "#<n>" suffix of a write in flight
("#1" unless several writes of one name overlap); without it a name the file system takes
whole fails on its staging file."""

DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024

# obstore reports OS errors in its message only: "... (os error 28)", "kind: StorageFull"
_FULL = re.compile(r"\(os error (?:28|122)\)|kind: (?:StorageFull|QuotaExceeded)")
_READ_ONLY = re.compile(r"\(os error 30\)|kind: ReadOnlyFilesystem")


def open_blob_store(
    url: str, *, endpoint_url: str | None = None, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES
) -> BlobStore:
    """Open the store a URL names.

    ``file://./relative/dir`` or ``file:///absolute/dir`` (created if missing; nothing outside
    it is ever touched; a key cannot be both a blob and a "directory" of others, as "a" and
    "a/b" can on S3), ``memory://`` (a fresh, private store), ``s3://bucket/optional/prefix``.
    ``endpoint_url`` (the AWS_ENDPOINT_URL value) points s3:// at any S3-compatible server;
    credentials and region come from the standard AWS variables, which obstore reads itself.
    ``min_free_bytes``: below this much free space a file:// store's ``check`` says it is full.
    """
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return _open_file(url, min_free_bytes)
    if scheme == "memory":
        return _open_memory(url)
    if scheme == "s3":
        return _open_s3(url, endpoint_url)
    # only the scheme is echoed: the rest of an unknown URL may hold credentials
    raise ValueError(
        f"unsupported blob store URL scheme {scheme!r}: "
        "expected file://path, memory:// or s3://bucket/prefix"
    )


def _open_file(url: str, min_free_bytes: int) -> ObjectStoreBlobs:
    path = unquote(url.split("://", 1)[1])
    if not path:
        raise ValueError("file:// URL needs a directory: file://./relative/dir or file:///abs/dir")
    root = Path(path).resolve()
    root.mkdir(parents=True, exist_ok=True)
    # the prefix confines obstore to root, validate_key keeps ".." from climbing out of it, and
    # automatic_cleanup removes directories a delete empties (never root itself)
    store = LocalStore(prefix=root, automatic_cleanup=True)
    name_limit = os.pathconf(root, "PC_NAME_MAX") - _STAGING_SUFFIX_BYTES
    return ObjectStoreBlobs(
        store, url=root.as_uri(), segment_limit=name_limit, min_free_bytes=min_free_bytes
    )


def _open_memory(url: str) -> ObjectStoreBlobs:
    parts = urlsplit(url)
    if parts.netloc or parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError("memory:// takes no host, path or query")
    return ObjectStoreBlobs(MemoryStore(), url="memory://")


def _open_s3(url: str, endpoint_url: str | None) -> ObjectStoreBlobs:
    parts = urlsplit(url)
    bucket = parts.netloc
    if not bucket or "@" in bucket or ":" in bucket or parts.query or parts.fragment:
        raise ValueError(
            "expected s3://bucket or s3://bucket/prefix; credentials come from AWS_* variables"
        )
    prefix = unquote(parts.path).strip("/")
    if prefix:
        validate_key(prefix)
    config: S3Config = {}
    client_options: ClientConfig = {}
    if endpoint_url:
        endpoint = urlsplit(endpoint_url)
        if (
            endpoint.scheme not in ("http", "https")
            or not endpoint.hostname
            or "@" in endpoint.netloc
        ):
            raise ValueError("endpoint_url must be http(s)://host[:port], without credentials")
        config["endpoint"] = endpoint_url
        # S3-compatible servers on a laptop or in CI (moto, MinIO) speak plain HTTP
        client_options["allow_http"] = endpoint.scheme == "http"
    store = S3Store(bucket, prefix=prefix or None, config=config, client_options=client_options)
    return ObjectStoreBlobs(store, url=f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}")


class ObjectStoreBlobs:
    """A BlobStore over one obstore store."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        url: str,
        segment_limit: int | None = None,
        min_free_bytes: int = 0,
    ) -> None:
        """``segment_limit``: most bytes in one segment of a key (a file system's name limit)."""
        self._store = store
        self.url = url
        self._segment_limit = segment_limit
        self._min_free_bytes = min_free_bytes

    def _key(self, key: str) -> str:
        """``key`` checked by the rules of every store, and by this store's own name limit."""
        validate_key(key)
        if self._segment_limit is not None:
            for segment in key.split("/"):
                size = len(segment.encode("utf-8"))
                if size > self._segment_limit:
                    raise InvalidBlobKeyError(
                        key,
                        f"has a part of {size} bytes between slashes; this file store takes at "
                        f"most {self._segment_limit} (its file system's name limit, less room "
                        "for the suffix of a write in flight)",
                    )
        return key

    async def put(
        self, key: str, data: bytes | AsyncIterable[bytes], *, content_type: str | None = None
    ) -> BlobInfo:
        self._key(key)
        body = _Body(data)
        attributes: Attributes | None = None
        # obstore's LocalStore cannot keep attributes (it raises NotImplementedError), so a
        # file:// blob has no content type rather than failing every put that names one
        if content_type is not None and not isinstance(self._store, LocalStore):
            attributes = {"Content-Type": content_type}
        try:
            result = await obs.put_async(
                self._store,
                key,
                body.chunks,
                attributes=attributes,
                max_concurrency=_UPLOAD_CONCURRENCY,
            )
        except Exception as exc:
            if exc is body.error:
                raise  # the caller's own iterable failed, not the store
            raise self._error(exc, key) from exc
        stored_type = content_type if attributes else None
        return BlobInfo(key, body.size, result["e_tag"], None, stored_type)

    async def get(
        self, key: str, *, byte_range: BlobRange | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]:
        self._key(key)
        options: GetOptions = {}
        if byte_range is not None:
            options["range"] = _obstore_range(byte_range)
        with self._errors(key):
            result = await obs.get_async(self._store, key, options=options)
        return _info(key, result), self._chunks(key, result.stream(min_chunk_size=_CHUNK))

    async def read(self, key: str) -> bytes:
        self._key(key)
        with self._errors(key):
            result = await obs.get_async(self._store, key)
            return bytes(await result.bytes_async())

    async def head(self, key: str) -> BlobInfo:
        self._key(key)
        with self._errors(key):
            # a HEAD request made through get, because obstore's head drops the content type
            result = await obs.get_async(self._store, key, options={"head": True})
        return _info(key, result)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        validate_prefix(prefix)
        # obstore matches whole segments ("a" lists "a/x" but not "ab"); listing the enclosing
        # directory and filtering makes the prefix match like a string, as on S3
        directory = prefix.rpartition("/")[0]
        pages = obs.list(self._store, directory or None, chunk_size=_LIST_PAGE)
        while True:
            with self._errors(None):
                page = await anext(pages, None)
            if page is None:
                return
            for meta in page:
                if meta["path"].startswith(prefix):
                    yield _listed(meta)

    async def delete(self, key: str) -> None:
        # S3 and memory delete a missing key silently; the port promises BlobNotFoundError
        await self.head(key)
        with self._errors(key):
            await obs.delete_async(self._store, key)

    async def check(self) -> None:
        if isinstance(self._store, LocalStore) and self._store.prefix is not None:
            # a put would recreate a vanished root, so only a root we cannot write to is down
            problem = await asyncio.to_thread(
                _local_problem, Path(self._store.prefix), self._min_free_bytes, self.url
            )
            if problem is not None:
                raise _logged(problem)
        try:
            async with asyncio.timeout(_CHECK_SECONDS):
                # listing, unlike a HEAD, tells a missing bucket from a missing key
                await anext(obs.list(self._store, chunk_size=1), None)
        except TimeoutError as exc:
            reason = f"unreachable: no answer within {_CHECK_SECONDS:g} s"
            raise _logged(StorageError(reason, url=self.url)) from exc
        except Exception as exc:
            raise _logged(StorageError(f"unreachable: {_detail(exc)}", url=self.url)) from exc

    async def _chunks(self, key: str, stream: BytesStream) -> AsyncIterator[bytes]:
        while True:
            with self._errors(key):
                chunk = await anext(stream, None)
            if chunk is None:
                return
            # the memory backend hands a whole blob over as one chunk
            for start in range(0, len(chunk), _CHUNK):
                yield chunk[start : start + _CHUNK]

    @contextmanager
    def _errors(self, key: str | None) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise self._error(exc, key) from exc

    def _error(self, exc: Exception, key: str | None) -> StorageError:
        """obstore reports a missing object as the builtin FileNotFoundError on every backend."""
        if isinstance(exc, FileNotFoundError) and key is not None:
            return BlobNotFoundError(key, url=self.url)
        text = str(exc)
        if _FULL.search(text):
            return _logged(StorageFullError(_detail(exc), key=key, url=self.url))
        if _READ_ONLY.search(text):
            return _logged(StorageReadOnlyError(_detail(exc), key=key, url=self.url))
        return _logged(StorageError(_detail(exc), key=key, url=self.url))


class _Body:
    """The bytes of a put, counted on their way through so that put never buffers them."""

    def __init__(self, data: bytes | AsyncIterable[bytes]) -> None:
        self.size = 0
        self.error: Exception | None = None
        self.chunks: bytes | AsyncIterator[bytes]
        if isinstance(data, bytes):
            self.size = len(data)
            self.chunks = data
        else:
            self.chunks = self._count(data)

    async def _count(self, source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in source:
                self.size += len(chunk)
                yield chunk
        except Exception as exc:
            self.error = exc  # obstore re-raises it as is; put must not call it a storage error
            raise


def _obstore_range(byte_range: BlobRange) -> tuple[int, int] | OffsetRange | SuffixRange:
    if byte_range.suffix is not None:
        return {"suffix": byte_range.suffix}
    if byte_range.end is None:
        return {"offset": byte_range.start}
    return (byte_range.start, byte_range.end + 1)  # obstore's end is exclusive


def _info(key: str, result: GetResult) -> BlobInfo:
    meta = result.meta
    content_type = result.attributes.get("Content-Type")
    return BlobInfo(key, meta["size"], meta["e_tag"], meta["last_modified"], content_type)


def _listed(meta: ObjectMeta) -> BlobInfo:
    """A listing carries no attributes, so no content type; head has it."""
    return BlobInfo(meta["path"], meta["size"], meta["e_tag"], meta["last_modified"])


def _logged(error: StorageError) -> StorageError:
    """Log a failure with its local paths, which the error's message, made for clients, cuts."""
    log.warning("blob store failed: %s", error.log_detail)
    return error


def _local_problem(root: Path, min_free_bytes: int, url: str) -> StorageError | None:
    """What keeps a file:// store from taking writes: its root gone or not writable, its file
    system read-only, or less than ``min_free_bytes`` free for this process (a full disk makes
    every upload fail, and DuckDB, SQLite and logs on the same disk with it)."""
    if not root.is_dir():
        return StorageError(f"unreachable: {root} is not a writable directory", url=url)
    stats = os.statvfs(root)
    if stats.f_flag & os.ST_RDONLY:
        return StorageReadOnlyError(f"read-only: {root} is on a read-only file system", url=url)
    if not os.access(root, os.W_OK | os.X_OK):
        return StorageReadOnlyError(f"read-only: {root} is not writable", url=url)
    free = stats.f_bavail * stats.f_frsize
    if free < min_free_bytes:
        return StorageFullError(
            f"full: {_mib(free)} free on {root}'s file system, less than the "
            f"{_mib(min_free_bytes)} of SKYFERRY_BLOB_MIN_FREE_BYTES",
            url=url,
        )
    return None


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _detail(exc: Exception) -> str:
    """obstore's message on one line, without the debug dump that repeats it.

    obstore signs S3 requests in headers, so its messages hold URLs and status codes, not secrets.
    """
    text = " ".join(str(exc).split("Debug source:", 1)[0].split())
    if len(text) > _DETAIL_CHARS:
        text = text[: _DETAIL_CHARS - 1] + "…"
    return text or type(exc).__name__
