"""The books service's exceptions: one root, mapped once to problem+json in ``api.py``.

Provider errors cross DBOS step boundaries, which pickle them: every constructor takes the message
first and anything else by keyword with a default, so ``cls(*args)`` rebuilds them.
"""

from __future__ import annotations


class BooksError(Exception):
    """Root of everything the books service raises on purpose."""


class BookNotFoundError(BooksError):
    def __init__(self, book_id: str) -> None:
        super().__init__(f"no book with id {book_id!r}")
        self.book_id = book_id


class BookNotReadyError(BooksError):
    """The book has no finished text (yet, or ever): nothing half-written is served."""

    def __init__(self, book_id: str, status: str = "running") -> None:
        super().__init__(f"book {book_id} is {status}; it has no finished text to download")
        self.book_id = book_id
        self.status = status


class BookDeletedError(BooksError):
    """An idempotent repeat named a book that has since been deleted."""

    def __init__(self, book_id: str) -> None:
        super().__init__(
            f"this Idempotency-Key made book {book_id}, which was deleted since; "
            "use a new key to generate it again"
        )
        self.book_id = book_id


class InvalidCursorError(BooksError, ValueError):
    def __init__(self, message: str = "cursor is not one this API returned") -> None:
        super().__init__(message)


class ProviderError(BooksError):
    """A text provider failed; the message says which and why, never with credentials."""

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
        self.status = status
        self.retry_after = retry_after


class ProviderResponseError(ProviderError):
    """The answer was not a chat completion: not JSON, no choices, no text."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)
