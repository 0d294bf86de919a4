"""Shared limits: at most N holders of a named limit at once, across every worker process.

An in-process semaphore caps one worker; a deployment runs several, on several machines, and the
limit that matters (an API's concurrency allowance) is for all of them together. The database
they already share holds the count: each limit is N slot rows, and a slot is a lease.

- Acquire is one conditional UPDATE of a free slot (expired, or never used) to this holder,
  atomic on SQLite (one writer) and on Postgres (the row lock re-checks the condition, so of two
  racing updates one wins and the other changes nothing and tries again).
- A holder renews its lease while it holds the slot; a SIGKILLed worker stops renewing and its
  slot frees itself when the lease runs out, so nothing needs to clean up after it.
- Waiting is polling with backoff from 5 ms to 200 ms and jitter; on SQLite each try reads
  first, so that waiting holders do not queue for the write lock.
- A database outage is more waiting, never a failure: a holder waiting for a slot polls on
  (about once a second) until the database is back, and a holder giving its slot back tries
  for up to a lease, after which the lease has run out and the slot is free anyway.

Why not a DBOS queue with ``global_concurrency``: each provider call would become a child
workflow, paying a queue round trip (about 60 ms idle, ``bench/results/jobs.json``) and a
workflow row per call, and the job core would have to expose child workflows. A lease costs
about 1 ms on SQLite and 2 ms on Postgres per call (``bench/books.py``), on the database every
worker already uses. Leases use each process's clock: keep clocks in sync to well within the
lease (NTP does).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.jobs.tables import limit_slots
from skyferry.storage.sql import (
    insert_all_missing,
    is_database_unreachable,
    retry_while_unreachable,
)

log = logging.getLogger(__name__)

_MIN_POLL_SECONDS = 0.005
_MAX_POLL_SECONDS = 0.2
_OUTAGE_POLL_SECONDS = 1.0

# (limit name, slots) whose rows exist in a database already: each engine inserts them once
_created: weakref.WeakKeyDictionary[Engine, set[tuple[str, int]]] = weakref.WeakKeyDictionary()


class SharedLimit:
    """``async with limit.hold(): ...`` runs the body while holding one of ``slots`` slots.

    ``lease_seconds`` bounds how long a dead holder's slot stays taken; a live holder renews it
    every third of that. Slots beyond ``slots`` (left from a larger setting) are never handed out.
    """

    def __init__(
        self, database: Engine, name: str, slots: int, *, lease_seconds: float = 30.0
    ) -> None:
        if slots < 1:
            raise ValueError(f"a shared limit needs at least 1 slot, got {slots}")
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
        self.database = database
        self.name = name
        self.slots = slots
        self.lease_seconds = lease_seconds

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[int]:
        """Wait for a slot, hold it (renewed) while the body runs, then give it back."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        slot = await self.acquire(holder)
        renewer = asyncio.create_task(self._renew(slot, holder))
        try:
            yield slot
        finally:
            renewer.cancel()
            # give the slot back even when the body was cancelled (a cancelled job's step)
            await asyncio.shield(self._give_back(slot, holder))

    async def acquire(self, holder: str) -> int:
        if (self.name, self.slots) not in _created.get(self.database, ()):
            await retry_while_unreachable(
                lambda: asyncio.to_thread(self._ensure_slots),
                what=f"shared limit {self.name}",
                give_up_after=None,  # as long as waiting for a slot may take: no limit
            )
        delay = _MIN_POLL_SECONDS
        outage = False
        while True:
            attempt = asyncio.ensure_future(asyncio.to_thread(self.try_acquire, holder))
            try:
                slot = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                # the UPDATE runs on in its thread and may take a slot: give that one back
                try:
                    taken = await attempt
                except sa.exc.SQLAlchemyError:
                    taken = None  # it failed, so it took nothing
                if taken is not None:
                    await self._give_back(taken, holder)
                raise
            except sa.exc.SQLAlchemyError as exc:
                if not is_database_unreachable(exc):
                    raise
                if not outage:
                    log.warning(
                        "database unreachable; waiting for a shared-limit slot until it is back",
                        extra={"limit": self.name},
                    )
                outage = True
                await asyncio.sleep(_OUTAGE_POLL_SECONDS * random.uniform(0.5, 1.5))
                continue
            if slot is not None:
                return slot
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, _MAX_POLL_SECONDS)

    def try_acquire(self, holder: str) -> int | None:
        """Take a free slot for ``holder`` and return its number, or None if all are held."""
        now = time.time()
        free = (
            sa.select(limit_slots.c.slot)
            .where(
                limit_slots.c.name == self.name,
                limit_slots.c.slot < self.slots,
                limit_slots.c.expires_at < now,
            )
            .order_by(sa.func.random())  # racing holders spread over the free slots
            .limit(1)
        )
        if self.database.dialect.name == "sqlite":
            # on SQLite an UPDATE takes the database's one write lock even when it changes
            # nothing, so look first; Postgres locks only the row it changes
            with self.database.connect() as connection:
                if connection.execute(free).first() is None:
                    return None
        take = (
            sa.update(limit_slots)
            .where(
                limit_slots.c.name == self.name,
                limit_slots.c.slot == free.scalar_subquery(),
                limit_slots.c.expires_at < now,
            )
            .values(holder=holder, expires_at=now + self.lease_seconds)
            .returning(limit_slots.c.slot)
        )
        with self._lease_transaction() as connection:
            taken = connection.execute(take).scalar_one_or_none()
        return None if taken is None else int(taken)

    def renew(self, slot: int, holder: str) -> bool:
        """Extend the lease; False if it ran out and someone else holds the slot now."""
        with self._lease_transaction() as connection:
            result = connection.execute(
                sa.update(limit_slots)
                .where(*self._owned(slot, holder))
                .values(expires_at=time.time() + self.lease_seconds)
            )
        return result.rowcount == 1

    async def _give_back(self, slot: int, holder: str) -> None:
        """Release, waiting out an outage for up to one lease, and never fail the holder for it.

        The work done under the slot is finished by now; failing it because the release met an
        outage would throw that work away (a chapter already written). Past one lease the slot
        is free anyway: its lease ran out, because nobody could renew it either.
        """
        try:
            await retry_while_unreachable(
                lambda: asyncio.to_thread(self.release, slot, holder),
                what=f"giving back a slot of {self.name}",
                give_up_after=self.lease_seconds,
            )
        except sa.exc.SQLAlchemyError as exc:
            if not is_database_unreachable(exc):
                raise
            log.warning(
                "could not give back a shared-limit slot; it frees itself when its lease ends",
                extra={"limit": self.name, "slot": slot},
            )

    def release(self, slot: int, holder: str) -> None:
        with self._lease_transaction() as connection:
            connection.execute(
                sa.update(limit_slots)
                .where(*self._owned(slot, holder))
                .values(holder=None, expires_at=0.0)
            )

    @contextmanager
    def _lease_transaction(self) -> Iterator[sa.Connection]:
        with self.database.begin() as connection:
            if connection.dialect.name == "postgresql":
                # a lease lives seconds: losing the last few to a database crash only frees or
                # re-holds slots briefly, so these commits need not wait for the disk
                connection.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
            yield connection

    def holders(self) -> int:
        """Slots held right now (for tests and benchmarks)."""
        query = sa.select(sa.func.count()).where(
            limit_slots.c.name == self.name,
            limit_slots.c.slot < self.slots,
            limit_slots.c.expires_at >= time.time(),
        )
        with self.database.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def _owned(self, slot: int, holder: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (
            limit_slots.c.name == self.name,
            limit_slots.c.slot == slot,
            limit_slots.c.holder == holder,
        )

    async def _renew(self, slot: int, holder: str) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                still_ours = await asyncio.to_thread(self.renew, slot, holder)
            except sa.exc.SQLAlchemyError:
                # a database blip: the lease has two more renewals before it runs out
                log.warning("renewing a shared-limit lease failed", exc_info=True)
                continue
            if not still_ours:
                log.warning(
                    "shared-limit lease ran out while held; the limit may be exceeded briefly",
                    extra={"limit": self.name, "slot": slot},
                )
                return

    def _ensure_slots(self) -> None:
        created = _created.setdefault(self.database, set())
        if (self.name, self.slots) in created:
            return
        rows = [
            {"name": self.name, "slot": slot, "holder": None, "expires_at": 0.0}
            for slot in range(self.slots)
        ]
        with self.database.begin() as connection:
            insert_all_missing(connection, limit_slots, rows)
        created.add((self.name, self.slots))
