"""Heroku artifacts: Procfile, app.json (checked against Heroku's schema), .python-version."""

from __future__ import annotations

import json

import pytest

from skyferry.deploy import heroku
from tests.deploy_support import assert_golden, model_of


def test_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = heroku.generate(model_of(monkeypatch))
    assert_golden("heroku", artifacts)
    assert heroku.check({a.path: a.content for a in artifacts}) == []


def test_procfile_runs_web_on_port_a_worker_and_migrations() -> None:
    from tests.deploy_support import GOLDEN

    lines = (GOLDEN / "heroku" / "Procfile").read_text().splitlines()
    assert lines == [
        "web: skyferry serve --no-workers --host 0.0.0.0 --port $PORT",
        "worker: skyferry worker",
        "release: skyferry db upgrade",
    ]


def test_changed_settings_reach_app_json(monkeypatch: pytest.MonkeyPatch) -> None:
    model = model_of(
        monkeypatch,
        SKYFERRY_SERVICES="demo,books",
        SKYFERRY_WORKER_CONCURRENCY="16",
        SKYFERRY_BOOKS__PROVIDER="openai",
        SKYFERRY_BOOKS__OPENAI_API_KEY="sk-not-copied",
    )
    files = {a.path: a.content for a in heroku.generate(model)}
    env = json.loads(files["app.json"])["env"]
    assert env["SKYFERRY_SERVICES"] == {"value": "demo,books"}
    assert env["SKYFERRY_WORKER_CONCURRENCY"] == {"value": "16"}
    assert env["SKYFERRY_BOOKS__PROVIDER"] == {"value": "openai"}
    # a secret is asked for at deploy time, never copied from where the files were made
    assert env["SKYFERRY_BOOKS__OPENAI_API_KEY"]["required"] is True
    assert "sk-not-copied" not in files["app.json"]
    # no datasets, so no download queue tuned for Heroku's router
    assert "SKYFERRY_DATASETS__DOWNLOAD_QUEUE_SECONDS" not in env
    assert heroku.check(files) == []


def test_team_app_is_named_in_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    model = replace(model_of(monkeypatch), app_path="stories.app:app")
    procfile = heroku.procfile(model)
    assert "web: skyferry serve stories.app:app --no-workers" in procfile
    assert "worker: skyferry worker stories.app:app\n" in procfile
    assert "release: skyferry db upgrade --app stories.app:app\n" in procfile


def test_schema_refuses_a_broken_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {a.path: a.content for a in heroku.generate(model_of(monkeypatch))}
    manifest = json.loads(files["app.json"])
    manifest["formation"]["web"]["quantity"] = "one"
    manifest["env"]["SKYFERRY_API_KEYS"]["generator"] = "random"
    broken = {**files, "app.json": json.dumps(manifest), "Procfile": "web: skyferry serve\n"}
    found = heroku.check(broken)
    assert any("formation/web/quantity" in problem for problem in found)
    assert any("env/SKYFERRY_API_KEYS" in problem for problem in found)
    assert "Procfile: no worker process" in found
    assert "Procfile: web does not listen on $PORT" in found
