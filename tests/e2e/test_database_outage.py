"""Stop Postgres for 30 s in the middle of a job stream: no job fails, no finished step runs again,
and meanwhile the API answers 503 problem+json with Retry-After at once instead of hanging.

Every submit carries an Idempotency-Key and a client that got a 503 repeats it, as the README
tells clients to: the repeat either creates the job or finds the one the first try created.
Two workers run the jobs: when the database comes back, each finds the other's heartbeat stale,
and neither may take over jobs the other is still running. One beats every 0.5 s, the other every
1.5 s (both well within the 2 s executor timeout), so the quick one is back first most times.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from skyferry.config import load_settings
from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.polling import poll
from tests.private_postgres import PrivatePostgres
from tests.servers import free_port

OUTAGE_SECONDS = 30.0
FAST_ANSWER_SECONDS = 2.0
# a mix that is running when the database goes: sequential steps, long ones, and fan-outs
BODIES: list[dict[str, Any]] = [
    {"steps": 40, "seconds_per_step": 0.5, "parallel": 4},
    {"steps": 12, "seconds_per_step": 0.4},
    {"steps": 25, "seconds_per_step": 0.4},
    # items that touch no database: they finish during the outage, the checkpoint writer waits
    {"steps": 60, "seconds_per_step": 0.5, "parallel": 3, "record_steps": False},
]
# what clients keep sending during the outage: short, so the backlog clears soon after
SMALL = {"steps": 3, "seconds_per_step": 0.1}


def step_counts(database_url: str) -> dict[str, dict[int, int]]:
    engine = sa.create_engine(load_settings(database_url=database_url).sqlalchemy_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT job_id, step, COUNT(*) FROM skyferry_demo_steps GROUP BY job_id, step")
        ).all()
    engine.dispose()
    counts: dict[str, dict[int, int]] = {}
    for job_id, step, count in rows:
        counts.setdefault(str(job_id), {})[int(step)] = int(count)
    return counts


def fanout_items(database_url: str) -> dict[str, tuple[int, bool]]:
    """Per job: how many fan-out items are checkpointed, and whether all of them succeeded."""
    engine = sa.create_engine(load_settings(database_url=database_url).sqlalchemy_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT job_id, COUNT(*), BOOL_AND(ok) FROM skyferry_fanout_items GROUP BY 1")
        ).all()
    engine.dispose()
    return {str(job_id): (int(count), bool(ok)) for job_id, count, ok in rows}


class Client:
    """Submits demo jobs with Idempotency-Keys and keeps what each answer said."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.accepted: dict[str, tuple[str, dict[str, Any]]] = {}  # key -> (job id, body)
        self.refused: dict[str, dict[str, Any]] = {}  # key -> body, to repeat after the outage
        self.named: dict[str, str] = {}  # key -> the job id a 503 said the job would have
        self.submitted = 0

    def submit(self, key: str, body: dict[str, Any]) -> httpx.Response:
        response = self.http.post("/jobs/demo", json=body, headers={"Idempotency-Key": key})
        if response.status_code in (200, 202):
            self.accepted[key] = (response.json()["id"], body)
            self.refused.pop(key, None)
        elif response.status_code == 503:
            self.refused[key] = body
            self.named[key] = response.json()["job_id"]
        return response

    def submit_new(self, body: dict[str, Any] | None = None) -> httpx.Response:
        body = body or BODIES[self.submitted % len(BODIES)]
        self.submitted += 1
        return self.submit(uuid.uuid4().hex, body)


def assert_fast_503(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["status"] == 503
    assert elapsed < FAST_ANSWER_SECONDS, f"answered after {elapsed:.1f} s"


def timed(call: Any, *args: Any, **kwargs: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_database_outage_fails_no_job_and_the_api_answers_503_meanwhile(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    database_url = private_postgres.create_database()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = skyferry_env(tmp_path, database_url)
    log = tmp_path / "processes.log"
    api = start(["serve", "--no-workers", "--port", str(port)], env, log)
    processes: list[subprocess.Popen[bytes]] = [api]
    latencies: list[float] = []
    try:
        wait_http(url, api)
        processes.append(start(["worker"], env, log))
        processes.append(start(["worker"], {**env, "SKYFERRY_HEARTBEAT_SECONDS": "1.5"}, log))
        with httpx.Client(base_url=url, timeout=30) as http:
            client = Client(http)
            first = client.submit(uuid.uuid4().hex, {"steps": 1, "seconds_per_step": 0})
            client.submitted += 1
            poll(http, first.json()["id"])  # the worker is up and taking jobs
            # a stream of jobs, several of them running when the database goes away
            for _ in range(16):
                assert client.submit_new().status_code == 202
                time.sleep(0.25)
            some_job = next(iter(client.accepted.values()))[0]

            private_postgres.stop()
            outage_started = time.monotonic()
            while time.monotonic() - outage_started < OUTAGE_SECONDS:
                for call, args in (
                    (client.submit_new, (SMALL,)),
                    (http.get, (f"/jobs/{some_job}",)),
                    (http.get, ("/jobs",)),
                    (http.post, (f"/jobs/{some_job}/cancel",)),
                ):
                    response, elapsed = timed(call, *args)
                    assert_fast_503(response, elapsed)
                    latencies.append(elapsed)
                assert http.get("/health").status_code == 200
                time.sleep(0.5)
            private_postgres.start()

            # a client can tell whether a refused submit made its job: here none did
            for job_id in client.named.values():
                assert http.get(f"/jobs/{job_id}").status_code == 404
            # the refused submits come back, as a client honouring Retry-After would send them
            deadline = time.monotonic() + 60
            while client.refused:
                assert time.monotonic() < deadline, f"still refused: {len(client.refused)}"
                for key, body in list(client.refused.items()):
                    client.submit(key, body)
                time.sleep(0.5)
            for _ in range(3):
                assert client.submit_new().status_code == 202
                time.sleep(0.25)

            deadline = time.monotonic() + 150
            final: dict[str, dict[str, Any]] = {}
            while len(final) < len(client.accepted):
                assert time.monotonic() < deadline, f"{len(final)} of {len(client.accepted)} done"
                for job_id, _ in client.accepted.values():
                    if job_id not in final:
                        job = http.get(f"/jobs/{job_id}").json()
                        if job["status"] in ("succeeded", "failed", "cancelled"):
                            final[job_id] = job
                time.sleep(0.5)
            # a demo job succeeds with failed fan-out items too; it counts them in its result
            failed_items = {
                job_id: result["failed"]
                for job_id, _ in client.accepted.values()
                if job_id in final and final[job_id]["status"] == "succeeded"
                for result in [http.get(f"/jobs/{job_id}/result").json()["result"]]
                if result["failed"]
            }

        failed = {
            job_id: job["error"] for job_id, job in final.items() if job["status"] != "succeeded"
        }
        print(
            f"jobs: {len(final) - len(failed)} succeeded, {len(failed)} not, of {client.submitted};"
            f" 503s answered in at most {max(latencies):.3f} s"
            f" (median {sorted(latencies)[len(latencies) // 2]:.3f} s, {len(latencies)} requests)"
        )
        assert not failed, (failed, log.read_text()[-5000:])
        assert not failed_items, failed_items
        # one job per logical submit: a repeated key found its job rather than making another
        assert len({job_id for job_id, _ in client.accepted.values()}) == client.submitted
        for key, job_id in client.named.items():
            assert client.accepted[key][0] == job_id  # the id the 503 named
        counts = step_counts(database_url)
        items = fanout_items(database_url)
        for job_id, body in client.accepted.values():
            if body.get("record_steps", True):
                assert counts.get(job_id) == dict.fromkeys(range(body["steps"]), 1), job_id
            if body.get("parallel", 1) > 1:
                assert items[job_id] == (body["steps"], True), job_id
    finally:
        for process in reversed(processes):
            stop(process, signal.SIGTERM)
