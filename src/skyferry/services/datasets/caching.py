"""Validators and caching headers for dataset downloads, so a CDN in front (CloudFront, as
the service skyferry replaces had) and clients can keep and revalidate them.

A download is a function of the dataset's stored file, the format and the query, so its ETag
is a digest of those: an ingest that replaces the file changes it. The tag is weak (RFC 9110
§8.8.1): the same rows come back, but the bytes of a CSV or Parquet encoding are not promised
identical across versions of skyferry or DuckDB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from skyferry.http.etags import parse_etags
from skyferry.services.datasets.models import Dataset


def download_etag(dataset: Dataset, extension: str, query: Sequence[tuple[str, str]]) -> str:
    """The same for every request of the same rows in the same format, whatever the order of
    the query's parameters."""
    digest = hashlib.sha256()
    for part in (
        dataset.blob_key,
        dataset.updated_at.isoformat(),
        str(dataset.size_bytes),
        extension,
        *(f"{key}={value}" for key, value in sorted(query)),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return f'W/"{digest.hexdigest()[:32]}"'


def cache_control(seconds: int, *, guarded: bool) -> str:
    """``public`` lets a shared cache keep a download; with API keys, only the client may,
    since a CDN that keeps it would hand it to callers without a key."""
    if seconds == 0:
        return "no-cache"
    return f"{'private' if guarded else 'public'}, max-age={seconds}"


def not_modified(if_none_match: str | None, etag: str) -> bool:
    tags = parse_etags(if_none_match)
    return tags is not None and tags.matches_weak(etag)
