"""Fan-out: run one function over many items inside a job, with limits and per-item checkpoints.

A fan-out is one DBOS step, but each item's outcome is checkpointed in ``skyferry_fanout_items``
as soon as it finishes, so a job resumed after a crash redoes only the items that never finished.
A DBOS step per item would do the same with one workflow-row lock per item; measured, that caps
1000 items of 100 ms at about a third of the ideal speed (see docs/benchmarks.md), while these
checkpoints are written in batches by one writer: every outcome that finished while the previous
batch was committing goes in the next transaction (group commit, no timer). A fan-out spread over
the workers has one writer per worker for all its chunks there (jobs/spread.py).

A database outage pauses a fan-out rather than failing it: the writer holds its batch and tries
again until the database is back (outcomes finished meanwhile join the batch), and an item whose
own work met the outage runs again without spending its retries.

Items stream: a fixed number of tasks (twice the concurrency) each take the next unfinished item
when they are done with one, so a fan-out of 100,000 items holds a few dozen tasks, not 100,000
(with a task per item up front, 100,000 items peaked at 167-230 MB, and a cancel took 17-22 s to
stop them; now 37 MB, most of it the outcomes, and under 1 s: docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from aiolimiter import AsyncLimiter
from sqlalchemy.engine import Engine

from skyferry.jobs.retry import Retry
from skyferry.jobs.tables import fanout_items
from skyferry.storage.sql import (
    insert_all_missing,
    is_database_unreachable,
    retry_while_unreachable,
)

T = TypeVar("T")

PROGRESS_INTERVAL_SECONDS = 0.25


@dataclass(frozen=True)
class RateLimit:
    """At most ``calls`` item attempts per ``period_seconds``, across the whole fan-out."""

    calls: int
    period_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.calls < 1 or self.period_seconds <= 0:
            raise ValueError("RateLimit needs calls >= 1 and period_seconds > 0")


@dataclass(frozen=True)  # no slots: outcomes pickled by earlier releases must still load
class ItemOutcome:
    index: int
    ok: bool
    output: Any = None
    error_type: str | None = None
    error_message: str | None = None
    attempts: int = 1


@dataclass
class FanOutResult:
    """Every item's outcome, in item order."""

    outcomes: list[ItemOutcome] = field(default_factory=list)

    @property
    def succeeded(self) -> list[ItemOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[ItemOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def outputs(self) -> list[Any]:
        """Outputs of the items that succeeded, in item order."""
        return [o.output for o in self.outcomes if o.ok]


async def run_fan_out(
    database: Engine,
    job_id: str,
    name: str,
    items: Sequence[T],
    fn: Callable[[T], Awaitable[Any]],
    *,
    concurrency: int,
    rate_limit: RateLimit | None,
    retry: Retry,
    on_progress: Callable[[int, int], Awaitable[None]] | None,
    give_up_after: float | None = None,
    first: int = 0,
    checkpoints: CheckpointWriter | None = None,
) -> FanOutResult:
    """``give_up_after``: seconds to wait out an unreachable database (None: no limit).

    ``first``: the fan-out's index of ``items[0]``, when ``items`` is one chunk of a fan-out
    spread over the workers (jobs/spread.py); the outcomes are that chunk's. ``checkpoints``:
    the writer a worker shares between its chunks; without it the fan-out runs its own.
    """
    if concurrency < 1:
        raise ValueError(f"fan-out concurrency must be >= 1, got {concurrency}")
    total = len(items)
    indexes = range(first, first + total)
    finished = await retry_while_unreachable(
        lambda: asyncio.to_thread(load_finished, database, job_id, name, indexes),
        what=f"fan-out {name}",
        give_up_after=give_up_after,
    )
    progress = _ProgressReporter(on_progress, total, len(finished))
    writer: asyncio.Task[None] | None = None
    if checkpoints is None:
        checkpoints = CheckpointWriter(database, give_up_after)
        writer = asyncio.create_task(checkpoints.run())
    semaphore = asyncio.Semaphore(concurrency)
    call = fn
    if rate_limit is not None:
        limiter = AsyncLimiter(rate_limit.calls, rate_limit.period_seconds)

        async def limited(item: T) -> Any:
            async with limiter:
                return await fn(item)

        call = limited

    async def attempt(item: T) -> Any:
        # the item's retries are for its own failures, not for the database being away
        return await retry_while_unreachable(
            lambda: call(item), what=f"fan-out {name} item", give_up_after=give_up_after
        )

    async def run_item(index: int) -> None:
        async with semaphore:
            outcome = await run_with_retry(index, items[index - first], attempt, retry)
        # the slot is free while the checkpoint commits, so the next item starts meanwhile
        await checkpoints.record(job_id, name, outcome)
        finished[index] = outcome
        await progress.advance()

    unfinished = (index for index in indexes if index not in finished)
    try:
        await progress.report()
        # twice the concurrency: while half the tasks wait for their checkpoints to commit,
        # the other half keep every slot busy
        await for_each(unfinished, run_item, tasks=min(2 * concurrency, total))
    finally:
        if writer is not None:
            writer.cancel()
    await progress.report()
    return FanOutResult([finished[index] for index in indexes])


async def for_each(
    indexes: Iterator[int], run: Callable[[int], Awaitable[None]], *, tasks: int
) -> None:
    """Await ``run(index)`` for every index, from at most ``tasks`` tasks at a time.

    Each task takes the next index once its last one is done, so memory does not grow with the
    number of indexes. The first error (or a cancellation) cancels the rest, as a TaskGroup does.
    """

    async def take_turns() -> None:
        # one event loop: next() on the shared iterator never interleaves with another task's
        for index in indexes:
            await run(index)

    async with asyncio.TaskGroup() as group:
        for _ in range(tasks):
            group.create_task(take_turns())


async def run_with_retry(
    index: int, item: T, attempt: Callable[[T], Awaitable[Any]], retry: Retry
) -> ItemOutcome:
    """Up to ``retry.attempts`` tries of one item, waiting ``retry.wait_after`` between them.

    A plain loop rather than tenacity's: its machinery cost every item CPU even when the first
    attempt succeeds (~15 % of a worker's event loop in a 10,000-item fan-out, py-spy).
    """
    for attempts in range(1, retry.attempts + 1):
        try:
            output = await attempt(item)
        except Exception as exc:  # an item's failure is its own, recorded, not the job's
            if attempts == retry.attempts:
                return ItemOutcome(
                    index, False, None, type(exc).__name__, str(exc)[:2000], attempts
                )
            await asyncio.sleep(retry.wait_after(attempts))
        else:
            return ItemOutcome(index, True, output, attempts=attempts)
    raise AssertionError("Retry.attempts is at least 1")  # pragma: no cover


class CheckpointWriter:
    """One writer task; each transaction takes every outcome queued while the last one ran.

    A fan-out in one process has its own; a worker's chunks of fan-outs spread over the
    workers share the worker's one (jobs/spread.py), so their outcomes go in the same commits.
    """

    def __init__(self, database: sa.Engine, give_up_after: float | None) -> None:
        self._database = database
        self._give_up_after = give_up_after
        self._queued: list[tuple[str, str, ItemOutcome, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()

    async def record(self, job_id: str, name: str, outcome: ItemOutcome) -> None:
        """Return once the outcome is committed: only then does the item count as finished."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((job_id, name, outcome, future))
        self._wake.set()
        await future

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queued = self._queued, []
            if not batch:
                continue
            rows = [
                {
                    "job_id": job_id,
                    "fanout": name,
                    "item": o.index,
                    "ok": o.ok,
                    "output": o.output,
                    "error_type": o.error_type,
                    "error_message": o.error_message,
                    "attempts": o.attempts,
                }
                for job_id, name, o, _ in batch
            ]
            futures = [future for *_, future in batch]
            try:
                # an outage holds this batch; outcomes finishing meanwhile wait for the next one
                await self._commit(rows)
            except Exception as exc:
                if len(rows) == 1 or is_database_unreachable(exc):
                    _settle(futures, exc)
                    continue
                # one outcome that cannot be stored (an output that is not JSON) fails its own
                # item only: the others in the batch may be other chunks', other jobs'
                for row, future in zip(rows, futures, strict=True):
                    try:
                        await self._commit([row])
                    except Exception as own:
                        _settle([future], own)
                    else:
                        _settle([future], None)
            else:
                _settle(futures, None)

    async def _commit(self, rows: list[dict[str, Any]]) -> None:
        await retry_while_unreachable(
            functools.partial(asyncio.to_thread, self._write, rows),
            what="fan-out checkpoints",
            give_up_after=self._give_up_after,
        )

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self._database.begin() as connection:
            # a second executor that resumed the same job may have written the row already
            insert_all_missing(connection, fanout_items, rows)


def _settle(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():  # its item's task was cancelled
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


_LOAD_BATCH_ROWS = 5000


def load_finished(
    database: sa.Engine, job_id: str, name: str, indexes: range
) -> dict[int, ItemOutcome]:
    """Every outcome of ``indexes`` checkpointed so far; a range of more than _LOAD_BATCH_ROWS
    is read in batches of rows (a server-side cursor on Postgres) rather than one result set
    of them all. A smaller one (a chunk of a spread fan-out) is one round trip, not the
    cursor's three."""
    columns = fanout_items.c
    query = sa.select(
        columns.item,
        columns.ok,
        columns.output,
        columns.error_type,
        columns.error_message,
        columns.attempts,
    ).where(
        columns.job_id == job_id,
        columns.fanout == name,
        columns.item >= indexes.start,
        columns.item < indexes.stop,
    )
    with database.connect() as connection:
        if len(indexes) > _LOAD_BATCH_ROWS:
            connection = connection.execution_options(yield_per=_LOAD_BATCH_ROWS)
        return {row[0]: ItemOutcome(*row) for row in connection.execute(query)}


class _ProgressReporter:
    """Reports at most every PROGRESS_INTERVAL_SECONDS: progress is for people, not a log."""

    def __init__(
        self, sink: Callable[[int, int], Awaitable[None]] | None, total: int, done: int
    ) -> None:
        self._sink = sink
        self._total = total
        self._done = done
        self._last = 0.0

    async def advance(self) -> None:
        self._done += 1
        if time.monotonic() - self._last >= PROGRESS_INTERVAL_SECONDS:
            await self.report()

    async def report(self) -> None:
        if self._sink is not None:
            self._last = time.monotonic()
            await self._sink(self._done, self._total)
