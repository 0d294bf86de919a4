"""Blob storage: the BlobStore port and one adapter, over obstore, for file://, memory:// and s3://.

Services depend on ``BlobStore`` and get one from ``open_blob_store(url)``; errors live in
``skyferry.storage.errors``. The adapter (and obstore with it) is imported by the first
``open_blob_store``, not with the port: a Lambda function's first health check needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyferry.storage.blobs.keys import validate_key
from skyferry.storage.blobs.port import BlobInfo, BlobRange, BlobStore

if TYPE_CHECKING:
    from skyferry.storage.blobs.objectstore import open_blob_store


def __getattr__(name: str) -> Any:
    if name == "open_blob_store":
        from skyferry.storage.blobs import objectstore

        return objectstore.open_blob_store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BlobInfo", "BlobRange", "BlobStore", "open_blob_store", "validate_key"]
