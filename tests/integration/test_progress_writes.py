"""Progress writes of a process's jobs, batched (jobs/progress.py), on SQLite and Postgres."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from skyferry.config import load_settings
from skyferry.jobs.progress import ProgressWriter, progress_writer
from skyferry.jobs.tables import job_progress
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

pytestmark = pytest.mark.anyio


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    settings = load_settings(database_url=database_url)
    settings.ensure_local_dirs()
    made = create_engine(settings.sqlalchemy_url)
    migrations.upgrade(made, [])
    yield made
    made.dispose()


def progress_rows(engine: sa.Engine) -> dict[str, tuple[int, int | None, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                job_progress.c.job_id,
                job_progress.c.done,
                job_progress.c.total,
                job_progress.c.message,
            )
        )
        return {job_id: (done, total, message) for job_id, done, total, message in rows}


def count_progress_statements(engine: sa.Engine) -> list[int]:
    """A list that grows by one for each statement writing progress."""
    statements: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def counted(*args: Any) -> None:
        if args[2].startswith("INSERT INTO skyferry_job_progress"):
            statements.append(1)

    return statements


async def test_writes_waiting_together_go_in_one_statement_newest_last(
    engine: sa.Engine,
) -> None:
    statements = count_progress_statements(engine)
    writer = ProgressWriter(engine, give_up_after=None)
    landed = [writer.write(f"job-{n}", 1, 10, "step 1") for n in range(20)]
    landed += [writer.write(f"job-{n}", 2, 10, "step 2") for n in range(20)]
    await asyncio.gather(*landed)
    assert len(statements) == 1  # 40 writes of 20 jobs: one statement with each job's newest
    assert progress_rows(engine) == {f"job-{n}": (2, 10, "step 2") for n in range(20)}
    in_flight = writer.write("job-0", 3, 10, "step 3")
    await asyncio.sleep(0)  # the write is on its way
    later = [writer.write(f"job-{n}", 4, 10, "step 4") for n in range(20)]
    await asyncio.gather(in_flight, *later)
    assert len(statements) == 3  # those that came while it was in flight, in one more
    assert progress_rows(engine) == {f"job-{n}": (4, 10, "step 4") for n in range(20)}


async def test_one_writer_per_database_and_event_loop(engine: sa.Engine) -> None:
    assert progress_writer(engine, None) is progress_writer(engine, None)


async def test_a_write_that_fails_fails_every_job_it_carried(engine: sa.Engine) -> None:
    writer = ProgressWriter(engine, give_up_after=None)
    first = writer.write("job-0", 1, None, "")
    await asyncio.sleep(0)  # in flight while the next two wait together
    broken = writer.write("job-1", None, None, "")  # type: ignore[arg-type]  # done is NOT NULL
    alongside = writer.write("job-2", 1, None, "")
    await first
    for landed in (broken, alongside):
        with pytest.raises(sa.exc.IntegrityError):
            await landed
    await writer.write("job-2", 2, None, "again")  # the writer goes on
    assert progress_rows(engine) == {"job-0": (1, None, ""), "job-2": (2, None, "again")}
