"""The deployment targets, by name: each a module with ``generate(model)`` and ``check(files)``.

Modules are imported on first use, so generating one target never imports another's
validators (cfn-lint alone takes seconds to import).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skyferry.deploy.artifacts import Artifact
from skyferry.deploy.model import AppModel

MODULES = {
    "heroku": "skyferry.deploy.heroku",
    "docker": "skyferry.deploy.docker",
    "lambda": "skyferry.deploy.sam",
    "lambda-web-adapter": "skyferry.deploy.web_adapter",
    "ecs": "skyferry.deploy.ecs",
    "kubernetes": "skyferry.deploy.kubernetes",
    "stepfunctions": "skyferry.deploy.stepfunctions",
}


@dataclass(frozen=True)
class Target:
    name: str
    generate: Callable[[AppModel], list[Artifact]]
    check: Callable[[dict[str, str]], list[str]]


def get(name: str) -> Target:
    if name not in MODULES:
        raise KeyError(f"unknown target {name!r}; choose one of {', '.join(MODULES)}")
    module = importlib.import_module(MODULES[name])
    return Target(name, module.generate, module.check)


@dataclass(frozen=True)
class Outcome:
    """What a run made and what its checks found (empty: every artifact passed)."""

    artifacts: list[Artifact]
    problems: list[str]
    written: list[Path]


def run(target: Target, model: AppModel, output: Path | None, *, check: bool) -> Outcome:
    """Generate ``target``'s artifacts; validate them with ``check``; write them unless only
    checking (``output`` None)."""
    artifacts = target.generate(model)
    found = target.check({a.path: a.content for a in artifacts}) if check else []
    written = [a.write(output) for a in artifacts] if output is not None else []
    return Outcome(artifacts, found, written)
