"""How DBOS's background threads idle: woken by submits, asleep when there is nothing to do.

DBOS (checked against ``dbos==3.4.0``) dequeues by polling: each queue's worker thread waits
``polling_interval_sec`` on the stop event of DBOS's queue threads, polls, and waits again,
with no way to wake it early and no notion of being idle. Polling every 50 ms (what a quick
start of a submitted job needs) cost an idle process 6-7 % of a core, nearly all of its idle
CPU; polling seldom would make every submit wait for the next poll. DBOS's other threads poll
the database every second. DBOS has no public hook for any of it, so this module, and only it,
reaches into DBOS:

- the stop event DBOS hands its queue manager thread (``_queue.queue_thread``), found among
  ``DBOS._background_threads`` by the thread's target, gets a subclass of ``threading.Event``
  as its class. The object stays the one DBOS sets on destroy; only the waits of the queue
  worker threads named ``queue-worker-<queue>`` with a ``QueueWake`` change: they return at
  once when rung (a submit, a NOTIFY), wait DBOS's own interval while this process is full
  (runs ``busy_at`` jobs of the queue) or was within ``busy_grace_seconds``, so freed capacity
  is refilled as before, and up to ``idle_seconds`` otherwise (ended early when a cheap
  ``changed`` check says so). The manager thread itself (which starts the queues' threads,
  checking every second) waits ``idle_seconds`` once all of those have started.
  DBOS's internal queue (``_dbos_internal_queue``: workflows started without a queue, which
  skyferry never starts) gets a QueueWake too, so it stops polling every second.
- whether the process runs jobs of a queue is DBOS's own count, the one its queue thread
  uses for worker load (``_active_workflows_set.count_for_queue``); whether its last poll
  started any is counted by wrapping ``_queue.execute_dequeued_workflow``, which the queue
  worker thread calls for each job it claimed.
- two module constants read when DBOS launches (``quiet_background_threads``): the background
  jobs thread (job deadlines, delayed workflows) takes a database lock every
  ``_workflow_commands._BACKGROUND_JOBS_INTERVAL_SEC`` (1 s; 3 s here, so a job past its
  deadline fails up to 3 s late), and the scheduler polls every second for the first
  ``_scheduler._STARTUP_FAST_POLL_DURATION_SEC`` (60 s) for schedules, which skyferry never
  makes (0 here: it polls at its configured interval from the start).

``tests/integration/test_idle_wake.py`` fails if any of these stops being there.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from dbos import _dbos as dbos_internals
from dbos import _queue as dbos_queue
from dbos import _scheduler as dbos_scheduler
from dbos import _workflow_commands as dbos_workflow_commands
from dbos._utils import INTERNAL_QUEUE_NAME

__all__ = ["INTERNAL_QUEUE_NAME", "QueueWake", "quiet_background_threads"]

BACKGROUND_JOBS_INTERVAL_SECONDS = 3.0

_wakes_by_queue: dict[str, QueueWake] = {}
"""The installed QueueWake of each queue, for the count of the jobs its polls start."""


def quiet_background_threads() -> None:
    """Set before ``DBOS.launch``: the constants are read as its threads start."""
    for module, name, value in (
        (dbos_workflow_commands, "_BACKGROUND_JOBS_INTERVAL_SEC", BACKGROUND_JOBS_INTERVAL_SECONDS),
        (dbos_scheduler, "_STARTUP_FAST_POLL_DURATION_SEC", 0.0),
    ):
        if not hasattr(module, name):
            raise RuntimeError(f"DBOS no longer has {module.__name__}.{name}")
        setattr(module, name, value)


class QueueWake:
    """Decides how long DBOS's worker thread of one queue waits between polls."""

    def __init__(
        self,
        queue_name: str,
        *,
        idle_seconds: float,
        busy_grace_seconds: float,
        busy_at: int = 1,
        changed: Callable[[], bool] | None = None,
        check_seconds: float = 0.1,
    ) -> None:
        """The worker counts as busy (polls at DBOS's interval) while it runs ``busy_at``
        jobs of the queue or more: with every submit ringing, polling otherwise only finds
        work a submit could not start, which is while the worker was full (``busy_at`` its
        concurrency). A poll that started jobs is followed by the next one at once while the
        worker runs fewer than ``busy_at`` (the queue has a backlog, and the worker room for
        it), and by busy polling for ``busy_grace_seconds``: at most one more poll per job
        started.
        ``changed``, when given, is asked every ``check_seconds`` of an idle wait whether
        the queue may have work (a cheap check, no query); True ends the wait."""
        self.queue_name = queue_name
        self._busy_at = busy_at
        self._changed = changed
        self._check_seconds = check_seconds
        self.thread_name = f"queue-worker-{queue_name}"
        self.idle_seconds = idle_seconds
        self.started = False
        self._busy_grace = busy_grace_seconds
        self._condition = threading.Condition()
        self._rung = False
        self._held = False
        self._busy_until = time.monotonic() + busy_grace_seconds
        self._running_jobs: Callable[[], int] = lambda: 0
        self.started_jobs = 0
        """Jobs DBOS's polls of this queue started in this process (counted by ``install``)."""
        self._started_seen = 0

    def install(self) -> None:
        """Take over the waits of the queue's worker thread in the launched DBOS."""
        instance = dbos_internals._get_dbos_instance()
        self._running_jobs = lambda: instance._active_workflows_set.count_for_queue(self.queue_name)
        manager = queue_manager_thread(instance)
        event = manager._args[0]  # type: ignore[attr-defined]
        if not isinstance(event, _WakeableEvent):
            event.__class__ = _WakeableEvent
            event.wakes = {}
            event.manager = manager
        event.wakes[self.thread_name] = self
        _wakes_by_queue[self.queue_name] = self
        _count_started_jobs()

    def running_jobs(self) -> int:
        """Jobs of the queue this process is running now, as DBOS counts them (a job counts
        until DBOS has recorded its outcome)."""
        return self._running_jobs()

    def ring(self) -> None:
        """A job may be waiting: poll now (or right after the poll under way)."""
        with self._condition:
            self._rung = True
            self._condition.notify_all()

    def hold(self) -> None:
        """Take no more jobs: the worker thread stays in its wait until ``release`` (or DBOS
        stops). A poll under way still starts what it claims."""
        with self._condition:
            self._held = True
            self._rung = True  # ends a wait under way, which then holds
            self._condition.notify_all()

    def release(self) -> None:
        """Take jobs again, starting with a poll now."""
        with self._condition:
            self._held = False
            self._rung = True
            self._condition.notify_all()

    def wait(self, dbos_timeout: float, stopped: Callable[[], bool]) -> None:
        self.started = True
        with self._condition:
            self._wait_for_poll(dbos_timeout, stopped)
            while self._held and not stopped():
                self._condition.wait()
            self._rung = False

    def _wait_for_poll(self, dbos_timeout: float, stopped: Callable[[], bool]) -> None:
        # called holding the condition's lock
        timeout = self._timeout(dbos_timeout)
        if self._changed is None or timeout <= self._check_seconds:
            if not self._rung and not stopped():
                self._condition.wait(timeout)
        else:
            deadline = time.monotonic() + timeout
            while not self._rung and not stopped():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(min(self._check_seconds, remaining))
                if self._changed():
                    break

    def _timeout(self, dbos_timeout: float) -> float:
        now = time.monotonic()
        started, self._started_seen = self.started_jobs - self._started_seen, self.started_jobs
        running = self._running_jobs()
        if started or running >= self._busy_at:
            self._busy_until = now + self._busy_grace
        if started and running < self._busy_at:
            # a backlog, and room for more of it: poll again now, not after DBOS's interval
            # (which capped a worker at its concurrency per interval: 64 per 50 ms)
            return 0.0
        if now < self._busy_until:
            return dbos_timeout
        return max(dbos_timeout, self.idle_seconds)


def _count_started_jobs() -> None:
    """Count each job a queue's poll starts, on its QueueWake: DBOS's queue worker thread
    hands every job it claimed to ``_queue.execute_dequeued_workflow``, one at a time."""
    execute = getattr(dbos_queue, "execute_dequeued_workflow", None)
    if execute is None:
        raise RuntimeError("DBOS no longer has dbos._queue.execute_dequeued_workflow")
    if getattr(execute, "counts_started_jobs", False):
        return

    @functools.wraps(execute)
    def counted(dbos: Any, status: Any, owner_xid: str) -> Any:
        wake = _wakes_by_queue.get(status.get("queue_name") or "")
        if wake is not None:
            wake.started_jobs += 1
        return execute(dbos, status, owner_xid)

    counted.counts_started_jobs = True  # type: ignore[attr-defined]
    setattr(dbos_queue, "execute_dequeued_workflow", counted)  # noqa: B010


def queue_manager_thread(instance: object) -> threading.Thread:
    """DBOS's queue manager thread: it hands its stop event to every queue worker thread."""
    for thread in getattr(instance, "_background_threads", []):
        if getattr(thread, "_target", None) is dbos_queue.queue_thread:
            args = getattr(thread, "_args", ())
            if args and isinstance(args[0], threading.Event):
                return thread  # type: ignore[no-any-return]
    raise RuntimeError("DBOS's queue thread is not running: was DBOS launched?")


class _WakeableEvent(threading.Event):
    """DBOS's stop event of its queue threads, with the waits of some queues' worker threads
    decided by their QueueWake (keyed by thread name), and the manager's stretched."""

    wakes: dict[str, QueueWake]
    manager: threading.Thread

    def set(self) -> None:
        super().set()
        for wake in list(self.wakes.values()):
            wake.ring()  # a worker waiting out an idle interval sees the stop at once

    def wait(self, timeout: float | None = None) -> bool:
        current = threading.current_thread()
        wake = self.wakes.get(current.name)
        if wake is not None and timeout is not None:
            wake.wait(timeout, self.is_set)
            return self.is_set()
        if current is self.manager and timeout is not None:
            wakes = list(self.wakes.values())
            if wakes and all(w.started for w in wakes):
                timeout = max(timeout, min(w.idle_seconds for w in wakes))
        return super().wait(timeout)
