"""Serving a stored blob over HTTP: streamed, resumable (Range, If-Range), cacheable
(ETag / If-None-Match, Last-Modified / If-Modified-Since) and answerable to HEAD, as RFC 9110
describes. Every service's downloads go through ``download``.

Without conditions or a range a download is one ``get`` from the store. A conditional request
looks at the blob's metadata first (a HEAD on S3), so a 304 costs no body transfer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Protocol
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from skyferry.errors import SkyferryError
from skyferry.http.etags import parse_etags
from skyferry.http.ranges import parse_range
from skyferry.storage.blobs import BlobInfo, BlobRange


class RangeNotSatisfiableError(SkyferryError):
    status = 416
    title = "Range not satisfiable"

    def __init__(self, size: int) -> None:
        # RFC 9110 §15.5.17: a 416 names the current length so the client can ask again
        super().__init__(
            f"the requested range lies outside the {size} bytes there are",
            headers={"Content-Range": f"bytes */{size}"},
            size=size,
        )


class Readable(Protocol):
    """Where a download reads from: a blob store, or a service's view of one."""

    async def head(self, key: str, /) -> BlobInfo: ...

    async def get(
        self, key: str, /, *, byte_range: BlobRange | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]: ...


async def download(
    source: Readable,
    key: str,
    headers: Mapping[str, str],
    *,
    filename: str,
    content_type: Callable[[BlobInfo], str],
    head_only: bool = False,
) -> Response:
    """Answer a GET or HEAD of blob ``key``, offered to save as ``filename``."""
    entity = _Entity(filename, content_type)
    wanted = parse_range(headers.get("range"))
    conditional = "if-none-match" in headers or "if-modified-since" in headers
    if conditional or head_only:
        info = await source.head(key)
        if _not_modified(info, headers):
            return Response(status_code=304, headers=_validators(info))
        if head_only:
            return Response(headers=entity.headers(info, info.size))
    if wanted is None:
        info, chunks = await source.get(key)
        return entity.stream(info, chunks)

    blob_range = wanted.blob_range()
    if blob_range is None:  # "bytes=-0": no blob has a last zero bytes to send
        raise RangeNotSatisfiableError((await source.head(key)).size)
    try:
        info, chunks = await source.get(key, byte_range=blob_range)
    except SkyferryError as exc:
        if exc.problem_status != 503:
            raise
        # stores refuse a range that starts past the end; tell that apart from a real failure
        size = (await source.head(key)).size
        if wanted.span(size) is None:
            raise RangeNotSatisfiableError(size) from None
        raise
    if_range = headers.get("if-range")
    if if_range is not None and not _if_range_holds(if_range, info):
        # the client's partial copy is of another version: it needs the whole new one
        info, chunks = await source.get(key)
        return entity.stream(info, chunks)
    span = wanted.span(info.size)
    if span is None:  # a suffix of an empty blob
        raise RangeNotSatisfiableError(info.size)
    return entity.stream(info, chunks, span=span)


class _Entity:
    def __init__(self, filename: str, content_type: Callable[[BlobInfo], str]) -> None:
        self.filename = filename
        self.content_type = content_type

    def stream(
        self,
        info: BlobInfo,
        chunks: AsyncIterator[bytes],
        *,
        span: tuple[int, int] | None = None,
    ) -> StreamingResponse:
        if span is None:
            return StreamingResponse(chunks, headers=self.headers(info, info.size))
        first, last = span
        headers = self.headers(info, last - first + 1)
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
        return StreamingResponse(chunks, status_code=206, headers=headers)

    def headers(self, info: BlobInfo, length: int) -> dict[str, str]:
        return {
            **_validators(info),
            # set here, not as media_type, so Starlette adds no charset the blob may not be in
            "Content-Type": self.content_type(info),
            "Content-Length": str(length),
            "Accept-Ranges": "bytes",
            "Content-Disposition": _attachment(self.filename.rpartition("/")[2]),
        }


def _validators(info: BlobInfo) -> dict[str, str]:
    headers: dict[str, str] = {}
    if info.etag:
        headers["ETag"] = info.etag
    if info.last_modified is not None:
        headers["Last-Modified"] = format_datetime(info.last_modified, usegmt=True)
    return headers


def _attachment(name: str) -> str:
    """RFC 6266: a plain quoted name when it is safe ASCII, RFC 8187 encoding otherwise."""
    encoded = quote(name, safe="")
    if encoded == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename*=UTF-8''{encoded}"


def _not_modified(info: BlobInfo, headers: Mapping[str, str]) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only otherwise."""
    if_none_match = parse_etags(headers.get("if-none-match"))
    if if_none_match is not None:
        return if_none_match.matches_weak(info.etag)
    since = _http_date(headers.get("if-modified-since"))
    if since is None or info.last_modified is None:
        return False
    return info.last_modified.replace(microsecond=0) <= since


def _if_range_holds(value: str, info: BlobInfo) -> bool:
    """If-Range names the version the client has, by strong ETag or by exact date."""
    stripped = value.strip()
    if stripped.startswith(('"', "W/")):
        tags = parse_etags(stripped)
        return tags is not None and tags.matches_strong(info.etag)
    since = _http_date(stripped)
    return (
        since is not None
        and info.last_modified is not None
        and info.last_modified.replace(microsecond=0) == since
    )


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else None
