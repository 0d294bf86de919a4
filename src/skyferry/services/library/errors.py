"""The library service's exceptions, each knowing its status (problem+json with ``detail``).

The original API answered ``{"detail": "..."}``; a problem document has the same ``detail``
member, so its clients read the message where they always did.
"""

from __future__ import annotations

from skyferry.errors import SkyferryError


class LibraryError(SkyferryError):
    """Root of everything the library service raises on purpose."""


class ExportError(LibraryError):
    """The upload is not a library export; the detail says what is wrong with it."""

    status = 400
    title = "Not a library export"


class ExportTooLargeError(LibraryError):
    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"File too large. Maximum size: {limit // (1024 * 1024)}MB", max_bytes=limit
        )


class UploadNotFoundError(LibraryError):
    status = 404
    title = "UUID not found"

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"no upload with uuid {upload_id!r}", uuid=upload_id)


class ProcessingFailedError(LibraryError):
    """``GET /data`` of an import that failed or was cancelled: there is no dashboard."""

    status = 409
    title = "Processing failed"


class ProviderError(LibraryError):
    """A book API failed in a way worth trying again later (429, 5xx, timeout, bad body).

    Never taken for "this book is unknown": a lookup that ends in this error is not cached,
    so the next upload asks again.
    """

    status = 502
    title = "Book API failed"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceUnavailableError(LibraryError):
    """A source cannot be asked for now (its daily quota is used up, its key was refused):
    skip it for the rest of the job rather than fail every book."""

    status = 503
    title = "Book API unavailable"
