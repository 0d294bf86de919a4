"""Processes that start together migrate one database one at a time, on SQLite and Postgres.

A deployment starts `skyferry worker` and `skyferry serve --no-workers` at the same moment, and
both migrate on start-up. Without a lock the second one creates tables the first has just made
("table skyferry_job_progress already exists"). Here several processes are released by one
barrier, so their migrations overlap every time.
"""

from __future__ import annotations

import multiprocessing
import traceback
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from alembic.script import ScriptDirectory

from skyferry import service
from skyferry.config import load_settings
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

PROCESSES = 4
PRELOAD = ["alembic.command", "skyferry.jobs.tables", __name__]


def _migrate(url: str, barrier: Barrier, results: Queue[tuple[int, str]], index: int) -> None:
    try:
        engine = create_engine(url, pool_size=1)
        services = service.load(list(service.installed()))
        barrier.wait(timeout=60)
        migrations.upgrade(engine, services)
        engine.dispose()
    except BaseException:
        results.put((index, traceback.format_exc()))
        raise
    results.put((index, ""))


def test_processes_starting_together_all_migrate_the_same_fresh_database(
    empty_database_url: str,
) -> None:
    settings = load_settings(database_url=empty_database_url)
    settings.ensure_local_dirs()
    url = settings.sqlalchemy_url
    # the fork server imports what migrating needs once; each process forked from it starts at
    # once, and the barrier then releases them all level, so their migrations overlap
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    barrier = context.Barrier(PROCESSES)
    results: Queue[tuple[int, str]] = context.Queue()
    processes = [
        context.Process(target=_migrate, args=(url, barrier, results, index))
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    failures = {index: error for index, error in outcomes.items() if error}
    assert failures == {}, "\n".join(failures.values())
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    engine = create_engine(url, pool_size=1)
    config = migrations.config(engine, service.load(list(service.installed())))
    try:
        assert sorted(migrations.current(engine)) == sorted(
            ScriptDirectory.from_config(config).get_heads()
        )
    finally:
        engine.dispose()
