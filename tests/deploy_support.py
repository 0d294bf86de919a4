"""Building the deployment model the way ``skyferry deploy`` does, and golden-file checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skyferry.app import load_setup
from skyferry.deploy.artifacts import Artifact
from skyferry.deploy.model import AppModel, describe

GOLDEN = Path(__file__).parent / "fixtures" / "deploy"

# listed, not "every installed service": a service added to the project must not change the
# golden files of the ones there are
BUILT_IN = "books,datasets,demo,inventory,library"


def model_of(monkeypatch: pytest.MonkeyPatch, **env: str) -> AppModel:
    """The model for skyferry's own app under exactly ``env`` (plus the built-in services)."""
    monkeypatch.delenv("SKYFERRY_NOTIFICATION_POLLING_SECONDS", raising=False)
    monkeypatch.setenv("SKYFERRY_SERVICES", BUILT_IN)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return describe(load_setup(default_services=None, run_workers=False))


def assert_golden(target: str, artifacts: list[Artifact]) -> None:
    """Each artifact equals its golden file; ``UPDATE_GOLDEN=1`` rewrites them instead."""
    folder = GOLDEN / target
    if os.environ.get("UPDATE_GOLDEN") == "1":
        for artifact in artifacts:
            artifact.write(folder)
    for artifact in artifacts:
        expected = (folder / artifact.path).read_text(encoding="utf-8")
        assert artifact.content == expected, f"{target}/{artifact.path} differs from its golden"
