"""The blob port: what services may ask of a blob store, whichever backend holds the bytes."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class BlobInfo:
    """What a store knows about one blob.

    ``etag`` is the backend's entity tag as HTTP sends it (quoted) and changes with the content.
    ``content_type`` is None where the backend cannot keep one (file://) or none was given;
    ``last_modified`` is None where the store did not report it (the answer to a put).
    """

    key: str
    size: int
    etag: str | None
    last_modified: datetime | None
    content_type: str | None = None


@dataclass(frozen=True)
class BlobRange:
    """Bytes to read, with HTTP's inclusive end.

    ``BlobRange(0, 99)`` is the first 100 bytes, ``BlobRange(100)`` everything from byte 100 on,
    ``BlobRange(suffix=100)`` the last 100. An end past the blob stops at the blob's end; a start
    past it is an error.
    """

    start: int = 0
    end: int | None = None
    suffix: int | None = None

    def __post_init__(self) -> None:
        if self.suffix is not None:
            if self.start or self.end is not None:
                raise ValueError("BlobRange takes start/end or suffix, not both")
            if self.suffix < 1:
                raise ValueError(f"BlobRange suffix must be at least 1, got {self.suffix}")
        elif self.start < 0 or (self.end is not None and self.end < self.start):
            raise ValueError(f"BlobRange needs 0 <= start <= end, got {self.start}..{self.end}")


class BlobStore(Protocol):
    """Keyed bytes: put, read back whole or in ranges, list, delete.

    Every method checks its key with ``validate_key`` first (InvalidBlobKeyError), a missing
    blob raises BlobNotFoundError, and any other backend failure StorageError.
    """

    url: str
    """The store's URL without secrets, for logs and readiness messages."""

    async def put(
        self, key: str, data: bytes | AsyncIterable[bytes], *, content_type: str | None = None
    ) -> BlobInfo:
        """Store ``data`` under ``key``, replacing any blob there, atomically.

        An async iterable is streamed (multipart on S3) and never held in memory whole; an
        exception it raises reaches the caller unchanged and nothing is stored.
        """
        ...

    async def get(
        self, key: str, *, byte_range: BlobRange | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]:
        """The blob's info (size is the whole blob's) and its bytes, or the range's, in chunks."""
        ...

    async def read(self, key: str) -> bytes:
        """The whole blob in memory: for small blobs only."""
        ...

    async def head(self, key: str) -> BlobInfo:
        """The blob's info without its bytes."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        """Blobs whose keys start with ``prefix`` (as a string: "a/b" matches "a/bc"), unordered."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; BlobNotFoundError if there was none."""
        ...

    async def check(self) -> None:
        """Cheap reachability probe for /ready: StorageError saying what is down."""
        ...
