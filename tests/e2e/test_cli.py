"""The CLI against a real server process: submit with a progress bar, list, show, cancel;
and a worker that gets SIGTERM finishes its job before it exits."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.servers import free_port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`skyferry serve` on the embedded default: SQLite and local files, jobs in-process."""
    port = free_port()
    env = skyferry_env(tmp_path, f"sqlite:///{tmp_path}/data/skyferry.db")
    process = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, process)
        yield url
    finally:
        # uvicorn re-raises the SIGTERM it handled, once shut down, so -15 is a clean exit
        assert stop(process) in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()[-2000:]


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SKYFERRY, *args, "--url", url], capture_output=True, text=True, timeout=60, check=False
    )


def test_run_wait_shows_progress_and_prints_the_final_record(server: str) -> None:
    done = cli(
        "jobs", "run", "demo", "-p", "steps=3", "-p", "seconds_per_step=0.2", "--wait", url=server
    )
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded"
    assert job["progress"]["done"] == 3
    assert "3/3" in done.stderr  # the progress bar's count, drawn on stderr

    listed = cli("jobs", "ls", url=server)
    assert job["id"] in listed.stdout
    shown = json.loads(cli("jobs", "show", job["id"], url=server).stdout)
    assert shown["id"] == job["id"]


def test_cancel_and_errors(server: str) -> None:
    submitted = cli(
        "jobs", "run", "demo", "-p", "steps=100", "-p", "seconds_per_step=0.5", url=server
    )
    job_id = submitted.stdout.strip()
    cancelled = cli("jobs", "cancel", job_id, url=server)
    assert cancelled.returncode == 0
    assert cancelled.stdout.strip() == f"{job_id} cancelled"
    not_failed = cli("jobs", "retry", job_id, url=server)
    assert not_failed.returncode == 1
    assert "409" in not_failed.stderr
    assert "only a failed job can be retried" in " ".join(not_failed.stderr.split())
    missing = cli("jobs", "show", "nope", url=server)
    assert missing.returncode == 1
    assert "404" in missing.stderr
    invalid = cli("jobs", "run", "demo", "-p", "steps=-5", url=server)
    assert invalid.returncode == 1
    assert "steps" in invalid.stderr


def test_bad_setting_fails_at_start_naming_the_variable(tmp_path: Path) -> None:
    env = skyferry_env(tmp_path, "mysql://nope", SKYFERRY_WORKER_CONCURRENCY="lots")
    result = subprocess.run(
        [SKYFERRY, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "SKYFERRY_DATABASE_URL" in result.stderr
    assert "SKYFERRY_WORKER_CONCURRENCY" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_lets_the_running_job_finish(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = skyferry_env(tmp_path, f"sqlite:///{tmp_path}/data/skyferry.db")
    log = tmp_path / "processes.log"
    api = start(["serve", "--no-workers", "--port", str(port)], env, log)
    worker = start(["worker"], {**env, "SKYFERRY_SHUTDOWN_GRACE_SECONDS": "30"}, log)
    try:
        wait_http(url, api)
        job_id = httpx.post(f"{url}/jobs/demo", json={"steps": 6, "seconds_per_step": 0.3}).json()[
            "id"
        ]
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/jobs/{job_id}").json()["progress"]["done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert stop(worker, signal.SIGTERM, timeout=60) == 0
        job = httpx.get(f"{url}/jobs/{job_id}").json()
        assert job["status"] == "succeeded", log.read_text()[-3000:]
        assert job["progress"]["done"] == 6
    finally:
        stop(worker)
        stop(api)


def test_db_upgrade_migrates_an_empty_database(empty_database_url: str, tmp_path: Path) -> None:
    env = skyferry_env(tmp_path, empty_database_url)
    first = subprocess.run(
        [SKYFERRY, "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    assert "database at revision" in first.stderr
    assert "0001" in first.stderr
    again = subprocess.run(
        [SKYFERRY, "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0
    assert again.stderr.splitlines()[-1] == first.stderr.splitlines()[-1]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("command", "variable"),
    [
        (["db", "upgrade"], "SKYFERRY_DATABASE_URL"),
        (["serve"], "SKYFERRY_DATABASE_URL"),
        (["worker"], "SKYFERRY_SYSTEM_DATABASE_URL"),
    ],
)
def test_a_missing_postgres_database_is_one_line_saying_how_to_create_it(
    command: list[str], variable: str, postgres_url: str, tmp_path: Path
) -> None:
    """Before: db upgrade ended in a 471-line traceback, serve in a logged one."""
    name = f"skyferry_missing_{uuid.uuid4().hex[:10]}"
    password = f"s3cret-{uuid.uuid4().hex[:8]}"  # trust auth ignores it; it must not show
    server = httpx.URL(postgres_url.replace("postgresql://", "http://"))
    missing = f"postgresql://postgres:{password}@{server.host}:{server.port}/{name}"
    if variable == "SKYFERRY_DATABASE_URL":
        env = skyferry_env(tmp_path, missing)
    else:  # the application database exists; DBOS's own does not
        env = skyferry_env(tmp_path, postgres_url, SKYFERRY_SYSTEM_DATABASE_URL=missing)
    result = subprocess.run(
        [SKYFERRY, *command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f'{variable}: database "{name}" does not exist on {server.host}:{server.port}; '
        f"create it with: createdb -h {server.host} -p {server.port} -U postgres {name} "
        f'(or CREATE DATABASE "{name}";)'
    )
    assert password not in result.stderr
