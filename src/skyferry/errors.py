"""One root exception for everything skyferry and its services refuse or cannot do.

Each subclass knows its HTTP status and title; structured fields travel as ``extensions`` and
become members of the RFC 9457 problem document, so clients need not parse the message. One
handler (``skyferry.http.problems``) turns any of them into ``application/problem+json``; the
CLIs print their message. Messages are safe to show: no credentials, no server paths.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

_TITLES = {413: "Content Too Large"}
"""RFC 9110's names where Python's HTTPStatus still has RFC 7231's ("Request Entity Too Large"
until Python 3.13), so that a 413 has one title whichever layer refuses the body."""


def status_title(status: int) -> str:
    """The title a problem of this status gets when its raiser names none."""
    return _TITLES.get(status) or HTTPStatus(status).phrase


RETRY_AFTER_SECONDS = 5
"""What a 503 asks clients to wait: long enough not to hammer a backend coming back up, short
enough that most outages (a failover, a restart) cost one try. The problem handler adds it to
every 503 that names no other."""


class SkyferryError(Exception):
    """Root of every error skyferry raises on purpose: ``status``, ``title``, ``detail``,
    ``headers`` (e.g. ``Retry-After``) and ``extensions`` (extra problem members)."""

    status: ClassVar[int] = 500
    title: ClassVar[str | None] = None

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.extensions = extensions

    @property
    def problem_title(self) -> str:
        return self.title or status_title(self.problem_status)

    @property
    def problem_status(self) -> int:
        return self.status

    def __reduce__(self) -> tuple[Any, ...]:
        # DBOS pickles the exception of a failed step; the default reduce calls
        # type(self)(*self.args), which does not fit the subclasses' own signatures
        return (_rebuild, (type(self), self.args, self.__dict__))


class Problem(SkyferryError):
    """An error answered with any status, for a route's one-off refusals."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail, headers=headers, **extensions)
        self._status = status
        self._title = title

    @property
    def problem_status(self) -> int:
        return self._status

    @property
    def problem_title(self) -> str:
        return self._title or status_title(self._status)


class Unavailable(SkyferryError):
    """A backend (database, blob store, provider) cannot be reached: try again later."""

    status = 503
    title: ClassVar[str | None] = "Service Unavailable"


class DatabaseUnavailable(Unavailable):
    """The database is unreachable or too slow right now; the request itself was fine."""

    title = "Database unavailable"


def _rebuild(
    cls: type[SkyferryError], args: tuple[Any, ...], state: dict[str, Any]
) -> SkyferryError:
    """Unpickle without calling ``__init__``: the fields come back from ``state``."""
    error = cls.__new__(cls, *args)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error
