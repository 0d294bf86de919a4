"""Per-client request limits: 429 with Retry-After once a client spends its minute's budget.

A client is its API key when it sent a valid one, else its IP address (as uvicorn reports it,
so behind a proxy run uvicorn with --proxy-headers). The moving window lives in this process's
memory (the ``limits`` library): with N processes a client may get N times the budget, until a
shared store (Redis) is configured.
"""

from __future__ import annotations

import math
import time

from fastapi import Request

from skyferry.errors import Problem
from skyferry.http.security import client_id


class RateLimit:
    """A FastAPI dependency; one instance per app, so each app counts on its own."""

    def __init__(self, per_minute: int, *, scope: str) -> None:
        # imported here: every process imports every service, most never build this router
        from limits import RateLimitItemPerMinute
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._scope = scope

    async def __call__(self, request: Request) -> None:
        client = client_id(request)
        if self._limiter.hit(self._item, self._scope, client):
            return
        reset_at, _ = self._limiter.get_window_stats(self._item, self._scope, client)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise Problem(
            429,
            f"more than {self._item.amount} requests in a minute; retry in {retry_after} s",
            title="Too many requests",
            headers={"Retry-After": str(retry_after)},
            retry_after_seconds=retry_after,
        )
