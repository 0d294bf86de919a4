"""The API behind PgBouncer in transaction mode (``SKYFERRY_DATABASE_POOLER=transaction``).

Two transactions of one client may reach Postgres over different server connections there.
psycopg prepares a statement on the server after five uses of a query, so without the setting
requests soon fail with 'prepared statement "_pg3_0" already exists' (or 'does not exist'),
answered 500. The worker connects to Postgres directly, as the README advises; `skyferry db
upgrade` migrates both schemas first.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.polling import poll
from tests.private_postgres import PgBouncer, PrivatePostgres
from tests.servers import free_port


@pytest.fixture
def pgbouncer(private_postgres: PrivatePostgres) -> Iterator[PgBouncer]:
    if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
        pytest.skip("needs pgbouncer (apt-get install pgbouncer)")
    private_postgres.create_database()
    bouncer = PgBouncer(private_postgres, "skyferry")
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_api_works_behind_a_transaction_pooler(
    private_postgres: PrivatePostgres, pgbouncer: PgBouncer, tmp_path: Path
) -> None:
    direct = f"postgresql://postgres@127.0.0.1:{private_postgres.port}/skyferry"
    worker_env = skyferry_env(tmp_path, direct, SKYFERRY_AUTO_MIGRATE="false")
    subprocess.run([SKYFERRY, "db", "upgrade"], env=worker_env, check=True, capture_output=True)
    api_env = skyferry_env(
        tmp_path,
        pgbouncer.url,
        SKYFERRY_AUTO_MIGRATE="false",
        SKYFERRY_DATABASE_POOLER="transaction",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "processes.log"
    processes = [start(["worker"], worker_env, log)]
    try:
        processes.append(start(["serve", "--no-workers", "--port", str(port)], api_env, log))
        wait_http(url, processes[-1])
        with httpx.Client(base_url=url, timeout=30) as http:
            job_ids = []
            for n in range(20):
                body = {"steps": 3, "seconds_per_step": 0.05, "parallel": 1 + n % 2}
                response = http.post("/jobs/demo", json=body, headers={"Idempotency-Key": str(n)})
                assert response.status_code == 202, response.text
                job_ids.append(response.json()["id"])
            for job_id in job_ids:
                # far more than five of each query on each of the API's connections
                assert poll(http, job_id)["status"] == "succeeded"
                assert http.get(f"/jobs/{job_id}/result").json()["result"]["steps"] == 3
            assert len(http.get("/jobs", params={"limit": 50}).json()["items"]) == 20
            repeat = http.post(
                "/jobs/demo",
                json={"steps": 3, "seconds_per_step": 0.05, "parallel": 1},
                headers={"Idempotency-Key": "0"},
            )
            assert (repeat.status_code, repeat.json()["id"]) == (200, job_ids[0])
            assert http.get("/ready").status_code == 200
    finally:
        for process in reversed(processes):
            stop(process)
    assert "prepared statement" not in log.read_text()
