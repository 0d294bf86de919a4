"""The handle a running job gets: its id, progress reporting, its service's resources, fan-out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from dbos import DBOS, StepOptions

from skyferry import platform
from skyferry.jobs.fanout import FanOutResult, RateLimit, run_fan_out
from skyferry.jobs.progress import progress_writer
from skyferry.jobs.retry import DEFAULT_STEP_RETRY, Retry
from skyferry.jobs.spread import ItemFunction, spread_fan_out
from skyferry.resources import Resource

T = TypeVar("T")


class JobContext:
    """Passed to every job function. Everything here is safe to call again when a job resumes."""

    def __init__(self, job_id: str, kind: str) -> None:
        self.id = job_id
        self.kind = kind
        self.platform = platform.current()
        self._writes: list[asyncio.Future[None]] = []

    def get(self, resource: Resource[T]) -> T:
        """A resource its service opened for this process (a store, a client, a limit)."""
        return self.platform.resource(resource)

    async def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Record progress durably, so any process can show it while the job runs.

        The write runs while the job goes on (its next step), batched with the progress of the
        process's other jobs (jobs/progress.py), and the job ends only once its last write has
        landed (``flush``): a progress write used to cost each step of a job a transaction of
        its own. A job that resumes after a crash reports its progress again as it replays,
        so a write lost with the process is written again. During a database outage a write
        waits for the database to come back rather than fail the job: the job's next
        checkpoint would wait for it anyway, and a lost write would leave the last progress a
        job shows wrong for good. A write that fails otherwise fails the job at its next
        progress call or at its end.
        """
        self._raise_failed_writes()
        writer = progress_writer(
            self.platform.database, self.platform.settings.database_outage_seconds
        )
        self._writes.append(writer.write(self.id, done, total, message))

    async def flush(self) -> None:
        """Wait for the job's progress writes (the job engine calls it as the job ends)."""
        writes, self._writes = self._writes, []
        for outcome in await asyncio.gather(*writes, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    def _raise_failed_writes(self) -> None:
        failed = [w for w in self._writes if w.done() and w.exception() is not None]
        self._writes = [w for w in self._writes if not w.done()]
        if failed:
            failed[0].result()  # raises what the write met

    async def fan_out(
        self,
        name: str,
        items: Sequence[T],
        fn: Callable[[T], Awaitable[Any]],
        *,
        concurrency: int = 10,
        rate_limit: RateLimit | None = None,
        retry: Retry = DEFAULT_STEP_RETRY,
        report_progress: bool = True,
        across_workers: bool = False,
        chunk_size: int = 100,
    ) -> FanOutResult:
        """Run ``fn`` on every item, at most ``concurrency`` at once, each retried on its own.

        A failed item is recorded and the others go on. Each finished item is checkpointed as it
        finishes, so a resumed job redoes none of them. Outputs must be JSON-serialisable.

        ``across_workers``: spread the items, ``chunk_size`` at a time, over every worker
        process (jobs/spread.py); ``fn`` must then be declared with ``skyferry.fan_out_item``
        and the items be JSON. ``concurrency`` and ``rate_limit`` hold for all the workers
        together. On SQLite (one process) the fan-out runs in this process.
        """
        options: StepOptions = {
            "name": f"fan-out:{name}",
            "retries_allowed": False,
            "preemptible": True,
        }
        database = self.platform.database
        on_progress = self._fan_out_progress(name) if report_progress else None
        give_up_after = self.platform.settings.database_outage_seconds
        runner: Callable[..., Coroutine[Any, Any, FanOutResult]] = run_fan_out
        spread: dict[str, Any] = {}
        if across_workers:
            if not isinstance(fn, ItemFunction):
                raise ValueError(
                    f"fan-out {name}: across_workers needs an item function declared with "
                    "skyferry.fan_out_item, which every worker can find by name"
                )
            if database.dialect.name == "postgresql":
                runner, spread = spread_fan_out, {"chunk_size": chunk_size}
        return await DBOS.run_step_async(
            options,
            runner,
            database,
            self.id,
            name,
            items,
            fn,
            concurrency=concurrency,
            rate_limit=rate_limit,
            retry=retry,
            on_progress=on_progress,
            give_up_after=give_up_after,
            **spread,
        )

    def _fan_out_progress(self, name: str) -> Callable[[int, int], Awaitable[None]]:
        async def report(done: int, total: int) -> None:
            await self.progress(done, total, f"{name}: {done} of {total}")

        return report
