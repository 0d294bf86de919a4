"""One fan-out spread over two worker processes on Postgres: its items run on both, a global
rate limit holds across them, and a worker SIGKILLed mid-way runs no finished item again.

Finished means checkpointed: an item counts as done once its outcome is committed. A worker
commits the outcomes of all its chunks together (one writer, each commit taking every outcome
that finished while the last one ran), so at a kill the items in flight are those still running
and those finished but not yet committed; those, and only those, may run again, and they are
all in the chunks the killed worker held."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from skyferry.config import load_settings
from tests.e2e.fanout_app import RUNS_TABLE
from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.polling import poll
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.e2e.fanout_app:app"


def query(engine: sa.Engine, statement: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(statement), params).all())


def wait_for(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not hold in time")
        time.sleep(0.01)


def most_in_one_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    most, first = 0, 0
    for last, at in enumerate(starts):
        while at - starts[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_a_fan_out_spreads_over_workers_holds_its_rate_and_survives_a_killed_worker(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = sa.create_engine(load_settings(database_url=postgres_url).sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(sa.text(RUNS_TABLE))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = skyferry_env(tmp_path, postgres_url)
    log = tmp_path / "processes.log"
    api = start(["serve", "--no-workers", "--port", str(port), APP], env, log, cwd=ROOT)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_http(url, api)
        for n in range(2):
            worker_env = {**env, "SKYFERRY_EXECUTOR_ID": f"worker-{n}"}
            workers.append(start(["worker", APP], worker_env, log, cwd=ROOT))
        wait_for(lambda: len(query(engine, "SELECT executor_id FROM skyferry_workers")) == 2)
        pids = {worker.pid for worker in workers}
        with httpx.Client(base_url=url, timeout=10) as client:
            # a rate of 40 a second for both workers together, not 40 each
            body = {"items": 120, "seconds": 0, "concurrency": 10, "chunk_size": 10}
            job_id = client.post("/spread", json={**body, "calls_per_second": 40}).json()["id"]
            job = poll(client, job_id, timeout=60)
            assert job["status"] == "succeeded", (job, log.read_text()[-3000:])
            result = client.get(f"/jobs/{job_id}/result").json()["result"]
            assert result["succeeded"] == 120, result
            assert result["in_order"], result
            runs = query(engine, "SELECT pid, started FROM fanout_runs")
            assert {pid for pid, _ in runs} == pids
            most = most_in_one_window([started for _, started in runs], 1.0)
            print(f"rate: at most {most} starts in any second, for a limit of 40")
            assert most <= 40
            with engine.begin() as connection:
                connection.execute(sa.text("DELETE FROM fanout_runs"))

            # 400 items of 20 ms in chunks of 8, 4 at once in each worker (its share of 8), which
            # holds 2 chunks (the one its share fills and one ahead): SIGKILL a worker once a
            # quarter of them are done
            spread = {"items": 400, "seconds": 0.02, "concurrency": 8, "chunk_size": 8}
            job_id = client.post("/spread", json=spread).json()["id"]
            checkpointed = f"SELECT item FROM skyferry_fanout_items WHERE job_id = '{job_id}'"
            wait_for(lambda: len(query(engine, checkpointed)) >= 100)
            stop(workers[1], signal.SIGKILL)
            finished_at_kill = {item for (item,) in query(engine, checkpointed)}
            job = poll(client, job_id, timeout=90)
            assert job["status"] == "succeeded", (job, log.read_text()[-3000:])
            result = client.get(f"/jobs/{job_id}/result").json()["result"]
            assert result["succeeded"] == 400, result
            assert result["in_order"], result
        runs = query(engine, "SELECT item, pid FROM fanout_runs")
        assert {pid for _, pid in runs} == pids  # both workers ran items
        counts = Counter(item for item, _ in runs)
        assert set(counts) == set(range(400))
        # an item checkpointed before the kill never ran again; one in flight may have
        assert all(counts[item] == 1 for item in finished_at_kill), counts
        assert len(finished_at_kill) < 400  # the kill came mid-way
        again = sum(count > 1 for count in counts.values())
        assert again <= 2 * 8, counts  # in flight: at most the killed worker's 2 chunks
        print(f"kill: {len(finished_at_kill)} checkpointed at the kill, {again} ran again")
    finally:
        for process in [*workers, api]:
            stop(process)
        engine.dispose()
