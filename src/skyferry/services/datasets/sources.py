"""Where DuckDB reads a dataset's Parquet from, without any DuckDB extension.

A file:// store hands DuckDB the file's path, checked to lie under the store's root, and DuckDB
reads it natively. Any other store (s3://, memory://) is read through the blob port: a seekable
file whose reads are ranged gets, under a pyarrow dataset that DuckDB scans with its filters and
projection pushed down, so only the footer and the row groups and columns a query needs move.
DuckDB's own S3 support would need the httpfs extension, downloaded at run time.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from skyferry.services.datasets.errors import DatasetUnavailableError
from skyferry.storage.blobs import BlobRange, BlobStore, validate_key
from skyferry.storage.errors import BlobNotFoundError, StorageError

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

_REGISTERED_NAME = "dataset_source"
_READ_TIMEOUT_SECONDS = 300.0
"""Longest one ranged read may take before the scan fails rather than hang."""


def local_root(blobs: BlobStore) -> Path | None:
    """The directory of a file:// store (its URL is the resolved root), else None."""
    parts = urlsplit(blobs.url)
    if parts.scheme != "file":
        return None
    return Path(url2pathname(parts.path)).resolve()


@dataclass
class Source:
    """A FROM item and its parameters; ``attach`` makes it readable on one DuckDB cursor."""

    from_item: str
    params: list[object] = field(default_factory=list)
    blob: BlobFile | None = None

    def attach(self, cursor: DuckDBPyConnection) -> None:
        """Register the blob as a pyarrow dataset; reads the footer, so never on the loop."""
        if self.blob is not None:
            cursor.register(_REGISTERED_NAME, _arrow_dataset(self.blob))


async def open_source(blobs: BlobStore, key: str) -> Source:
    """A Source over the Parquet blob ``key``; DatasetUnavailableError when it is missing."""
    root = local_root(blobs)
    if root is not None:
        return Source("read_parquet(?)", [str(_local_path(root, key))])
    try:
        info = await blobs.head(key)
    except StorageError as exc:
        raise _unavailable(key, exc) from exc
    return Source(
        _REGISTERED_NAME, blob=BlobFile(blobs, key, info.size, asyncio.get_running_loop())
    )


def _local_path(root: Path, key: str) -> Path:
    validate_key(key)
    path = (root / key).resolve()
    # validate_key already forbids '..'; resolving also defeats a symlink pointing out of root
    if not path.is_relative_to(root):
        raise DatasetUnavailableError(f"the dataset's file {key!r} lies outside the blob store")
    if not path.is_file():
        raise _unavailable(key, BlobNotFoundError(key))
    return path


def _unavailable(key: str, exc: StorageError) -> DatasetUnavailableError:
    if isinstance(exc, BlobNotFoundError):
        return DatasetUnavailableError(
            f"the dataset's Parquet file {key!r} is missing from the blob store; ingest it again"
        )
    return DatasetUnavailableError(f"the blob store cannot be read: {exc}")


def _arrow_dataset(file: BlobFile) -> object:
    import pyarrow as pa
    import pyarrow.dataset as ds

    parquet = ds.ParquetFileFormat()
    fragment = parquet.make_fragment(pa.PythonFile(file, mode="r"))
    return ds.FileSystemDataset([fragment], schema=fragment.physical_schema, format=parquet)


class BlobFile(io.RawIOBase):
    """A read-only, seekable file over one blob, for pyarrow's threads.

    Each read is a ranged get run on the event loop the blob store lives on (the server's), so
    this must be read from other threads, never from that loop's own thread.
    """

    def __init__(
        self, blobs: BlobStore, key: str, size: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__()
        self._blobs = blobs
        self._key = key
        self._size = size
        self._loop = loop
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        start = self._position
        end = self._size if size < 0 else min(self._size, start + size)
        if end <= start:
            return b""
        future = asyncio.run_coroutine_threadsafe(self._get(start, end - 1), self._loop)
        data = future.result(timeout=_READ_TIMEOUT_SECONDS)
        self._position = start + len(data)
        return data

    async def _get(self, first: int, last: int) -> bytes:
        _, chunks = await self._blobs.get(self._key, byte_range=BlobRange(first, last))
        return b"".join([chunk async for chunk in chunks])
