"""SIGKILL a worker mid-job: another worker (or the same one restarted) finishes the job,
no job is lost and no finished step runs again. Repeated, on SQLite and on Postgres.

What is guaranteed, and asserted: a step whose checkpoint had committed when its worker died
never runs again; the step that was running may run again (it ran up to some point: the demo
step logs its row just before DBOS commits its checkpoint, so a kill between the two leaves a
row for a step that has to run again).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from dbos import DBOSClient

from skyferry.config import load_settings
from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.polling import poll
from tests.servers import free_port

ROUNDS = 10
# the rounds are split between tests of their own, which xdist runs side by side
ROUNDS_PER_TEST = 5
STEPS = 5
SECONDS_PER_STEP = 0.4


def step_counts(database_url: str, job_id: str) -> dict[int, int]:
    engine = sa.create_engine(load_settings(database_url=database_url).sqlalchemy_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT step, COUNT(*) FROM skyferry_demo_steps WHERE job_id = :job GROUP BY step"
            ),
            {"job": job_id},
        ).all()
    engine.dispose()
    return {int(step): int(count) for step, count in rows}


def checkpointed_steps(database_url: str, job_id: str) -> int:
    """How many of the job's demo steps DBOS holds a checkpoint of, read from DBOS's own step
    log (a step is listed with a completion time once its checkpoint has committed)."""
    client = DBOSClient(
        system_database_url=load_settings(database_url=database_url).dbos_system_url
    )
    try:
        steps = client.list_workflow_steps(job_id, load_output=False)
    finally:
        client.destroy()
    return sum(1 for s in steps if s["function_name"] == "work" and s["completed_at_epoch_ms"])


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "first_round",
    range(0, ROUNDS, ROUNDS_PER_TEST),
    ids=lambda first: f"rounds{first}-{first + ROUNDS_PER_TEST - 1}",
)
def test_killed_worker_loses_no_job_and_repeats_no_step(
    database_url: str, tmp_path: Path, first_round: int
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # idle workers would not poll again within the test: a job taken over from a silent
    # worker must be started by its takeover, as a submitted one by its submit
    env = skyferry_env(tmp_path, database_url, SKYFERRY_QUEUE_IDLE_POLLING_SECONDS="300")
    log = tmp_path / "processes.log"
    api = start(["serve", "--no-workers", "--port", str(port)], env, log)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_http(url, api)
        executor = "worker-0"
        workers.append(start(["worker"], {**env, "SKYFERRY_EXECUTOR_ID": executor}, log))
        with httpx.Client(base_url=url, timeout=10) as client:
            for round_ in range(first_round, first_round + ROUNDS_PER_TEST):
                body = {"steps": STEPS, "seconds_per_step": SECONDS_PER_STEP}
                job_id = client.post("/jobs/demo", json=body).json()["id"]
                poll(client, job_id, lambda job: job["progress"]["done"] >= 2)
                # the worker is now inside step 2 or 3, mid-sleep: kill it without warning
                stop(workers[-1], signal.SIGKILL)
                finished = checkpointed_steps(database_url, job_id)
                # even rounds restart the killed executor (DBOS resumes its own work at start-up);
                # odd rounds bring a new one, which must notice the silent worker and take over
                if round_ % 2:
                    executor = f"worker-{round_}"
                workers.append(start(["worker"], {**env, "SKYFERRY_EXECUTOR_ID": executor}, log))
                final = poll(client, job_id, lambda job: job["status"] in ("succeeded", "failed"))
                assert final["status"] == "succeeded", (round_, final, log.read_text()[-3000:])
                assert final["progress"]["done"] == STEPS
                counts = step_counts(database_url, job_id)
                assert set(counts) == set(range(STEPS)), (round_, counts)
                # finished before the kill, or started after it: exactly once
                in_flight = finished  # steps run in order: the first without a checkpoint
                assert all(counts[n] == 1 for n in counts if n != in_flight), (round_, counts)
                # the step running at the kill: perhaps twice, once from the top again
                assert counts.get(in_flight, 1) in (1, 2), (round_, counts)
                assert finished >= 2, (round_, finished)  # progress said 2 were done
                ran = counts.get(in_flight, 0)  # the step in flight: how often it ran
                print(f"round {round_}: {finished} checkpointed at the kill, in flight ran {ran}x")
    finally:
        for process in [*workers, api]:
            stop(process)


def checkpointed_items(database_url: str, job_id: str) -> set[int]:
    engine = sa.create_engine(load_settings(database_url=database_url).sqlalchemy_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT item FROM skyferry_fanout_items WHERE job_id = :job"), {"job": job_id}
        ).scalars()
        items = {int(item) for item in rows}
    engine.dispose()
    return items


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_fan_out_resumes_without_redoing_finished_items(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = skyferry_env(tmp_path, database_url)
    log = tmp_path / "processes.log"
    api = start(["serve", "--no-workers", "--port", str(port)], env, log)
    workers = [start(["worker"], env, log)]
    items, parallel = 40, 8
    try:
        wait_http(url, api)
        with httpx.Client(base_url=url, timeout=10) as client:
            body = {"steps": items, "seconds_per_step": 0.25, "parallel": parallel}
            job_id = client.post("/jobs/demo", json=body).json()["id"]
            poll(client, job_id, lambda job: job["progress"]["done"] >= 10)
            stop(workers[0], signal.SIGKILL)
            finished_before_kill = checkpointed_items(database_url, job_id)
            workers.append(start(["worker"], env, log))  # a new executor: takes over after 2 s
            final = poll(client, job_id, lambda job: job["status"] in ("succeeded", "failed"))
        assert final["status"] == "succeeded", log.read_text()[-3000:]
        counts = step_counts(database_url, job_id)
        assert set(counts) == set(range(items))
        assert len(finished_before_kill) >= 10
        assert all(counts[item] == 1 for item in finished_before_kill)
        # only items in flight at the kill may have run twice
        assert sum(count - 1 for count in counts.values()) <= parallel
    finally:
        for process in [*workers, api]:
            stop(process)
