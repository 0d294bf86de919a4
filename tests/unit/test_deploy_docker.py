"""Docker artifacts: the Dockerfile through a Dockerfile parser, compose.yaml against the
Compose Specification's schema (no Docker engine here: both are checked statically)."""

from __future__ import annotations

import pytest

from skyferry.deploy import docker
from skyferry.deploy.artifacts import load_yaml, to_yaml
from tests.deploy_support import assert_golden, model_of


def test_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = docker.generate(model_of(monkeypatch))
    assert_golden("docker", artifacts)
    assert docker.check({a.path: a.content for a in artifacts}) == []


def test_compose_runs_what_production_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    document = docker.compose(model_of(monkeypatch, SKYFERRY_SHUTDOWN_GRACE_SECONDS="45"))
    services = document["services"]
    assert services["web"]["command"][:3] == ["skyferry", "serve", "--no-workers"]
    assert services["worker"]["command"] == ["skyferry", "worker"]
    # web and worker start once migrations have run, which wait for Postgres and the bucket
    assert services["web"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    env = services["worker"]["environment"]
    assert env["SKYFERRY_DATABASE_URL"].endswith("@postgres:5432/skyferry")
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    # the grace a worker gets to finish its jobs is the setting's, plus a margin
    assert env["SKYFERRY_SHUTDOWN_GRACE_SECONDS"] == "45"
    assert services["worker"]["stop_grace_period"] == "55s"


def test_changed_settings_change_the_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = {a.path: a.content for a in docker.generate(model_of(monkeypatch))}
    changed_model = model_of(
        monkeypatch,
        SKYFERRY_SERVICES="demo,inventory",
        SKYFERRY_INVENTORY__FILES_PREFIX="files/",
        SKYFERRY_BLOB_URL="s3://theirs/app-data",
    )
    changed = {a.path: a.content for a in docker.generate(changed_model)}
    env = load_yaml(changed["compose.yaml"])["services"]["web"]["environment"]
    assert env["SKYFERRY_SERVICES"] == "demo,inventory"
    assert env["SKYFERRY_INVENTORY__FILES_PREFIX"] == "files/"
    assert env["SKYFERRY_BLOB_URL"] == "s3://skyferry/app-data"
    assert changed["compose.yaml"] != plain["compose.yaml"]
    assert docker.check(changed) == []


def test_checks_refuse_a_shell_form_cmd_root_and_a_broken_compose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = {a.path: a.content for a in docker.generate(model_of(monkeypatch))}
    broken_dockerfile = (
        files["Dockerfile"]
        .replace("USER 10001\n", "")
        .replace('CMD ["skyferry", "serve",', "CMD skyferry serve #")
    )
    document = load_yaml(files["compose.yaml"])
    document["services"]["web"]["ports"] = {"8000": 8000}
    del document["services"]["minio"]
    found = docker.check(
        {**files, "Dockerfile": broken_dockerfile, "compose.yaml": to_yaml(document)}
    )
    assert "Dockerfile: the final stage runs as root" in found
    assert "Dockerfile: CMD must be one exec-form JSON array, so signals reach it" in found
    assert any(problem.startswith("compose.yaml: services/web/ports:") for problem in found)
    assert "compose.yaml: no minio service" in found
