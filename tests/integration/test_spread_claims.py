"""Two chunk claimers on one Postgres database, as two workers run them: the fan-out's items
run once each and in order, a worker's share fills in one claim, the chunk end that ends the
fan-out is announced (so the job's step does not wait for its poll), and the worker's chunks
share one checkpoint writer.

Both claimers run on this test's event loop; what the engine does with a NOTIFY (the other
worker's ``ended()``) the announcement here does directly.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from skyferry.jobs import spread
from skyferry.jobs.fanout import CheckpointWriter, ItemOutcome
from skyferry.jobs.retry import Retry
from skyferry.jobs.spread import ChunkClaimer, fan_out_item, spread_fan_out, use_claimer
from skyferry.jobs.tables import fanout_chunks, fanout_items, workers
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

runs: Counter[int] = Counter()


@fan_out_item("tests.integration.spread_claims.square")
async def square(item: int) -> int:
    runs[item] += 1
    await asyncio.sleep(0.01)
    return item * item


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    made = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    migrations.upgrade(made, [])
    with made.begin() as connection:
        now = time.time()
        connection.execute(
            sa.insert(workers),
            [
                # heartbeats ahead of time: both live for the whole test
                {
                    "executor_id": name,
                    "hostname": "here",
                    "pid": 1,
                    "started_at": now,
                    "heartbeat_at": now + 600,
                }
                for name in ("worker-a", "worker-b")
            ],
        )
    yield made
    made.dispose()


def pending_chunks(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).where(fanout_chunks.c.done.is_(False))
            ).scalar_one()
        )


async def test_a_spread_fan_out_ends_when_its_last_chunk_is_announced(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no poll before the test's timeout: only the announced end can finish the fan-out
    monkeypatch.setattr(spread, "POLL_SECONDS", 60.0)
    runs.clear()
    announced: list[int] = []  # the chunks not done yet at each announcement
    lock = threading.Lock()
    claimers: list[ChunkClaimer] = []

    def announce_end() -> None:  # the NOTIFY, from the announcing worker's thread
        with lock:
            announced.append(pending_chunks(engine))
        for claimer in claimers:
            claimer.ended()

    def wake_others() -> None:
        for claimer in claimers:
            claimer.ring()

    claimers += [
        ChunkClaimer(
            engine,
            name,
            lease_seconds=60,
            renew_seconds=30,
            give_up_after=None,
            wake_others=wake_others,
            announce_end=announce_end,
        )
        for name in ("worker-a", "worker-b")
    ]
    writers: Counter[int] = Counter()  # rows written by each checkpoint writer
    write = CheckpointWriter._write

    def counted(writer: CheckpointWriter, rows: list[dict[str, Any]]) -> None:
        writers[id(writer)] += len(rows)
        write(writer, rows)

    monkeypatch.setattr(CheckpointWriter, "_write", counted)
    for claimer in claimers:
        claimer.start()
    use_claimer(claimers[0])  # the job's step runs in worker-a
    try:
        result = await asyncio.wait_for(
            spread_fan_out(
                engine,
                "job-1",
                "squares",
                list(range(200)),
                square,
                concurrency=20,
                rate_limit=None,
                retry=Retry(attempts=1),
                chunk_size=5,
                on_progress=None,
                give_up_after=None,
            ),
            timeout=30,
        )
    finally:
        use_claimer(None)
        for claimer in claimers:
            claimer.stop()
    assert result.outputs == [n * n for n in range(200)]
    assert runs == Counter(range(200))  # each item once
    # announced, and only once every chunk was done (by each last finisher that saw it so)
    assert announced
    assert set(announced) == {0}
    # each worker's 20 chunks went through its one writer, not a writer each
    assert len(writers) == 2
    assert sum(writers.values()) == 200
    with engine.connect() as connection:
        owners = connection.execute(
            sa.select(fanout_chunks.c.owner, fanout_chunks.c.done, fanout_chunks.c.error)
        ).all()
        checkpointed = connection.execute(sa.select(sa.func.count()).select_from(fanout_items))
        assert checkpointed.scalar_one() == 200
    assert {(owner, done, error) for owner, done, error in owners} == {(None, True, None)}


async def test_a_claim_takes_the_chunks_that_fill_a_workers_share_at_once(
    engine: sa.Engine,
) -> None:
    rows = [
        {
            "job_id": "job-1",
            "fanout": "squares",
            "start": start,
            "items": list(range(start, start + 5)),
            "plan": {"function": square.name, "concurrency": 20, "chunk_size": 5},
            "owner": None,
            "lease_expires_at": 0.0,
            "done": False,
            "error": None,
        }
        for start in range(0, 100, 5)
    ]
    with engine.begin() as connection:
        connection.execute(sa.insert(fanout_chunks), rows)
    claimer = ChunkClaimer(
        engine,
        "worker-a",
        lease_seconds=60,
        renew_seconds=30,
        give_up_after=None,
        wake_others=lambda: None,
        announce_end=lambda: None,
    )
    # two live workers: a share of 10 items, 2 chunks of 5, and 1 claimed ahead
    claimed, more = claimer._claim(Counter())
    assert [chunk.start for chunk in claimed] == [0, 5, 10]
    assert not more  # full: the next look waits for a chunk to end
    # holding one already, it takes the two it lacks
    claimed, more = claimer._claim(Counter({("job-1", "squares"): 1}))
    assert [chunk.start for chunk in claimed] == [15, 20]
    assert not more
    claimed, more = claimer._claim(Counter({("job-1", "squares"): 3}))
    assert (claimed, more) == ([], False)
    with engine.connect() as connection:
        owned = connection.execute(
            sa.select(fanout_chunks.c.start).where(fanout_chunks.c.owner == "worker-a")
        ).scalars()
        assert sorted(owned) == [0, 5, 10, 15, 20]


async def test_an_outcome_that_cannot_be_stored_fails_only_its_own_item(
    engine: sa.Engine,
) -> None:
    # a worker's one writer commits outcomes of other chunks and other jobs together
    writer = CheckpointWriter(engine, give_up_after=None)
    running = asyncio.create_task(writer.run())
    try:
        records = [
            writer.record("job-1", "squares", ItemOutcome(0, True, 0)),
            writer.record("job-2", "squares", ItemOutcome(0, True, object())),  # not JSON
            writer.record("job-2", "squares", ItemOutcome(1, True, 1)),
        ]
        stored, unstorable, other = await asyncio.gather(*records, return_exceptions=True)
    finally:
        running.cancel()
    assert stored is None
    assert other is None
    assert isinstance(unstorable, TypeError)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(fanout_items.c.job_id, fanout_items.c.item)).all()
    assert sorted(rows) == [("job-1", 0), ("job-2", 1)]
