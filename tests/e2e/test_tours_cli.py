"""``skyferry tours ...`` as a user runs it, against ``skyferry serve`` in another process."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.servers import free_port

PARIS = "ChIJD7fiBh9u5kcRYJSMaMOCCwQ"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A laptop-style server (embedded worker, SQLite); yields the CLI's environment."""
    port = free_port()
    env = skyferry_env(
        tmp_path,
        f"sqlite:///{tmp_path}/db/skyferry.db",
        SKYFERRY_SERVICES="tours",
        SKYFERRY_TOURS__OFFLINE_SECONDS_PER_STAGE="0.2",
        SKYFERRY_TOURS__SOLVER_ITERATIONS="500",
    )
    process = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}", process)
        yield {**env, "SKYFERRY_API_URL": f"http://127.0.0.1:{port}", "COLUMNS": "160"}
    finally:
        stop(process)


def tours(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SKYFERRY, "tours", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_generate_waits_through_every_stage_and_prints_the_tours(
    server: dict[str, str], tmp_path: Path
) -> None:
    done = tours(server, tmp_path, "generate", PARIS, "--tours", "2", "--minutes", "90", "--wait")
    assert done.returncode == 0, done.stderr
    city_id, *table = done.stdout.splitlines()
    assert len(city_id) == 32
    printed = "\n".join(table)
    assert f"Paris ({city_id}): 2 tours" in printed
    assert "Tour 1:" in printed
    assert "Tour 2:" in printed
    assert printed.count("back to the start") == 2
    assert "5/5" in done.stderr  # the bar's last frame: five stages

    shown = json.loads(tours(server, tmp_path, "show", city_id).stdout)
    assert [t["number"] for t in shown["tours"]] == [1, 2]
    assert all(t["total_minutes"] <= 90 for t in shown["tours"])
    assert tours(server, tmp_path, "delete", city_id).stdout.strip() == "deleted"
    missing = tours(server, tmp_path, "show", city_id)
    assert missing.returncode == 1
    assert "404" in missing.stderr

    unknown = tours(server, tmp_path, "generate", "no-such-place", "--wait")
    assert unknown.returncode == 1
    assert "failed" in unknown.stderr
    assert "no place with id 'no-such-place'" in unknown.stderr
