"""Blob storage: the BlobStore port and one adapter, over obstore, for file://, memory:// and s3://.

Services depend on ``BlobStore`` and get one from ``open_blob_store(url)``; errors live in
``skyferry.storage.errors``.
"""

from __future__ import annotations

from skyferry.storage.blobs.keys import validate_key
from skyferry.storage.blobs.objectstore import open_blob_store
from skyferry.storage.blobs.port import BlobInfo, BlobRange, BlobStore

__all__ = ["BlobInfo", "BlobRange", "BlobStore", "open_blob_store", "validate_key"]
