"""What wakes idle workers in other processes: on Postgres a NOTIFY after each enqueue and a
LISTEN in each process that runs jobs; on SQLite a change of DBOS's database file.

DBOS's queues have no LISTEN/NOTIFY of their own, so an idle worker would either poll often
(CPU for nothing) or start a job late. Each submitting process sends ``NOTIFY`` on one channel
after its enqueue commits, so a worker woken by it always finds the job; submits that come
while a NOTIFY is being sent are folded into the next one, so a burst costs a NOTIFY per round
trip rather than per job. Each process that runs jobs holds one connection in ``LISTEN`` and
rings its queue's wake on every notification, and once more each time it (re)connects, for
what it may have missed meanwhile. Polling every ``queue_idle_polling_seconds`` stays as the
fallback (a NOTIFY lost in an outage, a job enqueued by something other than skyferry).

The same channel carries ``FAN_OUT_ENDED``, sent by the worker whose chunk ended a fan-out
spread over the workers (jobs/spread.py): it wakes only the job's step waiting for that end,
not the queue or the chunk claims.

SQLite has no notifications, but every enqueue writes DBOS's database file (or its ``-wal``
file in WAL mode): a ``stat`` of them every 100 ms (no query, no lock) tells an idle worker
when to poll, whichever process wrote.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa

log = logging.getLogger(__name__)

CHANNEL = "skyferry_jobs"
FAN_OUT_ENDED = "fan-out ended"
"""The payload that says a fan-out spread over the workers may have ended; any other (a
submit's is empty) wakes the queue."""


class SubmitNotifier:
    """Sends the channel's NOTIFY from a thread of its own, folding submits that come together."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._pending = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="skyferry-notify", daemon=True)
        self._thread.start()

    def submitted(self) -> None:
        self._pending.set()

    def stop(self) -> None:
        self._stopping = True
        self._pending.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            self._pending.wait()  # no timeout: an idle process never wakes this thread
            if self._stopping:
                return
            self._pending.clear()
            try:
                notify(self._engine)
            except sa.exc.SQLAlchemyError:
                # the workers' fallback poll finds the job; an outage is logged elsewhere
                log.debug("NOTIFY for a submitted job failed", exc_info=True)


def notify(engine: sa.Engine, payload: str = "") -> None:
    with engine.connect() as connection:
        connection.execute(
            sa.text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": payload},
        )
        connection.commit()


class SubmitListener:
    """Holds a connection in LISTEN and calls ``ring`` with the payload of each notification,
    and with ``""`` on each connect."""

    def __init__(
        self, connect: Callable[[], psycopg.Connection[Any]], ring: Callable[[str], None]
    ) -> None:
        self._connect = connect
        self._ring = ring
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="skyferry-listen", daemon=True)
        self._thread.start()

    def stop(self, wake: Callable[[], None]) -> None:
        """Stop listening; ``wake`` sends a NOTIFY so the listening thread returns at once."""
        self._stopping.set()
        # without the NOTIFY the thread returns at its next timeout; it is a daemon either way
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            wake()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._connect() as connection:
                    connection.autocommit = True
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._ring("")  # what was submitted while this process was not listening
                    while not self._stopping.is_set():
                        # the timeout only bounds a stop whose NOTIFY never came
                        for notification in connection.notifies(timeout=30, stop_after=1):
                            self._ring(notification.payload)
            except psycopg.Error:
                if self._stopping.is_set():
                    return
                log.warning("listening for submitted jobs failed; reconnecting", exc_info=True)
                self._stopping.wait(1.0)


def file_changes(path: str) -> Callable[[], bool]:
    """True when ``path``'s WAL (or the file itself) changed since the last call."""
    files = (f"{path}-wal", path)

    def signature() -> tuple[tuple[int, int], ...]:
        stats = []
        for name in files:
            try:
                found = os.stat(name)
            except FileNotFoundError:
                stats.append((0, 0))
            else:
                stats.append((found.st_size, found.st_mtime_ns))
        return tuple(stats)

    last = signature()

    def changed() -> bool:
        nonlocal last
        now = signature()
        if now == last:
            return False
        last = now
        return True

    return changed
