"""Several processes opening one new SQLite file at once all get a WAL connection.

Before, switching a new file to WAL raced: SQLite answers "database is locked" at once, without
waiting, to one of two connections switching together: this test failed in 5 of 7 runs.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

import sqlalchemy as sa

from skyferry.storage.sql import create_engine

PROCESSES = 6
FILES = 100


def _open_each(folder: Path, barrier: Barrier, errors: multiprocessing.Queue[str]) -> None:
    for n in range(FILES):
        engine = create_engine(f"sqlite:///{folder}/fresh-{n}.db")
        barrier.wait(timeout=60)  # every process opens this file at the same moment
        try:
            with engine.connect() as connection:
                mode = connection.execute(sa.text("PRAGMA journal_mode")).scalar()
            if mode != "wal":
                errors.put(f"file {n}: journal mode {mode}")
        except sa.exc.OperationalError as exc:
            errors.put(f"file {n}: {exc.orig}")
        finally:
            engine.dispose()


def test_processes_opening_a_new_file_together_all_get_wal(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # the children share this process's imports
    barrier = context.Barrier(PROCESSES)
    errors: multiprocessing.Queue[str] = context.Queue()
    processes = [
        context.Process(target=_open_each, args=(tmp_path, barrier, errors))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
