"""What both fake book APIs share: scripted behaviours, a sliding-window limit, the call log.

A fake's request goes: recorded on arrival (``Call``), checked against the fake's limits (an
over-limit request is answered at once and counted in ``over_limit``), then the next scripted
``Behaviour`` (or a normal ``Reply``) decides the answer, after the fake's ``latency``. Latency,
``Slow`` and ``Hang`` wait with ``asyncio.sleep``, so concurrent requests overlap as on a real
server, and ``close()`` ends a hang at once so the server can stop.

Everything a test reads (``calls``, ``lookups()``, ``over_limit``, ``max_in_flight``) is safe to
read from any thread while the server runs in its own.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Self

from fastapi import FastAPI
from fastapi.responses import Response

from tests.fakes.book_catalogue import clean_isbn, isbn13
from tests.servers import serve_in_thread


@dataclass(frozen=True)
class Reply:
    """The normal answer (after the fake's latency)."""


@dataclass(frozen=True)
class Fail:
    """An error status with the API's own error body, and any headers (e.g. ``Retry-After``).

    ``reason`` picks the ``errors[].reason`` where the API has one (Google: ``quotaExceeded``,
    ``rateLimitExceeded``, ``backendError``…); None means the usual one for the status.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class Slow:
    """The normal answer, but only after ``seconds`` (instead of the fake's latency)."""

    seconds: float


@dataclass(frozen=True)
class Hang:
    """Accept the request and answer nothing for ``seconds`` (past any client timeout), then 504."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Malformed:
    """A body that is not what the API sends: by default an HTML error page with status 200."""

    body: str = "<html><body><h1>Temporarily unavailable</h1></body></html>"
    content_type: str = "text/html"
    status: int = 200


Behaviour = Reply | Fail | Slow | Hang | Malformed

TRUNCATED_JSON = Malformed('{"ISBN:0441013597": {"title": "Du', "application/json")
"""JSON cut off mid-body, as a dropped connection behind a proxy leaves it."""


@dataclass
class Call:
    """One request as received; ``status`` is 0 until it is answered.

    ``isbns`` are the ISBNs it asked about, as ISBN-13 (an invalid one as sent, cleaned);
    ``title``/``author`` are set for title searches.
    """

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    isbns: tuple[str, ...] = ()
    title: str | None = None
    author: str | None = None
    status: int = 0


def normalised_isbns(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(isbn13(text) or clean_isbn(text) for text in texts)


class SlidingWindow:
    """At most ``limit`` admitted requests in any ``seconds``-long window, by arrival time.

    Refused requests do not take a place, as a real limiter counts only what it lets through.
    """

    def __init__(self, limit: int, seconds: float) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if seconds <= 0:
            raise ValueError(f"window seconds must be positive, not {seconds}")
        self.limit = limit
        self.seconds = seconds
        self._admitted: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self, now: float) -> float | None:
        """None if the request at ``now`` is admitted; else how long until a place frees."""
        with self._lock:
            while self._admitted and self._admitted[0] <= now - self.seconds:
                self._admitted.popleft()
            if len(self._admitted) >= self.limit:
                return self._admitted[0] + self.seconds - now
            self._admitted.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._admitted.clear()


def retry_after(wait: float) -> str:
    """Retry-After in whole seconds (RFC 9110 delay-seconds), never 0."""
    return str(max(1, math.ceil(wait)))


class FakeServer:
    """The controls of a fake API; each fake subclasses it and builds its own routes (``app``)."""

    app: FastAPI

    def __init__(self, *, latency: float) -> None:
        if latency < 0:
            raise ValueError(f"latency must not be negative, not {latency}")
        self.latency = latency
        self.url = ""  # the base URL, set once serving: http://127.0.0.1:PORT
        self.in_flight = 0
        self.max_in_flight = 0
        self._calls: list[Call] = []
        self._over_limit: Counter[str] = Counter()
        self._script: deque[Behaviour] = deque()
        self._closing = threading.Event()
        self._lock = threading.Lock()

    @contextmanager
    def serve(self) -> Iterator[Self]:
        """Serve on a free localhost port (uvicorn in a thread); ``url`` is set while it runs."""
        with serve_in_thread(self.app) as url:
            self.url = url
            try:
                yield self
            finally:
                self.close()

    # -- test controls ---------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """What the next admitted requests get, in order; after these, normal replies."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def calls(self) -> list[Call]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def over_limit(self) -> int:
        """Requests refused by the fake's limits (not scripted failures)."""
        with self._lock:
            return sum(self._over_limit.values())

    @property
    def over_limit_reasons(self) -> Counter[str]:
        with self._lock:
            return Counter(self._over_limit)

    def lookups(self, *, answered: bool = False) -> Counter[str]:
        """Requests per ISBN-13 (all of them, or with ``answered`` only those answered 200)."""
        counts: Counter[str] = Counter()
        for call in self.calls:
            if not answered or call.status == 200:
                counts.update(set(call.isbns))
        return counts

    def lookups_of(self, isbn: str, *, answered: bool = False) -> int:
        """Requests that asked about this ISBN, given as ISBN-10 or ISBN-13."""
        return self.lookups(answered=answered)[normalised_isbns([isbn])[0]]

    def title_lookups(self) -> Counter[tuple[str, str]]:
        """Title searches per (title, author), case-folded."""
        return Counter(
            (call.title.casefold(), (call.author or "").casefold())
            for call in self.calls
            if call.title is not None
        )

    def reset(self) -> None:
        """Forget calls, scripts and counters (subclasses also empty their limit windows)."""
        with self._lock:
            self._calls.clear()
            self._over_limit.clear()
            self._script.clear()
            self.max_in_flight = self.in_flight

    def close(self) -> None:
        """End hanging requests, so the server can stop."""
        self._closing.set()

    # -- for the routes --------------------------------------------------------------------------

    def _refused(self, reason: str) -> None:
        with self._lock:
            self._over_limit[reason] += 1

    async def _handle(
        self,
        call: Call,
        refusal: Response | None,
        answer: Callable[[], Response],
        failure: Callable[[Fail], Response],
        extra_latency: float = 0.0,
    ) -> Response:
        """Record ``call``; answer with ``refusal`` if a limit refused it, else as scripted."""
        with self._lock:
            self._calls.append(call)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            behaviour: Behaviour = Reply()
            if refusal is None and self._script:
                behaviour = self._script.popleft()
        try:
            if refusal is not None:
                response = refusal
            else:
                response = await self._perform(behaviour, answer, failure, extra_latency)
            call.status = response.status_code
            return response
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _perform(
        self,
        behaviour: Behaviour,
        answer: Callable[[], Response],
        failure: Callable[[Fail], Response],
        extra_latency: float,
    ) -> Response:
        if isinstance(behaviour, Hang):
            await self._pause(behaviour.seconds)
            return failure(Fail(504))
        if isinstance(behaviour, Slow):
            await self._pause(behaviour.seconds)
        elif self.latency or extra_latency:
            await asyncio.sleep(self.latency + extra_latency)
        if isinstance(behaviour, Fail):
            return failure(behaviour)
        if isinstance(behaviour, Malformed):
            return Response(behaviour.body, behaviour.status, media_type=behaviour.content_type)
        return answer()

    async def _pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``, but stop as soon as the fake is closing."""
        deadline = time.monotonic() + seconds
        # a threading.Event, polled: close() is called from the test's thread, not this loop
        while not self._closing.is_set() and (left := deadline - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, 0.05))
