"""Shared limits: at most N holders of a named limit at once, across every worker process.

An in-process semaphore caps one worker; a deployment runs several, on several machines, and the
limit that matters (an API's concurrency allowance) is for all of them together. The database
they already share holds the count: each limit is N slot rows, and a slot is a lease.

- Acquire is one conditional UPDATE of a free slot (expired, or never used) to this process,
  atomic on SQLite (one writer) and on Postgres (the row lock re-checks the condition, so of two
  racing updates one wins and the other changes nothing and tries again).
- A slot this process is done with stays with it for its next holder: handed straight to a
  holder of this process that is waiting, or kept for ``keep_seconds`` for the next one to
  come, and only then given back. A job that holds a slot for each of its steps (a book's
  chapters) so pays the database once every few seconds per slot instead of twice per step:
  taking and giving back cost about 3 ms of a worker's CPU each time, more than the rest of a
  step's bookkeeping. So that other processes get their turn, a slot goes back to the database
  whenever it has stayed in this process for ``_SHARE_AFTER_SECONDS``, and this process's
  waiting holders leave it to the others for as long as their tries may be apart.
- The process renews the leases of all the slots it has in one statement every third of a
  lease; a SIGKILLed worker stops renewing and its slots free themselves when the lease runs
  out, so nothing needs to clean up after it. ``close`` gives back the slots it kept.
- Waiting is polling with backoff from 5 ms to 200 ms and jitter, cut short when a holder of
  this process hands its slot on; on SQLite each try reads first, so that waiting holders do
  not queue for the write lock.
- A database outage is more waiting, never a failure: a holder waiting for a slot polls on
  (about once a second) until the database is back, and a slot given back is tried for up to
  a lease, after which the lease has run out and the slot is free anyway.

Why not a DBOS queue with ``global_concurrency``: each provider call would become a child
workflow, paying a queue round trip (about 60 ms idle, ``bench/results/jobs.json``) and a
workflow row per call, and the job core would have to expose child workflows. A slot taken
from the database costs about 2 ms on SQLite and 5 ms on Postgres (``bench/books.py``), on the
database every worker already uses. Leases use each process's clock: keep clocks in sync to
well within the lease (NTP does).
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
from collections import deque
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
_SHARE_AFTER_SECONDS = 5.0
"""A slot that has stayed this long in one process goes back to the database when next freed."""
_YIELD_SECONDS = _MAX_POLL_SECONDS * 1.5
"""How long this process's waiting holders leave a slot it gave back to the others: as long
as another process's waiter may sleep between two tries."""

# (limit name, slots) whose rows exist in a database already: each engine inserts them once
_created: weakref.WeakKeyDictionary[Engine, set[tuple[str, int]]] = weakref.WeakKeyDictionary()


class SharedLimit:
    """``async with limit.hold(): ...`` runs the body while holding one of ``slots`` slots.

    ``lease_seconds`` bounds how long a dead process's slots stay taken; a live one renews them
    every third of that. ``keep_seconds`` is how long a freed slot waits in this process for
    its next holder before it goes back (0: at once). Slots beyond ``slots`` (left from a
    larger setting) are never handed out. Use one instance per process and limit, from one
    event loop.
    """

    def __init__(
        self,
        database: Engine,
        name: str,
        slots: int,
        *,
        lease_seconds: float = 30.0,
        keep_seconds: float = 0.25,
    ) -> None:
        if slots < 1:
            raise ValueError(f"a shared limit needs at least 1 slot, got {slots}")
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
        if keep_seconds < 0:
            raise ValueError(f"keep_seconds must be at least 0, got {keep_seconds}")
        self.database = database
        self.name = name
        self.slots = slots
        self.lease_seconds = lease_seconds
        self.keep_seconds = keep_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._taken_at: dict[int, float] = {}  # every slot this process has: since when
        self._kept: dict[int, asyncio.TimerHandle] = {}  # freed ones waiting for a holder
        self._waiting: deque[asyncio.Future[int]] = deque()
        self._renewer: asyncio.Task[None] | None = None
        self._giving_back: set[asyncio.Task[None]] = set()
        self._lost: set[int] = set()  # in use here, but another process may hold it now
        self._yield_until = 0.0

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[int]:
        """Wait for a slot, hold it while the body runs, then hand it on or give it back."""
        slot = self._take_kept()
        if slot is None:
            slot = await self.acquire()
        try:
            yield slot
        finally:
            # even when the body was cancelled (a cancelled job's step)
            await asyncio.shield(self._free(slot))

    async def acquire(self) -> int:
        """A slot for this process: one a holder here hands on, or one taken from the database."""
        if (self.name, self.slots) not in _created.get(self.database, ()):
            await retry_while_unreachable(
                lambda: asyncio.to_thread(self._ensure_slots),
                what=f"shared limit {self.name}",
                give_up_after=None,  # as long as waiting for a slot may take: no limit
            )
        delay = _MIN_POLL_SECONDS
        outage = False
        while True:
            kept = self._take_kept()  # freed here while this holder was trying the database
            if kept is not None:
                return kept
            yielding = self._yield_until - time.monotonic()
            if yielding > 0:  # a slot just went back for the other processes: not ours to take
                handed = await self._wait_for_hand_on(yielding)
                if handed is not None:
                    return handed
                continue
            try:
                slot = await self._try_database()
            except sa.exc.SQLAlchemyError as exc:
                if not is_database_unreachable(exc):
                    raise
                if not outage:
                    log.warning(
                        "database unreachable; waiting for a shared-limit slot until it is back",
                        extra={"limit": self.name},
                    )
                outage = True
                wait = _OUTAGE_POLL_SECONDS * random.uniform(0.5, 1.5)
            else:
                if slot is not None:
                    return self._have(slot)
                wait = delay * random.uniform(0.5, 1.5)
                delay = min(delay * 2, _MAX_POLL_SECONDS)
            handed = await self._wait_for_hand_on(wait)
            if handed is not None:
                return handed

    async def close(self) -> None:
        """Give back the slots this process kept, and stop renewing (at the process's end).

        The release is one blocking statement on the loop, tried once: by now the job engine
        may have shut down the executor ``asyncio.to_thread`` uses, and a slot that cannot be
        given back frees itself when its lease ends.
        """
        if self._giving_back:
            await asyncio.gather(*self._giving_back, return_exceptions=True)
        kept = list(self._kept)
        for slot in kept:
            self._kept.pop(slot).cancel()
            self._taken_at.pop(slot, None)
        if kept:
            try:
                self.release(kept, self.holder)
            except sa.exc.SQLAlchemyError:
                log.warning(
                    "could not give back shared-limit slots; they free themselves when their "
                    "leases end",
                    extra={"limit": self.name, "slots": kept},
                )
        if self._renewer is not None and not self._taken_at:
            self._renewer.cancel()
            self._renewer = None

    async def _try_database(self) -> int | None:
        attempt = asyncio.ensure_future(asyncio.to_thread(self.try_acquire, self.holder))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # the UPDATE runs on in its thread and may take a slot: give that one back
            try:
                taken = await attempt
            except sa.exc.SQLAlchemyError:
                taken = None  # it failed, so it took nothing
            if taken is not None:
                await self._give_back(taken)
            raise

    async def _wait_for_hand_on(self, seconds: float) -> int | None:
        """Sleep ``seconds``, or less if a holder of this process hands its slot on to us."""
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        except asyncio.CancelledError:
            if waiter.done():
                await asyncio.shield(self._free(waiter.result()))  # handed on as we were cancelled
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
                self._waiting.remove(waiter)
        return waiter.result() if not waiter.cancelled() else None

    def _take_kept(self) -> int | None:
        if not self._kept:
            return None
        slot, expiry = self._kept.popitem()
        expiry.cancel()
        return slot

    def _have(self, slot: int) -> int:
        self._taken_at[slot] = time.monotonic()
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_all())
        return slot

    async def _free(self, slot: int) -> None:
        """Hand the slot to a waiting holder, keep it for the next, or give it back."""
        if slot in self._lost:
            self._lost.discard(slot)  # its lease ran out while held: not ours to pass on
            return
        now = time.monotonic()
        if now - self._taken_at.get(slot, 0.0) >= _SHARE_AFTER_SECONDS:
            # other processes' turn: this one's waiting holders must not take it straight back
            if any(not waiter.done() for waiter in self._waiting):
                self._yield_until = now + _YIELD_SECONDS
            await self._give_back(slot)
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        if self.keep_seconds == 0:
            await self._give_back(slot)
            return
        loop = asyncio.get_running_loop()
        self._kept[slot] = loop.call_later(self.keep_seconds, self._kept_too_long, slot)

    def _kept_too_long(self, slot: int) -> None:
        if self._kept.pop(slot, None) is not None:
            task = asyncio.ensure_future(self._give_back(slot))
            self._giving_back.add(task)
            task.add_done_callback(self._giving_back.discard)

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

    def renew(self, slots: list[int], holder: str) -> set[int]:
        """Extend the leases; return the slots still held (the others' leases ran out)."""
        with self._lease_transaction() as connection:
            rows = connection.execute(
                sa.update(limit_slots)
                .where(
                    limit_slots.c.name == self.name,
                    limit_slots.c.slot.in_(slots),
                    limit_slots.c.holder == holder,
                )
                .values(expires_at=time.time() + self.lease_seconds)
                .returning(limit_slots.c.slot)
            )
            return {int(slot) for slot in rows.scalars()}

    async def _give_back(self, slot: int) -> None:
        """Release, waiting out an outage for up to one lease, and never fail the holder for it.

        The work done under the slot is finished by now; failing it because the release met an
        outage would throw that work away (a chapter already written). Past one lease the slot
        is free anyway: its lease ran out, because nobody could renew it either.
        """
        self._taken_at.pop(slot, None)
        try:
            await retry_while_unreachable(
                lambda: asyncio.to_thread(self.release, [slot], self.holder),
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

    def release(self, slots: list[int], holder: str) -> None:
        with self._lease_transaction() as connection:
            connection.execute(
                sa.update(limit_slots)
                .where(
                    limit_slots.c.name == self.name,
                    limit_slots.c.slot.in_(slots),
                    limit_slots.c.holder == holder,
                )
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
        """Slots held right now, by any process (for tests and benchmarks)."""
        query = sa.select(sa.func.count()).where(
            limit_slots.c.name == self.name,
            limit_slots.c.slot < self.slots,
            limit_slots.c.expires_at >= time.time(),
        )
        with self.database.connect() as connection:
            return int(connection.execute(query).scalar_one())

    async def _renew_all(self) -> None:
        """Renew every slot this process has, in one statement, while it has any."""
        while self._taken_at:
            await asyncio.sleep(self.lease_seconds / 3)
            slots = list(self._taken_at)
            if not slots:
                return
            try:
                still_ours = await asyncio.to_thread(self.renew, slots, self.holder)
            except sa.exc.SQLAlchemyError:
                # a database blip: the leases have two more renewals before they run out
                log.warning("renewing shared-limit leases failed", exc_info=True)
                continue
            for slot in set(slots) - still_ours:
                if self._taken_at.pop(slot, None) is None:
                    continue  # given back while the renewal ran
                expiry = self._kept.pop(slot, None)
                if expiry is not None:
                    expiry.cancel()  # kept for a next holder: simply not ours any more
                    continue
                self._lost.add(slot)  # in use: its holder must not pass it on
                log.warning(
                    "shared-limit lease ran out while held; the limit may be exceeded briefly",
                    extra={"limit": self.name, "slot": slot},
                )

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


_UNREACHABLE = object()
"""What a try at the database returns during an outage (None means: no slot free)."""
