"""A team's own app on Lambda: with ``SKYFERRY_APP=app:app`` both handlers start the README's
quickstart app (examples/quickstart) instead of skyferry's own, as ``skyferry serve app:app``
does. Its job is submitted through the API handler (a real HTTP API payload through
``skyferry lambda invoke``, then REST API events through ``skyferry lambda serve``) and run by
worker-handler invocations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.integration.test_lambda_http import body_of, event_for
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"


def test_both_handlers_serve_a_teams_own_app(tmp_path: Path) -> None:
    env = skyferry_env(
        tmp_path,
        f"sqlite:///{tmp_path}/app.db",
        SKYFERRY_APP="app:app",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    event = event_for(
        "powertools-apiGatewayProxyV2Event.json",
        "http",
        "",
        "POST",
        "/count",
        headers={"content-type": "application/json"},
        body=b'{"n": 3}',
    )
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event))
    invoked = subprocess.run(
        [SKYFERRY, "lambda", "invoke", str(event_file)],
        env=env,
        cwd=QUICKSTART,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert invoked.returncode == 0, invoked.stderr
    answer = json.loads(invoked.stdout)
    assert answer["statusCode"] == 202, answer
    first = json.loads(body_of(answer))
    assert answer["headers"]["location"] == f"/jobs/{first['id']}"

    port = free_port()
    args = ["lambda", "serve", "--event-format", "rest", "--stage", "dev", "--port", str(port)]
    server = start(args, env, tmp_path / "serve.log", cwd=QUICKSTART)
    base = f"http://127.0.0.1:{port}/dev"
    try:
        wait_http(base, server)
        with httpx.Client(base_url=base, timeout=30) as client:
            submitted = client.post("/count", json={"n": 2})
            assert submitted.status_code == 202, submitted.text
            job_id = submitted.json()["id"]
            assert submitted.headers["location"] == f"/dev/jobs/{job_id}"
            refused = client.post("/count", json={"n": "two"})
            assert refused.status_code == 422
            assert refused.headers["content-type"] == "application/problem+json"
            # worker-handler invocations, until the job is done (tests/e2e/lambda_instance.py)
            worker = subprocess.run(
                [sys.executable, "-m", "tests.e2e.lambda_instance", "-", "5", job_id],
                env=env,
                cwd=QUICKSTART,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert worker.returncode == 0, worker.stderr
            done = client.get(f"/jobs/{job_id}")
            assert done.json()["status"] == "succeeded", done.text
            assert client.get(f"/jobs/{job_id}/result").json()["result"] == {"n": 2}
            # the job the first invocation submitted ran too: one queue, one database
            assert client.get(f"/jobs/{first['id']}").json()["status"] == "succeeded"
    finally:
        stop(server)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
