"""Shared rates: at most N calls in any window of T seconds, across every worker process.

An API's published limit ("100 requests per 100 seconds", "1 request per second") is for all
of a deployment's callers together, so the count lives in the database they already share. It
reuses the slot rows of ``skyferry_limit_slots`` (under the name ``rate:<name>``): N slots, each
remembering when it may next be used. A call takes the slot that frees first, moving its time one
window on in one conditional UPDATE, and sleeps until its turn. Each slot is used at most once
per window, so no window of T seconds ever holds more than N calls — the sliding-window rule the
providers enforce — and a burst of N goes out at once where the limit allows it.

The window is stretched by ``margin`` (a fraction of T, but at least ``MIN_SLACK_SECONDS``): the
provider counts a call when it arrives, not when it was scheduled, and a busy event loop at
either end moves that by tens of milliseconds — enough to put four calls into one second of a
3-per-second limit; on a machine whose processes wait for a core, raise ``margin``. A caller
that wakes more than half the stretch after its turn gives the turn up and takes the next one
rather than send late.

Why not aiolimiter or a token bucket in process memory: two workers would each allow the whole
rate. Why not a token bucket in the database: it admits a burst of N on top of a full window's
refill, which a sliding-window provider counts as over its limit.
"""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.jobs.tables import limit_slots
from skyferry.storage.sql import insert_all_missing, retry_while_unreachable

_CONFLICT_PAUSE_SECONDS = 0.002
MIN_SLACK_SECONDS = 0.05


class SharedRate:
    """``await rate.wait()`` returns when one more call keeps to ``calls`` per ``period_seconds``.

    Shared by every process on the same database (and by every ``SharedRate`` of the same name in
    one process). ``margin`` widens each window by that fraction (and by ``MIN_SLACK_SECONDS`` at
    least) to absorb the time between a call's turn and its arrival at the provider.
    """

    def __init__(
        self,
        database: Engine,
        name: str,
        calls: int,
        period_seconds: float,
        *,
        margin: float = 0.05,
    ) -> None:
        if calls < 1 or period_seconds <= 0:
            raise ValueError("a shared rate needs calls >= 1 and period_seconds > 0")
        if not 0 <= margin < 1:
            raise ValueError(f"margin is a fraction of the period, got {margin}")
        self.database = database
        self.name = name
        self.calls = calls
        self.period_seconds = period_seconds
        slack = max(period_seconds * margin, MIN_SLACK_SECONDS)
        self.window = period_seconds + slack
        self.lateness = slack / 2
        self._key = f"rate:{name}"
        self._ready = False
        # one reservation at a time per process: the race is then between processes only
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Sleep until this caller's turn; a database outage is more waiting, not a failure."""
        while True:
            async with self._lock:
                turn = await retry_while_unreachable(
                    lambda: asyncio.to_thread(self._reserve),
                    what=f"shared rate {self.name}",
                    give_up_after=None,
                )
            await asyncio.sleep(max(0.0, turn - time.time()))
            if time.time() - turn <= self.lateness:
                return

    def _reserve(self) -> float:
        """Take the slot that frees first: the time this caller may call."""
        if not self._ready:
            rows = [
                {"name": self._key, "slot": slot, "holder": None, "expires_at": 0.0}
                for slot in range(self.calls)
            ]
            with self.database.begin() as connection:
                insert_all_missing(connection, limit_slots, rows)
            self._ready = True
        first_free = (
            sa.select(limit_slots.c.slot, limit_slots.c.expires_at)
            .where(limit_slots.c.name == self._key, limit_slots.c.slot < self.calls)
            .order_by(limit_slots.c.expires_at, limit_slots.c.slot)
            .limit(1)
        )
        while True:
            with self.database.begin() as connection:
                slot, frees_at = connection.execute(first_free).one()
                turn = max(time.time(), float(frees_at))
                taken = connection.execute(
                    sa.update(limit_slots)
                    .where(
                        limit_slots.c.name == self._key,
                        limit_slots.c.slot == slot,
                        limit_slots.c.expires_at == frees_at,
                    )
                    .values(expires_at=turn + self.window)
                ).rowcount
            if taken == 1:
                return turn
            time.sleep(_CONFLICT_PAUSE_SECONDS)  # another process took it first: look again
