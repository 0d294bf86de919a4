"""`skyferry deploy` as a team runs it, from its own app's folder with `--app`: the artifacts
name that app in every process, and `--check` validates them (cfn-lint after SAM translation).
Messages go to stderr, as all the CLI's do."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e.processes import SKYFERRY

STORIES = Path(__file__).resolve().parents[2] / "examples" / "stories"


def _deploy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    return subprocess.run(
        [SKYFERRY, "deploy", *args], cwd=STORIES, env=env, capture_output=True, text=True
    )


def test_team_app_heroku_artifacts_name_the_app(tmp_path: Path) -> None:
    done = _deploy("heroku", "--app", "app:app", "--output", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    procfile = (tmp_path / "Procfile").read_text()
    assert "web: skyferry serve app:app --no-workers --host 0.0.0.0 --port $PORT\n" in procfile
    assert "worker: skyferry worker app:app\n" in procfile
    assert "release: skyferry db upgrade --app app:app\n" in procfile
    manifest = json.loads((tmp_path / "app.json").read_text())
    assert manifest["name"] == "stories"
    # a team's app loads none of skyferry's services unless it says so
    assert manifest["env"]["SKYFERRY_SERVICES"] == {"value": ""}


def test_team_app_lambda_check_passes_and_writes_nothing(tmp_path: Path) -> None:
    done = _deploy("lambda", "--app", "app:app", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lambda: 3 artifacts valid" in done.stderr
    assert "cfnlint" not in done.stderr
    assert not (STORIES / "template.yaml").exists()
