"""The tours service: a city's attractions turned into optimised walking tours by a durable job."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

import skyferry
from skyferry.config import Settings
from skyferry.services.tours import api, cli
from skyferry.services.tours.resources import tours
from skyferry.services.tours.settings import ToursSettings
from skyferry.services.tours.tables import metadata


def _router(settings: Settings) -> APIRouter:
    return api.router


service = skyferry.Service(
    name="tours",
    router=_router,
    settings=ToursSettings,
    tables=metadata,
    migrations=Path(__file__).parent / "migrations",
    resources=[tours],
    cli=cli.app,
)
