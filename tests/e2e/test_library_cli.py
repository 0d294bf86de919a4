"""``skyferry library import EXPORT.csv --wait`` as a user runs it, against ``skyferry serve``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.servers import free_port

FIXTURES = Path(__file__).parent.parent / "fixtures" / "library"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_import_waits_with_a_progress_bar_and_prints_the_summary(tmp_path: Path) -> None:
    port = free_port()
    env = skyferry_env(
        tmp_path,
        f"sqlite:///{tmp_path}/db/skyferry.db",
        SKYFERRY_SERVICES="library",
        SKYFERRY_LIBRARY__OFFLINE_SECONDS_PER_BOOK="0.05",
    )
    process = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}", process)
        cli_env = {**env, "SKYFERRY_API_URL": f"http://127.0.0.1:{port}", "COLUMNS": "120"}

        def library(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [SKYFERRY, "library", *args],
                env=cli_env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        done = library("import", str(FIXTURES / "goodreads_24_columns.csv"), "--wait")
        assert done.returncode == 0, done.stderr
        upload_id = done.stdout.strip()
        assert "9 books" in done.stderr
        assert "top genres:" in done.stderr
        assert "read between 2023-03-05 and 2024-12-15" in done.stderr

        status = library("status", upload_id)
        assert json.loads(status.stdout)["status"] == "complete"

        refused = library("import", str(FIXTURES.parent.parent / "conftest.py"))
        assert refused.returncode != 0
        assert "CSV" in refused.stderr
    finally:
        stop(process)
