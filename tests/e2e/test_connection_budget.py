"""One API process and one worker, default settings, under a burst of jobs: together they hold
at most 30 Postgres connections, each named by its process role in ``pg_stat_activity``.

A default Postgres allows 100 connections; before pool sizes were settings an API and two
workers held 81-86 of them. The server is the test's own, so every connection it sees is ours.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.polling import poll
from tests.private_postgres import PrivatePostgres
from tests.servers import free_port

BUDGET = 30
JOBS = 80  # more than a worker runs at once (64): its pools are as busy as they get
BODIES: list[dict[str, Any]] = [
    {"steps": 20, "seconds_per_step": 0.05, "parallel": 10},  # fan-out: writer and items
    {"steps": 5, "seconds_per_step": 0.05},  # checkpointed steps and progress writes
]


class ConnectionSampler:
    """Counts the server's client connections by application_name, ten times a second."""

    def __init__(self, admin_url: str) -> None:
        self._url = admin_url
        self._stop = threading.Event()
        self.most = 0
        self.most_by_name: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self._url, autocommit=True, application_name="probe") as probe:
            while not self._stop.wait(0.1):
                rows = probe.execute(
                    "SELECT application_name, count(*) FROM pg_stat_activity"
                    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
                    " GROUP BY application_name"
                ).fetchall()
                counts = Counter({str(name): int(count) for name, count in rows})
                self.most = max(self.most, sum(counts.values()))
                for name, count in counts.items():
                    self.most_by_name[name] = max(self.most_by_name[name], count)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_api_and_a_worker_stay_within_30_connections_under_a_burst(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    database_url = private_postgres.create_database()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = skyferry_env(tmp_path, database_url)
    log = tmp_path / "processes.log"
    with ConnectionSampler(private_postgres.admin_url) as sampler:
        api = start(["serve", "--no-workers", "--port", str(port)], env, log)
        processes = [api]
        try:
            wait_http(url, api)
            processes.append(start(["worker"], env, log))
            with httpx.Client(base_url=url, timeout=30) as http, ThreadPoolExecutor(16) as pool:

                def submit(n: int) -> str:
                    response = http.post("/jobs/demo", json=BODIES[n % len(BODIES)])
                    assert response.status_code == 202, response.text
                    return str(response.json()["id"])

                started = time.monotonic()
                job_ids = list(pool.map(submit, range(JOBS)))
                finals = list(pool.map(lambda job_id: poll(http, job_id, timeout=180), job_ids))
                seconds = time.monotonic() - started
        finally:
            for process in reversed(processes):
                stop(process)
    assert all(job["status"] == "succeeded" for job in finals), log.read_text()[-3000:]
    print(
        f"{JOBS} jobs in {seconds:.1f} s; most connections at once: {sampler.most}; "
        f"per application_name: {dict(sampler.most_by_name)}"
    )
    assert sampler.most <= BUDGET, dict(sampler.most_by_name)
    # every connection says which kind of process holds it and which pool it belongs to
    assert set(sampler.most_by_name) <= {
        "skyferry-api",
        "skyferry-api-dbos",
        "skyferry-worker",
        "skyferry-worker-dbos",
        "skyferry-worker-listen",  # the one connection a worker holds in LISTEN for submits
    }, dict(sampler.most_by_name)
