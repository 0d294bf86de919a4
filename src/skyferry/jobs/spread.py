"""Fan-outs spread over the worker processes: one job's items run on every worker, not one.

``ctx.fan_out(..., across_workers=True)`` with an item function declared by name
(``@skyferry.fan_out_item("mine.fetch")``, so every worker can look it up) splits the items into
chunks, rows of ``skyferry_fanout_chunks``. Every worker on Postgres runs a ``ChunkClaimer``:
it claims chunks (``FOR UPDATE SKIP LOCKED``), runs each through ``run_fan_out`` (so each item
is checkpointed in ``skyferry_fanout_items`` exactly as in a fan-out run in one process), renews
its leases while they run, and marks each done. A chunk whose worker died is claimed again once
its lease (``executor_timeout_seconds``) has expired; its finished items are skipped, as on
resume. The chunks a worker runs share its one checkpoint writer: an item counts as finished
once its outcome is committed, and each commit takes every outcome of the worker's chunks that
finished while the last one ran. At a kill, the items in flight (running, or finished and not
yet committed) run again; every item committed before it never does.

Concurrency is shared out by workers: each runs at most ``concurrency`` over the live workers
(``skyferry_workers``) of a fan-out's items at once, through one semaphore for all the chunks
it holds, and holds one chunk more than that share fills, claimed ahead: when a chunk ends,
the next one's items are already running. One claim (one transaction) takes every chunk a
worker lacks, so a worker's share fills at once when a fan-out starts. Chunks that each ran a
fixed part of the concurrency idled their slots between one chunk's end and the next one's
claim, and one worker woken first took every chunk there was (measured: 0.45-0.54 of the ideal,
then 0.71-0.82 with shares, 0.82-0.87 now: docs/benchmarks.md). A worker that joins while a
fan-out runs takes a smaller share than those already in it had, so for that while the total
may be above ``concurrency``; one that dies leaves it below.

A rate limit becomes a ``SharedRate`` (a sliding window in the database), which holds
across the processes where an in-process limiter would allow the rate once per process.

The job's own step inserts the chunks, wakes the workers (the NOTIFY of jobs/notify.py) and
waits until every chunk is done, then reads the outcomes from the checkpoints in item order.
The worker whose chunk ended the fan-out announces it (``FAN_OUT_ENDED``, a NOTIFY), so the
step looks at once; it also looks every ``POLL_SECONDS``, for progress and for an announcement
that was lost. On SQLite there is one process, so the fan-out runs in it as any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from skyferry.jobs.fanout import (
    CheckpointWriter,
    FanOutResult,
    RateLimit,
    load_finished,
    run_fan_out,
)
from skyferry.jobs.rates import SharedRate
from skyferry.jobs.retry import Retry
from skyferry.jobs.tables import fanout_chunks, fanout_items, limit_slots, workers
from skyferry.storage.sql import insert_all_missing, retry_while_unreachable

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
"""How often the job's step looks at its chunks for progress (three indexed counts a time); the
chunk end that ends a fan-out wakes it at once, so this is only the fallback for its end."""
IDLE_SECONDS = 5.0
"""How often an idle claimer looks for chunks when no NOTIFY woke it."""
_STOP_SECONDS = 5.0
"""How long a stopping claimer waits for its cancelled chunks to end."""

ItemFn = Callable[[Any], Awaitable[Any]]


class ItemFunction:
    """A fan-out's per-item function declared by name, so any worker process can run it."""

    def __init__(self, name: str, fn: ItemFn) -> None:
        self.name = name
        self.fn = fn
        self.__doc__ = fn.__doc__

    async def __call__(self, item: Any) -> Any:
        return await self.fn(item)

    def __repr__(self) -> str:
        return f"ItemFunction({self.name!r})"


_functions: dict[str, ItemFunction] = {}


def fan_out_item(name: str) -> Callable[[ItemFn], ItemFunction]:
    """Declare ``fn(item)`` as fan-out item function ``name``, for ``across_workers=True``.

    Declared at import time, like a job kind, in a module every worker imports.
    """
    if name in _functions:
        raise ValueError(f"fan-out item function {name!r} is already declared")

    def register(fn: ItemFn) -> ItemFunction:
        declared = ItemFunction(name, fn)
        _functions[name] = declared
        return declared

    return register


class FanOutChunkError(RuntimeError):
    """A chunk could not run at all (not an item's failure: those are outcomes)."""


_claimer: ChunkClaimer | None = None


def use_claimer(claimer: ChunkClaimer | None) -> None:
    """The process's claimer, which the job's step wakes (its engine sets it)."""
    global _claimer
    _claimer = claimer


async def spread_fan_out(
    database: sa.Engine,
    job_id: str,
    name: str,
    items: Sequence[Any],
    fn: ItemFunction,
    *,
    concurrency: int,
    rate_limit: RateLimit | None,
    retry: Retry,
    chunk_size: int,
    on_progress: Callable[[int, int], Awaitable[None]] | None,
    give_up_after: float | None,
) -> FanOutResult:
    """Run the fan-out on every worker's claimer; return once every chunk is done."""
    if concurrency < 1:
        raise ValueError(f"fan-out concurrency must be >= 1, got {concurrency}")
    if chunk_size < 1:
        raise ValueError(f"fan-out chunk_size must be >= 1, got {chunk_size}")
    plan = {
        "function": fn.name,
        "concurrency": concurrency,
        "chunk_size": chunk_size,
        "rate": None if rate_limit is None else [rate_limit.calls, rate_limit.period_seconds],
        "retry": asdict(retry),
    }
    total = len(items)
    rows = [
        {
            "job_id": job_id,
            "fanout": name,
            "start": start,
            "items": list(items[start : start + chunk_size]),
            "plan": plan,
            "owner": None,
            "lease_expires_at": 0.0,
            "done": False,
            "error": None,
        }
        for start in range(0, total, chunk_size)
    ]

    async def database_call(call: Callable[[], Any]) -> Any:
        return await retry_while_unreachable(
            lambda: asyncio.to_thread(call), what=f"fan-out {name}", give_up_after=give_up_after
        )

    await database_call(lambda: _insert_chunks(database, rows, job_id, name))
    with _watching_ends() as ended:
        if _claimer is not None:
            _claimer.wake_all()
        while True:
            ended.clear()  # before the look: an end announced while it runs is not lost
            done, pending, error = await database_call(lambda: _status(database, job_id, name))
            if error is not None:
                raise FanOutChunkError(f"fan-out {name}: {error}")
            if on_progress is not None:
                await on_progress(done, total)
            if pending == 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), POLL_SECONDS)
    finished = await database_call(lambda: load_finished(database, job_id, name, range(total)))
    if rate_limit is not None:
        await database_call(lambda: _forget_rate(database, _rate_name(job_id, name)))
    return FanOutResult([finished[index] for index in range(total)])


@contextlib.contextmanager
def _watching_ends() -> Iterator[asyncio.Event]:
    """An event the process's claimer sets when a fan-out may have ended (none without one)."""
    if _claimer is None:
        yield asyncio.Event()
        return
    with _claimer.watching_ends() as ended:
        yield ended


def _insert_chunks(database: sa.Engine, rows: list[dict[str, Any]], job_id: str, name: str) -> None:
    with database.begin() as connection:
        # a resumed step finds its chunks there; a retried job runs its failed chunks again
        insert_all_missing(connection, fanout_chunks, rows)
        connection.execute(
            sa.update(fanout_chunks)
            .where(
                fanout_chunks.c.job_id == job_id,
                fanout_chunks.c.fanout == name,
                fanout_chunks.c.error.is_not(None),
            )
            .values(done=False, error=None, owner=None, lease_expires_at=0.0)
        )


def _status(database: sa.Engine, job_id: str, name: str) -> tuple[int, int, str | None]:
    """``(items checkpointed, chunks not done, a chunk's error)``."""
    chunks = fanout_chunks.c
    of_fanout = (chunks.job_id == job_id, chunks.fanout == name)
    with database.connect() as connection:
        pending = connection.execute(
            sa.select(sa.func.count()).where(*of_fanout, chunks.done.is_(False))
        ).scalar_one()
        error = connection.execute(
            sa.select(chunks.error).where(*of_fanout, chunks.error.is_not(None)).limit(1)
        ).scalar()
        done = connection.execute(
            sa.select(sa.func.count()).where(
                fanout_items.c.job_id == job_id, fanout_items.c.fanout == name
            )
        ).scalar_one()
    return int(done), int(pending), error


def _rate_name(job_id: str, name: str) -> str:
    return f"fanout:{job_id}:{name}"


def _forget_rate(database: sa.Engine, rate_name: str) -> None:
    with database.begin() as connection:
        connection.execute(sa.delete(limit_slots).where(limit_slots.c.name == f"rate:{rate_name}"))


@dataclass(frozen=True)
class _Chunk:
    job_id: str
    fanout: str
    start: int
    items: list[Any]
    plan: dict[str, Any]
    share: int  # this worker's items at once, of the fan-out's concurrency

    @property
    def key(self) -> tuple[str, str, int]:
        return self.job_id, self.fanout, self.start


@dataclass(frozen=True)
class _Share:
    """A fan-out's part in this worker: its slots, and its rate."""

    slots: asyncio.Semaphore
    rate: SharedRate | None


class ChunkClaimer:
    """Claims and runs chunks of spread fan-outs in this worker process (Postgres only)."""

    def __init__(
        self,
        database: sa.Engine,
        executor_id: str,
        *,
        lease_seconds: float,
        renew_seconds: float,
        give_up_after: float | None,
        wake_others: Callable[[], None],
        announce_end: Callable[[], None],
    ) -> None:
        """``announce_end`` tells every worker that a fan-out may have ended (a NOTIFY; called
        from a thread), so the job's step waiting for it looks at once rather than at its poll."""
        self._database = database
        self._executor_id = executor_id
        self._lease_seconds = lease_seconds
        self._renew_seconds = renew_seconds
        self._give_up_after = give_up_after
        self._wake_others = wake_others
        self._announce_end = announce_end
        self._woken = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running: dict[tuple[str, str, int], asyncio.Task[None]] = {}
        self._shares: dict[tuple[str, str], _Share] = {}
        self._watchers: set[asyncio.Event] = set()
        # one writer for every chunk this worker runs: fewer, bigger commits than one a chunk
        self._checkpoints = CheckpointWriter(database, give_up_after)

    def start(self) -> None:
        """Start on the running loop: the items run where the services' resources were opened."""
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._claim_chunks(), name="skyferry-fanout-claim"),
            asyncio.create_task(self._renew_leases(), name="skyferry-fanout-renew"),
            asyncio.create_task(self._checkpoints.run(), name="skyferry-fanout-checkpoints"),
        ]

    def ring(self) -> None:
        """Look for chunks now; safe from any thread (the LISTEN thread rings it)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._woken.set)

    def ended(self) -> None:
        """A fan-out may have ended (another worker announced it); safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake_watchers)

    @contextlib.contextmanager
    def watching_ends(self) -> Iterator[asyncio.Event]:
        """An event set whenever a fan-out may have ended, for a job's step waiting on one."""
        ended = asyncio.Event()
        self._watchers.add(ended)
        try:
            yield ended
        finally:
            self._watchers.discard(ended)

    def _wake_watchers(self) -> None:
        for ended in self._watchers:
            ended.set()

    def wake_all(self) -> None:
        """Wake this process's claimer and, by NOTIFY, every other worker's."""
        self._woken.set()
        self._wake_others()

    def stop(self) -> None:
        """Stop claiming; this worker's chunks go back to the others at once, not at expiry."""
        self._cancel_tasks()
        try:
            with self._database.begin() as connection:
                connection.execute(
                    sa.update(fanout_chunks)
                    .where(*self._held())
                    .values(owner=None, lease_expires_at=0.0)
                )
        except sa.exc.SQLAlchemyError:
            log.warning("could not release fan-out chunks; they expire instead", exc_info=True)
        self._wake_others()

    def _cancel_tasks(self) -> None:
        """Cancel the claimer's tasks on their loop and wait for them to end. Called off the
        loop (the engine stops on a thread while the loop runs): a task cancelled from another
        thread is never run again if the loop closes first, and asyncio reports it destroyed
        while pending."""
        loop = self._loop
        tasks = [*self._tasks, *self._running.values()]
        if loop is None or loop.is_closed() or not tasks:
            return

        async def cancel() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(cancel(), loop).result(timeout=_STOP_SECONDS)
        except TimeoutError:
            log.warning("fan-out chunks still ending after %s s; stopping anyway", _STOP_SECONDS)

    async def _claim_chunks(self) -> None:
        while True:
            self._woken.clear()  # before the claim: a ring while it runs is not lost
            # what this worker holds of each fan-out, counted here: the claim runs in a thread
            held = Counter(key[:2] for key in self._running)
            try:
                claimed, more = await retry_while_unreachable(
                    functools.partial(asyncio.to_thread, self._claim, held),
                    what="fan-out chunk claim",
                    give_up_after=None,
                )
            except Exception:
                log.exception("claiming a fan-out chunk failed")
                claimed, more = [], False
            for chunk in claimed:
                self._running[chunk.key] = asyncio.create_task(self._run_chunk(chunk))
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), IDLE_SECONDS)

    def _claim(self, held: Counter[tuple[str, str]]) -> tuple[list[_Chunk], bool]:
        """The chunks this worker lacks of the first fan-out with chunks to claim, in one
        transaction (at a fan-out's start, a worker's share fills at once), and whether to look
        again at once: only when that fan-out had fewer chunks left than this worker lacked,
        so another fan-out's may come next. A full share waits for its chunk to end instead of
        paying a second claim per chunk for nothing."""
        chunks = fanout_chunks.c
        now = time.time()
        claimable = (
            chunks.done.is_(False),
            sa.or_(chunks.owner.is_(None), chunks.lease_expires_at < now),
        )
        columns = (chunks.job_id, chunks.fanout, chunks.start, chunks["items"], chunks.plan)
        with self._database.begin() as connection:
            row = connection.execute(
                sa.select(*columns)
                .where(*claimable)
                .order_by(chunks.job_id, chunks.fanout, chunks.start)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return [], False
            live = connection.execute(
                sa.select(sa.func.count()).where(
                    workers.c.heartbeat_at >= now - self._lease_seconds
                )
            ).scalar_one()
            plan = row.plan
            share = math.ceil(int(plan["concurrency"]) / max(1, int(live)))
            # the chunks that fill this worker's share, and one claimed ahead
            wanted = math.ceil(share / int(plan["chunk_size"])) + 1 - held[row.job_id, row.fanout]
            if wanted <= 0:
                # this worker's own chunk ending rings it again, or the poll every IDLE_SECONDS
                # (a worker that stopped gives its chunks back with a NOTIFY)
                return [], False
            of_fanout = (chunks.job_id == row.job_id, chunks.fanout == row.fanout)
            rows = [row]
            if wanted > 1:
                rows += connection.execute(
                    sa.select(*columns)
                    .where(*claimable, *of_fanout, chunks.start > row.start)
                    .order_by(chunks.start)
                    .limit(wanted - 1)
                    .with_for_update(skip_locked=True)
                ).all()
            connection.execute(
                sa.update(fanout_chunks)
                .where(*of_fanout, chunks.start.in_([chosen.start for chosen in rows]))
                .values(owner=self._executor_id, lease_expires_at=now + self._lease_seconds)
            )
        claimed = [_Chunk(r.job_id, r.fanout, r.start, r.items, r.plan, share) for r in rows]
        return claimed, len(claimed) < wanted

    async def _run_chunk(self, chunk: _Chunk) -> None:
        error: str | None = None
        try:
            await self._run_items(chunk)
        except Exception as exc:  # the chunk could not run: its fan-out fails with this
            log.exception("fan-out chunk failed", extra={"job_id": chunk.job_id})
            error = f"{type(exc).__name__}: {exc}"[:2000]
        try:
            ended = await retry_while_unreachable(
                lambda: asyncio.to_thread(self._finish, chunk, error),
                what="fan-out chunk",
                give_up_after=None,
            )
        finally:
            del self._running[chunk.key]
            if not any(key[:2] == chunk.key[:2] for key in self._running):
                self._shares.pop(chunk.key[:2], None)
        if ended:
            self._wake_watchers()  # the job's step may be waiting in this process
        # the slot freed is in this worker's share: this claimer takes the next chunk. Waking
        # the others too cost every worker a claim (and a queue poll) per chunk, for nothing.
        self._woken.set()

    async def _run_items(self, chunk: _Chunk) -> None:
        plan = chunk.plan
        fn = _functions.get(plan["function"])
        if fn is None:
            raise LookupError(
                f"no fan-out item function {plan['function']!r} in this worker: it must import "
                "the module that declares it"
            )
        share = self._share(chunk)

        async def call(item: Any) -> Any:
            # the rate's turn is taken holding a slot, as in a fan-out in one process
            async with share.slots:
                if share.rate is not None:
                    await share.rate.wait()
                return await fn(item)

        await run_fan_out(
            self._database,
            chunk.job_id,
            chunk.fanout,
            chunk.items,
            call,
            concurrency=len(chunk.items),  # the worker's share limits it, across its chunks
            rate_limit=None,
            retry=Retry(**plan["retry"]),
            on_progress=None,
            give_up_after=self._give_up_after,
            first=chunk.start,
            checkpoints=self._checkpoints,
        )

    def _share(self, chunk: _Chunk) -> _Share:
        """One per fan-out in this worker, for all its chunks here; its ``SharedRate`` takes
        one turn at a time."""
        share = self._shares.get(chunk.key[:2])
        if share is None:
            rate = chunk.plan["rate"]
            share = self._shares[chunk.key[:2]] = _Share(
                asyncio.Semaphore(chunk.share),
                None
                if rate is None
                else SharedRate(self._database, _rate_name(*chunk.key[:2]), rate[0], rate[1]),
            )
        return share

    def _finish(self, chunk: _Chunk, error: str | None) -> bool:
        """Mark the chunk done; True (after announcing it) if that may have ended its fan-out:
        no chunk of it is left, or this one failed (which fails the fan-out).

        The chunks left are counted after the commit, so of two workers finishing a fan-out's
        last chunks at once the later one sees both done: the end is never missed. Chunks that
        end together may each announce it; each announcement costs the job's step one look.
        """
        chunks = fanout_chunks.c
        of_chunk = (
            chunks.job_id == chunk.job_id,
            chunks.fanout == chunk.fanout,
            chunks.start == chunk.start,
        )
        with self._database.begin() as connection:
            # every item of the chunk is checkpointed: done, whoever else may also run it
            connection.execute(
                sa.update(fanout_chunks).where(*of_chunk).values(done=True, owner=None, error=error)
            )
        if error is None:
            with self._database.connect() as connection:
                left = connection.execute(
                    sa.select(sa.func.count()).where(
                        chunks.job_id == chunk.job_id,
                        chunks.fanout == chunk.fanout,
                        chunks.done.is_(False),
                    )
                ).scalar_one()
            if left:
                return False
        try:
            self._announce_end()
        except sa.exc.SQLAlchemyError:
            # the job's step finds the end at its next poll instead
            log.warning("could not announce a fan-out's end", exc_info=True)
        return True

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self._renew_seconds)
            if not self._running:
                continue
            try:
                await asyncio.to_thread(self._renew)
            except sa.exc.SQLAlchemyError:
                log.warning("renewing fan-out chunk leases failed", exc_info=True)

    def _renew(self) -> None:
        with self._database.begin() as connection:
            connection.execute(
                sa.update(fanout_chunks)
                .where(*self._held())
                .values(lease_expires_at=time.time() + self._lease_seconds)
            )

    def _held(self) -> tuple[sa.ColumnElement[bool], ...]:
        """The chunks this worker holds and has not finished."""
        return (fanout_chunks.c.owner == self._executor_id, fanout_chunks.c.done.is_(False))
