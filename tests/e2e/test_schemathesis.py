"""Schemathesis, every check, over the whole API of `skyferry serve` as `make run` starts it.

The embedded default (SQLite and files under ./.skyferry, jobs in the web process, every
built-in service) with a small demo dataset, fuzzed by the schemathesis CLI with the bounded,
seeded settings of tests/e2e/schemathesis.toml: its coverage, fuzzing and stateful phases (the
schema has no examples for the examples phase), every check (no 500, no undocumented status,
bodies, headers and content types as documented, valid requests taken and invalid ones
refused, deleted resources gone, ``Allow`` on 405s). It fails on any failure schemathesis
reports, on any operation left untested, and on a 500 or a trace in the server's log.

Dropped, each for an answer the docs give (tests/e2e/schemathesis_hooks.py says why): a
documented 400 for a schema-valid value the service cannot use (a cursor it never issued, a
file name the file store cannot take, a filter the dataset cannot take), a 412 from a stale
If-Match, the 422 for an Idempotency-Key reused with another body, a cancelled book still there
after the DELETE that cancelled it, and GET in ``Allow`` on /jobs/demo (also /jobs/{job_id}).

The run reaches no address but the server's: every proxy variable points at a closed port,
so anything that tried another host would fail rather than go out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.processes import SKYFERRY, start, stop, wait_http
from tests.servers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "e2e" / "schemathesis.toml"
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def embedded_env() -> dict[str, str]:
    """The caller's environment without skyferry's or schemathesis's own settings, the server
    kept light: demo jobs of at most 20 short steps, two jobs at a time."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SKYFERRY_", "SCHEMATHESIS_", "AWS_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    env.update(
        SKYFERRY_LOG_LEVEL="WARNING",
        SKYFERRY_LOG_FORMAT="text",
        SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
        SKYFERRY_WORKER_CONCURRENCY="2",
        SKYFERRY_DEMO__MAX_STEPS="20",
        SKYFERRY_DEMO__MAX_SECONDS_PER_STEP="0.05",
    )
    return env


def offline(env: dict[str, str]) -> dict[str, str]:
    """``env`` in which any request to another host goes to a closed port and fails."""
    closed = f"http://127.0.0.1:{free_port()}"
    proxies = {"HTTP_PROXY": closed, "HTTPS_PROXY": closed, "ALL_PROXY": closed}
    return {**env, **proxies, "NO_PROXY": "127.0.0.1,localhost"}


@pytest.mark.timeout(300)  # about 40 s here; a loaded machine may take twice that
def test_schemathesis_finds_nothing_the_docs_do_not_explain(tmp_path: Path) -> None:
    env = embedded_env()
    demo = subprocess.run(
        [SKYFERRY, "datasets", "demo", "--rows", "200"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]

    port = free_port()
    log = tmp_path / "serve.log"
    server = start(["serve", "--port", str(port)], env, log, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    report = tmp_path / "schemathesis.json"
    try:
        wait_http(url, server)
        run = subprocess.run(
            [
                *(SCHEMATHESIS, "--config-file", str(CONFIG), "run", "--checks", "all"),
                *("--no-color", "--report", "json", "--report-json-path", str(report)),
                f"{url}/openapi.json",
            ],
            # the hooks module, tests.e2e.schemathesis_hooks, is found on PYTHONPATH; what
            # schemathesis or hypothesis write to the working directory stays out of the checkout
            cwd=tmp_path,
            env=offline({**env, "PYTHONPATH": str(ROOT)}),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        # what the server logged while it answered (a stop with grace 0 may log the traces of
        # the jobs it interrupts, which resume at the next start)
        answering = log.read_text()
    finally:
        assert stop(server) in (0, -signal.SIGTERM), log.read_text()[-2000:]

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    summary = json.loads(report.read_text())
    assert (summary["complete"], summary["failures"], summary["errors"]) == (True, [], [])
    operations = summary["operations"]
    assert operations["tested"] == operations["total"] >= 27, operations
    assert summary["test_cases"]["generated"] >= 20 * operations["total"], summary["test_cases"]
    # no 500 answered anything, so nothing was logged as unexpected either
    assert "unhandled error" not in answering, answering[-4000:]
    assert "Traceback" not in answering, answering[-4000:]
