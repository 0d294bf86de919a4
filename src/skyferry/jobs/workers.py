"""Worker liveness: each worker heartbeats; any worker hands a silent worker's jobs to the queue.

DBOS resumes a crashed process's workflows only when a process with the same executor id
restarts. Containers and dynos come back with new ids, so each worker also looks for running
jobs whose executor has stopped heartbeating and re-enqueues them. DBOS's ownership check makes
that safe: if the "dead" worker was only slow, its next checkpoint write is refused.

After a database outage every worker's heartbeat is stale at once, and live workers come back
one by one; a worker judging the others too early would take over jobs that are still running
(and redo their steps). So a worker judges others only once its own heartbeats have been
landing for a whole executor timeout: by then every live worker has beaten again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import sqlalchemy as sa
from dbos import DBOS, DBOSClient

from skyferry.config import Settings
from skyferry.jobs.tables import workers
from skyferry.storage.sql import upsert

log = logging.getLogger(__name__)


class WorkerMonitor:
    """``requests`` answers the listing of running jobs; it raises on a lost connection, so a
    database outage never holds the heartbeat thread in DBOS's own retry loop."""

    def __init__(
        self, database: sa.Engine, executor_id: str, settings: Settings, requests: DBOSClient
    ) -> None:
        self._database = database
        self._executor_id = executor_id
        self._requests = requests
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
        """Stop heartbeating and leave the table, so others take over anything left at once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 5)
        with self._database.begin() as connection:
            connection.execute(sa.delete(workers).where(workers.c.executor_id == self._executor_id))

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
        """Re-enqueue the running jobs of every executor that stopped heartbeating."""
        if self._beating_since is None or time.monotonic() - self._beating_since < self._timeout:
            return []  # just started, or the database just came back: others may be alive
        running = self._requests.list_workflows(
            status="PENDING", load_input=False, load_output=False
        )
        owners = {w.executor_id for w in running if w.executor_id} - {self._executor_id}
        if not owners:
            return []
        alive_since = time.time() - self._timeout
        query = sa.select(workers.c.executor_id).where(
            workers.c.executor_id.in_(owners), workers.c.heartbeat_at >= alive_since
        )
        with self._database.connect() as connection:
            alive = set(connection.execute(query).scalars())
        dead = sorted(owners - alive)
        if dead:
            log.warning("resuming jobs of silent workers", extra={"executors": dead})
            # DBOS's documented recovery entry point (its admin server's /dbos-workflow-recovery)
            DBOS._recover_pending_workflows(dead)
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
