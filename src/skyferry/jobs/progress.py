"""Progress writes of every job a process runs, batched: one statement for all that are waiting.

A job reports progress before each step; twenty books writing chapters made twenty progress
transactions a round, each about 1.5 ms of the worker's CPU under load, for rows nobody reads
more often than a client polls. The writer of a process (one per database and event loop)
sends what was written together at once, in one statement, and while that is in flight
collects the next writes, keeping only the newest of each job, for the next statement. A
job's writes so land in order, the newest last; each caller gets a future that settles when
its write, or a newer one of the same job, has landed, or with the error that kept it from
landing.

During a database outage a batch waits for the database to come back (up to
``give_up_after``) rather than fail its jobs: their next checkpoints would wait for it anyway.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from typing import Any

from sqlalchemy.engine import Engine

from skyferry.jobs.tables import job_progress
from skyferry.storage.sql import retry_while_unreachable, upsert_all

_writers: weakref.WeakKeyDictionary[Engine, ProgressWriter] = weakref.WeakKeyDictionary()


def progress_writer(database: Engine, give_up_after: float | None) -> ProgressWriter:
    """The writer of this process for ``database`` on the running event loop."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(database)
    if writer is None or writer.loop is not loop:
        writer = _writers[database] = ProgressWriter(database, give_up_after)
    return writer


class ProgressWriter:
    """Writes the newest progress of each job, all of the waiting ones in one statement."""

    def __init__(self, database: Engine, give_up_after: float | None) -> None:
        self.database = database
        self.give_up_after = give_up_after
        self.loop = asyncio.get_running_loop()
        self._waiting: dict[str, tuple[dict[str, Any], list[asyncio.Future[None]]]] = {}
        self._sending: asyncio.Task[None] | None = None

    def write(
        self, job_id: str, done: int, total: int | None, message: str
    ) -> asyncio.Future[None]:
        """Queue the job's progress; the future settles once it (or a newer one) has landed."""
        row = {
            "job_id": job_id,
            "done": done,
            "total": total,
            "message": message[:500],
            "updated_at": time.time(),
        }
        landed: asyncio.Future[None] = self.loop.create_future()
        _, superseded = self._waiting.pop(job_id, (None, []))
        self._waiting[job_id] = (row, [*superseded, landed])
        if self._sending is None or self._sending.done():
            self._sending = self.loop.create_task(self._send_all())
        return landed

    async def _send_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            rows = [row for row, _ in batch.values()]
            try:
                await retry_while_unreachable(
                    functools.partial(asyncio.to_thread, self._upsert, rows),
                    what="progress writes",
                    give_up_after=self.give_up_after,
                )
            except Exception as exc:
                error: BaseException | None = exc
            else:
                error = None
            for _, futures in batch.values():
                for future in futures:
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)

    def _upsert(self, rows: list[dict[str, Any]]) -> None:
        with self.database.begin() as connection:
            upsert_all(connection, job_progress, rows, ["job_id"])
