"""Heroku: ``Procfile``, ``app.json`` and ``.python-version``.

Heroku's Python buildpack installs from ``uv.lock`` when ``.python-version`` names the Python.
The Postgres add-on is attached as ``SKYFERRY_DATABASE``, so Heroku itself sets
``SKYFERRY_DATABASE_URL`` (``postgres://…``, which the settings accept as it is) and no
wrapper script has to copy ``DATABASE_URL`` over.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from skyferry.deploy.artifacts import Artifact, to_json
from skyferry.deploy.model import AppModel
from skyferry.deploy.schemas import problems

POSTGRES_PLAN = "heroku-postgresql:essential-0"
DYNO_SIZE = "basic"

# essential-0 allows 20 connections: (3 + 4 + 1) per process keeps a web and a worker dyno at
# 16, where the defaults (14 per process) would need 28
_POOLS = {"SKYFERRY_DATABASE_POOL_SIZE": "3", "SKYFERRY_SYSTEM_DATABASE_POOL_SIZE": "4"}
# Heroku's router gives up on a first byte after 30 s: a queued download must answer before
_ROUTER = {"SKYFERRY_DATASETS__DOWNLOAD_QUEUE_SECONDS": "25"}


def _line(command: list[str]) -> str:
    """A Procfile command: quoted for the shell Heroku runs it in, ``$PORT`` left to expand."""
    return " ".join(part if part == "$PORT" else shlex.quote(part) for part in command)


def procfile(model: AppModel) -> str:
    return (
        f"web: {_line(model.serve_command('$PORT'))}\n"
        f"worker: {_line(model.worker_command())}\n"
        f"release: {_line(model.migrate_command())}\n"
    )


def app_json(model: AppModel) -> dict[str, Any]:
    blob_url: dict[str, Any] = {
        "description": "s3://bucket/prefix: dynos' disks are wiped on every restart, so "
        "files, books and datasets live in S3 (or an S3-compatible store)",
        "required": True,
    }
    if model.blob_bucket:
        blob_url["value"] = model.blob_url_in(model.blob_bucket)
    env: dict[str, Any] = {
        "SKYFERRY_BLOB_URL": blob_url,
        "AWS_ACCESS_KEY_ID": {"description": "for SKYFERRY_BLOB_URL", "required": False},
        "AWS_SECRET_ACCESS_KEY": {"description": "for SKYFERRY_BLOB_URL", "required": False},
        "AWS_REGION": {"description": "the bucket's region", "required": False},
        "AWS_ENDPOINT_URL": {
            "description": "only for S3-compatible stores other than AWS",
            "required": False,
        },
    }
    defaults = dict(_POOLS)
    if "datasets" in model.services:
        defaults.update(_ROUTER)
    for name, value in {**defaults, **model.base_env}.items():
        env[name] = {"value": value}
    for secret in model.secrets:
        if secret.name == "SKYFERRY_API_KEYS":
            env[secret.name] = {
                "description": "the X-API-Key clients send; generated at the first deploy",
                "generator": "secret",
            }
        else:
            env[secret.name] = {"description": "a secret setting", "required": True}
    return {
        "name": model.name[:30],
        "description": "Web API and durable jobs on skyferry: web dynos answer, workers run jobs.",
        "buildpacks": [{"url": "heroku/python"}],
        "addons": [{"plan": POSTGRES_PLAN, "as": "SKYFERRY_DATABASE"}],
        "formation": {
            "web": {"quantity": 1, "size": DYNO_SIZE},
            "worker": {"quantity": 1, "size": DYNO_SIZE},
        },
        "env": env,
    }


def generate(model: AppModel) -> list[Artifact]:
    return [
        Artifact("Procfile", procfile(model)),
        Artifact("app.json", to_json(app_json(model))),
        Artifact(".python-version", model.python_version + "\n"),
    ]


def check(files: dict[str, str]) -> list[str]:
    """app.json against Heroku's schema; the Procfile has the three processes, web on $PORT."""
    found = problems(json.loads(files["app.json"]), "heroku-app.json", "app.json")
    processes = dict(line.split(":", 1) for line in files["Procfile"].splitlines() if line.strip())
    for needed in ("web", "worker", "release"):
        if needed not in processes:
            found.append(f"Procfile: no {needed} process")
    if "$PORT" not in processes.get("web", ""):
        found.append("Procfile: web does not listen on $PORT")
    return found
