"""The books service: a durable book-generation job you submit, poll and download."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

import skyferry
from skyferry.config import Settings
from skyferry.services.books import api, cli
from skyferry.services.books.resources import books
from skyferry.services.books.settings import BooksSettings
from skyferry.services.books.tables import metadata


def _router(settings: Settings) -> APIRouter:
    return api.router


service = skyferry.Service(
    name="books",
    router=_router,
    settings=BooksSettings,
    tables=metadata,
    migrations=Path(__file__).parent / "migrations",
    resources=[books],
    cli=cli.app,
)
