"""The HTTP Range header (RFC 9110 §14), for one byte range.

Several ranges, another unit or a malformed value are ignored, which RFC 9110 §14.2 allows:
the client then gets the whole file with 200, which every client handles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skyferry.storage.blobs import BlobRange

_SPEC = re.compile(r"\s*bytes\s*=\s*(?:(\d+)\s*-\s*(\d*)|-\s*(\d+))\s*", re.IGNORECASE)
# no store holds an exabyte: longer numbers are clamped here instead of being parsed (Python
# refuses to convert strings of over 4300 digits, and stores refuse offsets past 2**63)
_MAX_DIGITS = 18
_HUGE = 10**_MAX_DIGITS


def _number(digits: str) -> int:
    return _HUGE if len(digits) > _MAX_DIGITS else int(digits)


@dataclass(frozen=True)
class ByteRange:
    """``first-last`` (``last`` None: to the end) or, with ``suffix``, the last N bytes."""

    first: int = 0
    last: int | None = None
    suffix: int | None = None

    def span(self, size: int) -> tuple[int, int] | None:
        """The inclusive (first, last) bytes served from a file of ``size``; None: 416."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                return None
            return max(0, size - self.suffix), size - 1
        if self.first >= size:
            return None
        last = size - 1 if self.last is None else min(self.last, size - 1)
        return self.first, last

    def blob_range(self) -> BlobRange | None:
        """The same bytes as the blob store asks for them; None if no bytes can satisfy it."""
        if self.suffix is not None:
            return BlobRange(suffix=self.suffix) if self.suffix else None
        return BlobRange(self.first, self.last)


def parse_range(header: str | None) -> ByteRange | None:
    """The one range a Range header asks for, or None to serve the whole file."""
    if header is None:
        return None
    match = _SPEC.fullmatch(header)
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        return ByteRange(suffix=_number(suffix))
    start, end = _number(first), _number(last) if last else None
    if end is not None and end < start:
        return None  # "invalid" per §14.1.1, so ignored like any malformed range
    return ByteRange(start, end)
