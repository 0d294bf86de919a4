"""The library service: library exports enriched by rate-limited book APIs into a dashboard."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

import skyferry
from skyferry.config import Settings
from skyferry.services.library import api, cli, events, pages, workflows
from skyferry.services.library.resources import library
from skyferry.services.library.settings import LibrarySettings
from skyferry.services.library.tables import metadata


def _router(settings: Settings) -> APIRouter:
    router = APIRouter()
    router.include_router(api.build_router(settings.of(LibrarySettings)))
    router.include_router(api.router)
    router.include_router(pages.router)  # /library: the upload page and the dashboard
    return router


service = skyferry.Service(
    name="library",
    router=_router,
    settings=LibrarySettings,
    tables=metadata,
    migrations=Path(__file__).parent / "migrations",
    resources=[library],
    cli=cli.app,
    events={"s3": events.on_s3_record},  # an export landing under the upload prefix
    pages=["/library"],  # the upload page, the dashboard and their files open without an API key
    # the enrichment as a Step Functions Distributed Map: the same per-book code, a state
    # machine of its own for libraries too large for one job (skyferry deploy stepfunctions)
    distributed_maps=[
        skyferry.DistributedMap(
            name="enrich",
            item=workflows.enrich_record,
            aggregate=workflows.finish_run,
            retry=workflows.ITEM_RETRY,
            concurrency=lambda settings: settings.of(LibrarySettings).concurrency,
        )
    ],
)
