"""Idle workers sleep (one poll per ``queue_idle_polling_seconds``, here longer than any wait
below) and a submit wakes them: in the submitting process directly, in other processes through
a NOTIFY on Postgres and DBOS's database file on SQLite (before: every worker polled the queue
every 50 ms, idle or not)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from dbos import DBOSClient
from dbos import _dbos as dbos_internals
from dbos import _queue as dbos_queue
from dbos import _scheduler as dbos_scheduler
from dbos import _workflow_commands as dbos_workflow_commands

import skyferry
from skyferry.app import create_app
from skyferry.config import Settings, load_settings
from skyferry.jobs import dbos_idle
from skyferry.jobs.engine import QUEUE_NAME
from skyferry.jobs.notify import notify
from tests.polling import poll
from tests.servers import serve_in_thread

IDLE_POLLING = 120.0  # a job that waited for the idle poll would time the test out
BUSY_GRACE = 1.0  # how long a worker keeps polling fast after its last job


@dataclass
class Api:
    client: httpx.Client
    settings: Settings


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    settings = load_settings(
        database_url=database_url,
        blob_url="memory://",
        log_format="text",
        auto_migrate=True,
        shutdown_grace_seconds=0,
        queue_idle_polling_seconds=IDLE_POLLING,
    )
    app = create_app(settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Api(client, settings)


def run_demo(client: httpx.Client) -> None:
    job_id = client.post("/jobs/demo", json={"steps": 1, "seconds_per_step": 0}).json()["id"]
    assert poll(client, job_id, timeout=30)["status"] == "succeeded"


def test_a_submit_wakes_the_idle_workers_of_its_process(api: Api) -> None:
    for _ in range(2):
        time.sleep(BUSY_GRACE + 0.5)  # idle: past the busy grace of the last job, or the start
        run_demo(api.client)


def test_the_dbos_internals_it_relies_on_are_there(api: Api) -> None:
    """dbos_idle reaches into DBOS; this fails when a DBOS upgrade moves what it uses."""
    instance = dbos_internals._get_dbos_instance()
    event = dbos_idle.queue_manager_thread(instance)._args[0]  # type: ignore[attr-defined]
    assert type(event).__name__ == "_WakeableEvent"
    assert set(event.wakes) == {
        f"queue-worker-{QUEUE_NAME}",
        f"queue-worker-{dbos_idle.INTERNAL_QUEUE_NAME}",
    }
    assert instance._active_workflows_set.count_for_queue(QUEUE_NAME) == 0
    assert getattr(dbos_queue, "execute_dequeued_workflow").counts_started_jobs  # noqa: B009
    assert dbos_workflow_commands._BACKGROUND_JOBS_INTERVAL_SEC == 3.0
    assert dbos_scheduler._STARTUP_FAST_POLL_DURATION_SEC == 0.0
    # a worker thread of each queue waits in a QueueWake, not DBOS's interval
    deadline = time.monotonic() + 10
    while not all(wake.started for wake in event.wakes.values()):
        assert time.monotonic() < deadline, "DBOS's queue threads never waited on the event"
        time.sleep(0.05)


def enqueue_elsewhere(settings: Settings, count: int) -> list[str]:
    """Demo jobs enqueued the way another process would, with nothing rung in this one; then
    the NOTIFY that process's submit sends (on Postgres) or its write to DBOS's file (SQLite)."""
    job_ids = [uuid.uuid4().hex for _ in range(count)]
    other = DBOSClient(system_database_url=settings.dbos_system_url)
    engine = sa.create_engine(settings.sqlalchemy_url, pool_size=1)
    try:
        for job_id in job_ids:
            other.enqueue(
                {
                    "queue_name": QUEUE_NAME,
                    "workflow_name": "skyferry:demo",
                    "workflow_id": job_id,
                    "app_version": f"skyferry-{skyferry.__version__}",
                },
                {"steps": 1, "seconds_per_step": 0},
            )
        if engine.dialect.name == "postgresql":
            notify(engine)
    finally:
        other.destroy()
        engine.dispose()
    return job_ids


def test_a_submit_from_another_process_wakes_an_idle_worker(api: Api) -> None:
    """On Postgres through a NOTIFY; on SQLite through the change to DBOS's database file."""
    time.sleep(BUSY_GRACE + 0.5)
    [job_id] = enqueue_elsewhere(api.settings, 1)
    assert poll(api.client, job_id, timeout=30)["status"] == "succeeded"


def test_a_backlog_drains_without_waiting_for_the_idle_poll(api: Api) -> None:
    """A poll that started jobs is followed by another at once: a queue holding more jobs
    than a worker runs at a time (no-op jobs, each done long before the next look) drains
    without waiting for the idle poll (120 s here), which once started one worker's fill of
    jobs per idle poll."""
    time.sleep(BUSY_GRACE + 0.5)
    for job_id in enqueue_elsewhere(api.settings, 4 * api.settings.worker_concurrency):
        assert poll(api.client, job_id, timeout=30)["status"] == "succeeded"
