"""Jobs run on Lambda itself: ``skyferry.runtimes.aws_lambda.worker_handler``.

The worker function starts the app with workers (DBOS dequeuing from the job queue) in its
init phase. Each invocation (an SQS wake-up message or a schedule, both only say "look at the
queue") runs the app's event loop, on which jobs run, until the invocation's remaining time
reaches ``SAFETY_MARGIN_SECONDS`` or there is nothing left for it: no job of its own running,
no job orphaned by a silent worker waiting to be taken over, and no queued job that reaches it
within ``IDLE_GRACE_SECONDS``. Jobs other live workers run are theirs to finish.

Between invocations Lambda freezes the instance: jobs in flight are suspended where they are,
not lost, and go on at the next invocation of this instance. Every step they finished is
checkpointed, so if the instance is never invoked again (Lambda reclaims idle instances), the
heartbeat it stopped sending lets another worker instance take those jobs over after
``SKYFERRY_EXECUTOR_TIMEOUT_SECONDS``, resuming from the last checkpoint. A job therefore
spans as many invocations as it needs: no single one meets the 15-minute limit. The instance
takes queued jobs only while an invocation runs: when one ends, its queue is held (DBOS's
queue thread waits in ``jobs/dbos_idle.py``) until the next begins, so no job starts only to
be frozen.

Give each instance a new executor id (the default): two instances sharing one would both
claim its jobs. Reserved concurrency bounds how many instances (and connections) run jobs, and
``SKYFERRY_WORKER_CONCURRENCY`` how many jobs one instance runs at once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from skyferry.config import Settings

if TYPE_CHECKING:
    from skyferry.jobs.engine import JobEngine

log = logging.getLogger(__name__)

SAFETY_MARGIN_SECONDS = 10.0
"""Time kept free at the end of an invocation: returning takes a moment, and a step that is
still running goes on at the next invocation, not past the deadline."""

IDLE_POLL_SECONDS = 0.2
IDLE_GRACE_SECONDS = 2.0
"""With no job of its own running, how long a worker waits for queued jobs to reach it."""


class LambdaWorker:
    """The worker function's app: started once per instance, driven by each invocation."""

    def __init__(
        self, settings: Settings | None = None, *, margin_seconds: float = SAFETY_MARGIN_SECONDS
    ) -> None:
        from skyferry.runtimes.aws_lambda import function_app

        self.margin_seconds = margin_seconds
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self.app = function_app(settings, run_workers=True)
            self._lifespan = self.app.router.lifespan_context(self.app)
            self._loop.run_until_complete(self._lifespan.__aenter__())
        except BaseException:
            self._loop.close()
            asyncio.set_event_loop(None)
            raise
        from skyferry.app import setup_of
        from skyferry.runtimes.aws_lambda import wake_workers_on_submit

        self.settings = setup_of(self.app).settings
        wake_workers_on_submit(self.settings)
        self._engine.hold_queue()  # jobs are taken only while an invocation runs

    def run(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """One invocation: run jobs until none is left or the deadline's margin is reached."""
        asyncio.set_event_loop(self._loop)
        return self._loop.run_until_complete(self._drive(context))

    async def _drive(self, context: Any) -> dict[str, Any]:
        from skyferry.jobs.current import current_engine
        from skyferry.runtimes.lambda_wake import WakingJobs

        jobs = current_engine()
        started = time.monotonic()
        self._engine.release_queue()
        try:
            outcome = await self._run_jobs(context, started)
        finally:
            # a job taken after this would only be suspended with the instance
            self._engine.hold_queue()
        if outcome == "deadline" and isinstance(jobs, WakingJobs):
            # the work left goes on at once, on this instance or another, not at the schedule
            await jobs.waker.wake("deadline")
        ran = time.monotonic() - started
        log.info("worker invocation ends", extra={"outcome": outcome, "seconds": round(ran, 3)})
        # an SQS trigger's messages only said "look at the queue": all of them are done with
        return {"outcome": outcome, "seconds": round(ran, 3), "batchItemFailures": []}

    async def _run_jobs(self, context: Any, started: float) -> str:
        """Wait while jobs run: "deadline" at the margin, "idle" when none is left for us."""
        from skyferry.jobs.models import JobStatus

        engine = self._engine
        last_busy = started
        while True:
            now = time.monotonic()
            left = context.get_remaining_time_in_millis() / 1000 - self.margin_seconds
            # queued first, then running: a job dequeued between the two reads is seen as
            # running; read the other way round it would be in neither, and the worker idle
            queued = await engine.list_jobs(status=JobStatus.QUEUED, limit=1)
            mine, orphaned = await engine.unfinished_runs()
            if mine or orphaned:
                last_busy = now
            # queued jobs this worker does not take within the grace (another version's, or
            # beyond the queue's concurrency) are not worth waiting for
            elif not queued.items or now - last_busy > IDLE_GRACE_SECONDS:
                return "idle"
            if left <= 0:
                return "deadline"
            await asyncio.sleep(min(IDLE_POLL_SECONDS, left))

    @property
    def _engine(self) -> JobEngine:
        engine: JobEngine = self.app.state.jobs
        return engine

    def close(self) -> None:
        """Stop the app; what is still running resumes elsewhere (tests and tools)."""
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self._loop.close()
        asyncio.set_event_loop(None)


@functools.cache
def worker() -> LambdaWorker:
    """This instance's worker, started on first use (in the init phase on Lambda)."""
    return LambdaWorker()
