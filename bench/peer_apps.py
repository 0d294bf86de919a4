"""The no-op job of each peer in bench/peers.py, and the worker process that runs it.

Each peer is set up as its own documentation recommends for many short jobs (bench/peers.py's
docstring and docs/benchmarks.md say how). Worker processes are started by bench/peers.py:

    python bench/peer_apps.py dbos|procrastinate     (PEERS_DATABASE_URL)
    celery -A bench.peer_apps:celery_app worker ...  (PEERS_REDIS_URL, PEERS_CELERY_RESULTS)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from typing import Any

import redis
from celery import Celery
from celery.signals import task_postrun, worker_ready
from dbos import DBOS, DBOSConfig
from procrastinate import App, PsycopgConnector

QUEUE = "peers"
DBOS_APP = "peers-dbos"
DBOS_VERSION = "peers"
"""The application version the raw DBOS workers run and its producer stamps on each job."""
DONE_LIST = "peers:done"
"""Where Celery's workers note each finished task (``id time``): with results ignored nothing
else records that a task ran, and the bench needs its finish time."""
QUEUE_POLLING_SECONDS = 0.05
WORKER_CONCURRENCY = 64
"""Raw DBOS gets skyferry's own queue settings (skyferry's defaults), so the two differ only
in what skyferry adds."""
PROCRASTINATE_CONCURRENCY = 8


# -- raw DBOS ------------------------------------------------------------------------------------


async def dbos_noop() -> None:
    return None


def run_dbos(database_url: str) -> None:
    config: DBOSConfig = {
        "name": DBOS_APP,
        "system_database_url": database_url,
        "application_version": DBOS_VERSION,
        "log_level": "WARNING",
        "max_executor_threads": WORKER_CONCURRENCY * 2,
    }
    DBOS(config=config)
    DBOS.workflow(name="noop")(dbos_noop)

    async def main() -> None:
        DBOS.launch()
        await DBOS.register_queue_async(
            QUEUE,
            worker_concurrency=WORKER_CONCURRENCY,
            polling_interval_sec=QUEUE_POLLING_SECONDS,
            on_conflict="always_update",
        )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        DBOS.destroy(workflow_completion_timeout_sec=0)

    asyncio.run(main())


# -- procrastinate -------------------------------------------------------------------------------


def procrastinate_app(database_url: str) -> App:
    # two connections serve a worker (its fetches and its LISTEN); more only contend
    connector = PsycopgConnector(conninfo=database_url, min_size=1, max_size=4)
    app = App(connector=connector)

    @app.task(name="noop", queue=QUEUE)
    async def noop() -> None:
        return None

    return app


def run_procrastinate(database_url: str) -> None:
    app = procrastinate_app(database_url)

    async def main() -> None:
        async with app.open_async():
            await app.run_worker_async(
                queues=[QUEUE], concurrency=PROCRASTINATE_CONCURRENCY, listen_notify=True
            )

    asyncio.run(main())


# -- Celery --------------------------------------------------------------------------------------


def make_celery(redis_url: str, results: bool) -> Celery:
    app = Celery("peers", broker=redis_url, backend=redis_url if results else None)
    app.conf.update(
        task_default_queue=QUEUE,
        task_ignore_result=not results,
        # the docs' advice for many short tasks: prefetch many messages per worker
        worker_prefetch_multiplier=128,
        worker_send_task_events=False,
        task_send_sent_event=False,
        broker_connection_retry_on_startup=True,
        result_expires=3600,
    )
    return app


celery_app = make_celery(
    os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("PEERS_CELERY_RESULTS") == "1",
)


def celery_noop() -> None:
    return None


celery_app.task(name="noop")(celery_noop)


_finished: list[str] = []
_finished_lock = threading.Lock()


def _note_finished(task_id: str | None = None, **_: Any) -> None:
    with _finished_lock:
        _finished.append(f"{task_id} {time.time()}")


def _start_flusher(**_: Any) -> None:
    """Push the finished tasks' times to Redis every 20 ms, in one round trip, so noting
    them costs the workers next to nothing."""
    client = redis.Redis.from_url(celery_app.conf.broker_url)

    def flush() -> None:
        while True:
            time.sleep(0.02)
            with _finished_lock:
                batch = _finished[:]
                _finished.clear()
            if batch:
                client.rpush(DONE_LIST, *batch)

    threading.Thread(target=flush, name="peers-finished", daemon=True).start()


task_postrun.connect(_note_finished, weak=False)
worker_ready.connect(_start_flusher, weak=False)


if __name__ == "__main__":
    {"dbos": run_dbos, "procrastinate": run_procrastinate}[sys.argv[1]](
        os.environ["PEERS_DATABASE_URL"]
    )
