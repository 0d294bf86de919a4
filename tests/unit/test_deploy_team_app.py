"""Every target for a team's own app (``--app app:app``, none of skyferry's services): each
process is started with the app, and every target's checks pass."""

from __future__ import annotations

from dataclasses import replace

import pytest

from skyferry.deploy import targets
from tests.deploy_support import model_of


@pytest.mark.parametrize("name", sorted(targets.MODULES))
def test_every_target_runs_the_team_app_and_passes_its_checks(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # a state machine is made for a service's DistributedMap: the team's app loads the library
    services = "library" if name == "stepfunctions" else ""
    model = replace(
        model_of(monkeypatch, SKYFERRY_SERVICES=services), app_path="app:app", name="stories"
    )
    outcome = targets.run(targets.get(name), model, None, check=True)
    assert outcome.problems == []
    text = "".join(artifact.content for artifact in outcome.artifacts)
    assert "app:app" in text
    assert "stories" in text
