"""The generated Procfile, run by honcho (a Procfile runner, as Heroku runs it) against a fresh
Postgres database: the release process migrates it, then web (on $PORT) and worker start, and a
job submitted to web is run by the worker. The environment is app.json's, plus what Heroku
itself would set: the add-on's ``SKYFERRY_DATABASE_URL`` with Heroku's ``postgres://`` scheme."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import SKYFERRY, stop, wait_http
from tests.polling import poll
from tests.servers import free_port

HONCHO = str(Path(sys.executable).parent / "honcho")
API_KEY = "generated-by-heroku"


@pytest.mark.postgres
def test_procfile_runs_release_web_and_worker(tmp_path: Path, postgres_url: str) -> None:
    out = tmp_path / "app"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    env["SKYFERRY_SERVICES"] = "demo"
    generated = subprocess.run(
        [SKYFERRY, "deploy", "heroku", "--output", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr

    manifest = json.loads((out / "app.json").read_text())
    assert manifest["addons"][0]["as"] == "SKYFERRY_DATABASE"
    config = {name: spec["value"] for name, spec in manifest["env"].items() if "value" in spec}
    config.update(
        # what Heroku sets: the add-on's URL under its attachment name, the generated secret
        SKYFERRY_DATABASE_URL=postgres_url.replace("postgresql://", "postgres://"),
        SKYFERRY_API_KEYS=API_KEY,
        # the test's own: local blobs, fast heartbeats, plain logs
        SKYFERRY_BLOB_URL=f"file://{tmp_path}/blobs",
        SKYFERRY_HEARTBEAT_SECONDS="0.5",
        SKYFERRY_LOG_FORMAT="text",
        SKYFERRY_LOG_LEVEL="WARNING",
        SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
    )
    (out / ".env").write_text("".join(f"{k}={v}\n" for k, v in config.items()))
    runner_env = {k: v for k, v in env.items() if not k.startswith("SKYFERRY_")}
    runner_env["SKYFERRY_EXECUTOR_TIMEOUT_SECONDS"] = "2"
    runner_env["PATH"] = f"{Path(SKYFERRY).parent}:{runner_env.get('PATH', '')}"

    release = subprocess.run(
        [HONCHO, "start", "release"],
        cwd=out,
        env=runner_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert release.returncode == 0, release.stdout + release.stderr
    assert "database at revision" in release.stdout

    port = free_port()
    log = (tmp_path / "honcho.log").open("wb")
    honcho = subprocess.Popen(
        [HONCHO, "start", "web", "worker", "--port", str(port)],
        cwd=out,
        env=runner_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url, honcho)
        headers = {"X-API-Key": API_KEY}
        # the generated secret guards the API
        assert httpx.post(f"{url}/jobs/demo", json={"steps": 1}).status_code == 401
        with httpx.Client(base_url=url, timeout=10, headers=headers) as client:
            submitted = client.post("/jobs/demo", json={"steps": 3, "seconds_per_step": 0})
            assert submitted.status_code == 202, submitted.text
            job = poll(client, submitted.json()["id"], timeout=30)
            assert job["status"] == "succeeded", job
    finally:
        stop(honcho, signal.SIGTERM)
        log.close()
    # web runs no jobs (--no-workers): the worker, started by the Procfile, ran it
    assert "worker.1" in (tmp_path / "honcho.log").read_text()
