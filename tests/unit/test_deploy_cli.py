"""`skyferry deploy`'s usage errors, in-process (the rest runs as a subprocess in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyferry.cli import app


@pytest.fixture(autouse=True)
def restored_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command sets SKYFERRY_WORKERS for the settings it loads: undone after each test."""
    monkeypatch.setenv("SKYFERRY_WORKERS", "false")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["copilot", "--check"], "unknown target 'copilot'"),
        (["docker"], "--output DIR is needed, or --check to validate only"),
        (["lambda", "--check", "--package", "tarball"], "--package is image or zip"),
        (["heroku", "--check", "--name", "Not A Name"], "--name: lower-case letters"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["deploy", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_writes_every_artifact_into_the_output_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["deploy", "kubernetes", "--output", str(tmp_path / "k8s")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "k8s" / "kubernetes.yaml").is_file()


def test_stepfunctions_for_an_app_without_maps_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYFERRY_SERVICES", "demo")
    result = CliRunner().invoke(app, ["deploy", "stepfunctions", "--check"])
    assert result.exit_code == 2
    assert "no enabled service declares a DistributedMap" in result.output
