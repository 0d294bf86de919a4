"""The books service's exceptions: subclasses of skyferry's root, each knowing its status.

Provider errors cross DBOS step boundaries, which pickle them (the root's ``__reduce__`` keeps
their fields); a job that failed shows their type and message.
"""

from __future__ import annotations

from typing import ClassVar

from skyferry.errors import SkyferryError


class BooksError(SkyferryError):
    """Root of everything the books service raises on purpose."""


class BookNotFoundError(BooksError):
    status = 404
    title = "Book not found"

    def __init__(self, book_id: str) -> None:
        super().__init__(f"no book with id {book_id!r}", book_id=book_id)
        self.book_id = book_id


class BookNotReadyError(BooksError):
    """The book has no finished text (yet, or ever): nothing half-written is served."""

    status = 409
    title = "Book not ready"

    def __init__(self, book_id: str, book_status: str = "running") -> None:
        super().__init__(
            f"book {book_id} is {book_status}; it has no finished text to download",
            book_status=book_status,
        )
        self.book_id = book_id
        self.book_status = book_status


class ProviderError(BooksError):
    """A text provider failed; the message says which and why, never with credentials."""

    status: ClassVar[int] = 502
    title: ClassVar[str | None] = "Provider failed"

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ProviderTimeoutError(ProviderError):
    """No (complete) answer within ``request_timeout_seconds``."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)


class ProviderHTTPError(ProviderError):
    """The provider answered with an error status; 408, 409, 429 and 5xx are worth retrying."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.http_status = status
        self.retry_after = retry_after


class ProviderResponseError(ProviderError):
    """The answer was not a chat completion: not JSON, no choices, no text."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)
