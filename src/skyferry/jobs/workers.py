"""Worker liveness: each worker heartbeats; any worker hands a silent worker's jobs to the queue.

DBOS resumes a crashed process's workflows only when a process with the same executor id
restarts. Containers and dynos come back with new ids, so each worker also looks for running
jobs whose executor has stopped heartbeating and re-enqueues them. DBOS's ownership check makes
that safe: if the "dead" worker was only slow, its next checkpoint write is refused.

After a database outage every worker's heartbeat is stale at once, and live workers come back
one by one; a worker judging the others too early would take over jobs that are still running
(and redo their steps). So a worker judges others only once its own heartbeats have been
landing for a whole executor timeout: by then every live worker has beaten again.

Re-enqueued jobs are announced like submits: idle workers (this one too) would otherwise find
them only at their next idle poll, seconds after the takeover.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from dbos import DBOS

from skyferry.config import Settings
from skyferry.jobs.tables import workers
from skyferry.storage.sql import upsert

log = logging.getLogger(__name__)


class WorkerMonitor:
    def __init__(
        self,
        database: sa.Engine,
        executor_id: str,
        settings: Settings,
        *,
        wake_workers: Callable[[], None],
    ) -> None:
        self._database = database
        self._wake_workers = wake_workers
        self._executor_id = executor_id
        self._interval = settings.heartbeat_seconds
        self._timeout = settings.executor_timeout_seconds
        self._started_at = time.time()
        # since when this worker's beats have landed without a failure (monotonic clock);
        # None while they fail
        self._beating_since: float | None = time.monotonic()
        self._stop = threading.Event()
        self._recovering = True
        self._thread = threading.Thread(target=self._loop, name="skyferry-heartbeat", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop_recovering(self) -> None:
        """Go on heartbeating but take over nobody's jobs: this process is shutting down."""
        self._recovering = False

    def stop(self) -> None:
        """Stop heartbeating and mark this worker silent, so others take over what is left at
        once instead of after the executor timeout."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 5)
        with self._database.begin() as connection:
            connection.execute(
                sa.update(workers)
                .where(workers.c.executor_id == self._executor_id)
                .values(heartbeat_at=0.0)
            )

    def beat(self) -> None:
        now = time.time()
        with self._database.begin() as connection:
            upsert(
                connection,
                workers,
                {
                    "executor_id": self._executor_id,
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": self._started_at,
                    "heartbeat_at": now,
                },
                ["executor_id"],
            )

    def recover_dead(self) -> list[str]:
        """Re-enqueue the running jobs of every worker that stopped heartbeating, then forget it.

        The cost is one read of the (small) workers table per beat, whatever the number of
        running jobs; DBOS is asked for workflows only when some worker has gone silent.
        """
        if self._beating_since is None or time.monotonic() - self._beating_since < self._timeout:
            return []  # just started, or the database just came back: others may be alive
        silent_since = time.time() - self._timeout
        query = sa.select(workers.c.executor_id).where(
            workers.c.heartbeat_at < silent_since, workers.c.executor_id != self._executor_id
        )
        with self._database.connect() as connection:
            dead = sorted(connection.execute(query).scalars())
        if not dead:
            return []
        log.warning("resuming jobs of silent workers", extra={"executors": dead})
        recover_pending(dead)
        self._wake_workers()
        with self._database.begin() as connection:
            connection.execute(
                sa.delete(workers).where(
                    workers.c.executor_id.in_(dead), workers.c.heartbeat_at < silent_since
                )
            )
        return dead

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except Exception as exc:
                # a database blip must not kill the heartbeat; the next beat tries again. The
                # trace once per outage: a minute of it is not worth a hundred tracebacks
                if self._beating_since is None:
                    log.warning("worker heartbeat still failing: %s", type(exc).__name__)
                else:
                    log.warning("worker heartbeat failed; trying every beat", exc_info=True)
                self._beating_since = None
                continue
            if self._beating_since is None:
                log.info("worker heartbeat back")
                self._beating_since = time.monotonic()
            try:
                if self._recovering:
                    self.recover_dead()
            except Exception:
                log.warning("looking for silent workers failed", exc_info=True)


def recover_pending(executor_ids: list[str]) -> None:
    """Re-enqueue the PENDING workflows of ``executor_ids`` so any live worker resumes them.

    DBOS has no public call for this: it recovers a process's workflows only when a process
    with the same executor id restarts, and its admin server's ``/dbos-workflow-recovery``
    endpoint calls this same private method. ``DBOS.resume_workflow`` is public but would drop
    each job's deadline (its timeout). Pinned with DBOS (``dbos==3.4.0`` in pyproject) and
    exercised by the worker kill tests, which fail if it stops resuming jobs.
    """
    DBOS._recover_pending_workflows(executor_ids)
