"""The handle a running job gets: its id, progress reporting, durable steps and fan-out."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar

from dbos import DBOS, StepOptions

from skyferry.jobs import runtime
from skyferry.jobs.fanout import FanOutResult, RateLimit, run_fan_out
from skyferry.jobs.retry import Retry
from skyferry.jobs.tables import job_progress
from skyferry.storage.sql import retry_while_unreachable, upsert

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

DEFAULT_STEP_RETRY = Retry()


class JobContext:
    """Passed to every job function. Everything here is safe to call again when a job resumes."""

    def __init__(self, job_id: str, kind: str) -> None:
        self.id = job_id
        self.kind = kind
        self.runtime = runtime.current()

    async def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Record progress durably, so any process can show it while the job runs.

        During a database outage this waits for the database to come back rather than fail
        the job: the job's next checkpoint would wait for it anyway, and a lost write would
        leave the last progress a job shows wrong for good.
        """
        await retry_while_unreachable(
            lambda: asyncio.to_thread(write_progress, self.runtime, self.id, done, total, message),
            what="a progress write",
            give_up_after=self.runtime.settings.database_outage_seconds,
        )

    async def step(
        self,
        fn: Callable[P, Coroutine[Any, Any, R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run the async function ``fn`` as a checkpointed step with the default retry policy.

        A step that finished is never run again: after a crash its recorded result is returned.
        Use :meth:`step_with` to name a step or choose its retry policy and timeout.
        """
        return await self.step_with(fn, None, DEFAULT_STEP_RETRY, None, *args, **kwargs)

    async def step_with(
        self,
        fn: Callable[P, Coroutine[Any, Any, R]],
        name: str | None,
        retry: Retry,
        timeout_seconds: float | None,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        options: StepOptions = {**retry.dbos_options(), "preemptible": True}
        if name:
            options["name"] = name
        if timeout_seconds is not None:
            options["timeout_seconds"] = timeout_seconds
        return await DBOS.run_step_async(options, self._riding_out_outages(fn), *args, **kwargs)

    def _riding_out_outages(
        self, fn: Callable[P, Coroutine[Any, Any, R]]
    ) -> Callable[P, Coroutine[Any, Any, R]]:
        """``fn``, run again while the database is unreachable, without spending its retries.

        A step's retry policy is for its own failures; a database outage of a minute would
        exhaust any sensible policy (three tries in 1.5 s by default) and fail the job for
        good. A step that met an outage had not finished (its checkpoint comes after it), so
        running it again is what DBOS would do after a crash. The wrapper keeps ``fn``'s name,
        which DBOS records as the step's name.
        """
        give_up_after = self.runtime.settings.database_outage_seconds

        @functools.wraps(fn)
        async def step(*args: P.args, **kwargs: P.kwargs) -> R:
            return await retry_while_unreachable(
                lambda: fn(*args, **kwargs),
                what=f"step {fn.__qualname__}",
                give_up_after=give_up_after,
            )

        return step

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
    ) -> FanOutResult:
        """Run ``fn`` on every item, at most ``concurrency`` at once, each retried on its own.

        A failed item is recorded and the others go on. Each finished item is checkpointed as it
        finishes, so a resumed job redoes none of them. Outputs must be JSON-serialisable.
        """
        return await DBOS.run_step_async(
            {"name": f"fan-out:{name}", "retries_allowed": False, "preemptible": True},
            run_fan_out,
            self.runtime,
            self.id,
            name,
            items,
            fn,
            concurrency=concurrency,
            rate_limit=rate_limit,
            retry=retry,
            on_progress=self._fan_out_progress(name) if report_progress else None,
            give_up_after=self.runtime.settings.database_outage_seconds,
        )

    def _fan_out_progress(self, name: str) -> Callable[[int, int], Awaitable[None]]:
        async def report(done: int, total: int) -> None:
            await self.progress(done, total, f"{name}: {done} of {total}")

        return report


def write_progress(
    rt: runtime.Runtime, job_id: str, done: int, total: int | None, message: str
) -> None:
    with rt.database.begin() as connection:
        upsert(
            connection,
            job_progress,
            {
                "job_id": job_id,
                "done": done,
                "total": total,
                "message": message[:500],
                "updated_at": time.time(),
            },
            ["job_id"],
        )
