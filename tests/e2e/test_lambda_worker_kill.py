"""A worker instance killed between invocations (Lambda reclaiming it) loses no job: another
instance takes the job over from its last checkpoint, on Postgres, as in a deployment."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.processes import skyferry_env

ROOT = Path(__file__).parents[2]


def instance(
    env: dict[str, str], submit: str, seconds: float, *watch: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.lambda_instance", submit, str(seconds), *watch],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_a_job_survives_its_instance_killed_at_the_deadline(
    postgres_url: str, tmp_path: Path
) -> None:
    env = skyferry_env(tmp_path, postgres_url, SKYFERRY_SERVICES="demo")
    first = instance(env, json.dumps({"steps": 10, "seconds_per_step": 0.3}), 1.3)
    try:
        assert first.stdout is not None
        job_id = json.loads(first.stdout.readline())["submitted"]
        assert json.loads(first.stdout.readline())["outcome"] == "deadline"
        first.send_signal(signal.SIGKILL)  # reclaimed while frozen, with the job in flight
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    # the next instance, invoked by the schedule until the job is done
    second = instance(env, "-", 3.0, job_id)
    try:
        out, _ = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    outcomes = [json.loads(line)["outcome"] for line in out.splitlines()]
    assert outcomes[-1] == "idle", out

    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            steps = (
                connection.execute(
                    sa.text("SELECT step FROM skyferry_demo_steps WHERE job_id = :id"),
                    {"id": job_id},
                )
                .scalars()
                .all()
            )
            status = connection.execute(
                sa.text("SELECT status FROM dbos.workflow_status WHERE workflow_uuid = :id"),
                {"id": job_id},
            ).scalar_one()
    finally:
        engine.dispose()
    assert status == "SUCCESS"
    assert len(set(steps)) == 10  # every step done; one in flight at the kill may run twice
    assert len(steps) <= 11
