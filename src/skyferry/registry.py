"""The service registry: each service is a package with a router, its jobs, store and settings.

A service's ``service.py`` exposes ``service = Service(...)``. Every known service is imported at
start-up, whether or not its HTTP routes are enabled, because DBOS needs the same workflows
registered in every process (API and workers) that shares a queue.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import typer
from fastapi import APIRouter, FastAPI

from skyferry.config import KNOWN_SERVICES, Settings


@dataclass(frozen=True)
class Service:
    name: str
    router: Callable[[Settings], APIRouter]
    cli: typer.Typer | None = None
    # called with the app after routers are mounted, e.g. to add exception handlers
    setup: Callable[[FastAPI, Settings], None] | None = None
    tags: list[str] = field(default_factory=list)


_MODULES = {
    "demo": "skyferry.jobs.demo",
    "inventory": "skyferry.services.inventory.service",
    "books": "skyferry.services.books.service",
    "datasets": "skyferry.services.datasets.service",
}
assert set(_MODULES) == set(KNOWN_SERVICES)


def load(name: str) -> Service:
    module = importlib.import_module(_MODULES[name])
    service: Service = module.service
    return service


def load_all() -> list[Service]:
    """Import every service, which registers every job kind."""
    return [load(name) for name in _MODULES]
