"""Builds the FastAPI app from settings; its lifespan starts and stops storage and jobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Lifespan

from skyferry import __version__, registry
from skyferry.config import Settings, load_settings
from skyferry.jobs import api as jobs_api
from skyferry.jobs.engine import JobEngine
from skyferry.jobs.runtime import Runtime
from skyferry.logs import configure_logging
from skyferry.middleware import EdgeMiddleware
from skyferry.problems import install_problem_handlers, problem_response
from skyferry.storage import migrations
from skyferry.storage.blobs import open_blob_store
from skyferry.storage.errors import StorageError
from skyferry.storage.sql import check_database, open_database


class SkyferryAPI(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        return EdgeMiddleware(super().build_middleware_stack())


def build_runtime(settings: Settings) -> Runtime:
    settings.ensure_local_dirs()
    database = open_database(settings)
    blobs = open_blob_store(settings.blob_url, endpoint_url=settings.aws_endpoint_url)
    return Runtime(settings=settings, database=database, blobs=blobs)


def add_routes(app: FastAPI, router: APIRouter, lifespans: list[Lifespan[FastAPI]]) -> None:
    """Put a router's routes on the app itself, and keep its lifespan for the app's to enter.

    ``include_router`` would keep the router as one nested route that FastAPI searches route by
    route, twice per request, for every included router in turn: with every service enabled
    that was about a third of the time an item read took. A route is complete once declared
    (its path prefix, tags, dependencies and body limit are fixed then), so copying it serves
    the same requests and documents the same OpenAPI.
    """
    app.router.routes.extend(router.routes)
    lifespans.append(router.lifespan_context)


def create_app(settings: Settings | None = None, *, run_workers: bool | None = None) -> FastAPI:
    """One app per call, nothing shared at import time, so tests can build several."""
    settings = settings or load_settings()
    workers = settings.workers if run_workers is None else run_workers
    router_lifespans: list[Lifespan[FastAPI]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        rt = build_runtime(settings)
        if settings.migrate_on_start:
            await asyncio.to_thread(migrations.upgrade, rt.database)
        engine = JobEngine(rt, run_workers=workers)
        await asyncio.to_thread(engine.start)
        app.state.runtime = rt
        app.state.jobs = engine
        try:
            async with AsyncExitStack() as routers:
                for router_lifespan in router_lifespans:
                    await routers.enter_async_context(router_lifespan(app))
                yield
        finally:
            await asyncio.to_thread(engine.stop)
            rt.database.dispose()

    app = SkyferryAPI(
        title="skyferry",
        version=__version__,
        summary="Web services and durable jobs, unchanged on a laptop, containers or Lambda.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    install_problem_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "Location",
                "ETag",
                "X-Request-ID",
                "Content-Disposition",
                "Retry-After",
            ],
        )

    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["operations"], summary="Readiness: database and blob store reachable")
    async def ready() -> JSONResponse:
        rt: Runtime = app.state.runtime
        down: dict[str, str] = {}
        try:
            await asyncio.to_thread(check_database, rt.database)
        except StorageError as exc:
            down["database"] = str(exc)
        try:
            await rt.blobs.check()
        except StorageError as exc:
            down["blobs"] = str(exc)
        if down:
            return problem_response(
                503,
                "not ready: " + ", ".join(sorted(down)) + " unreachable",
                title="Service Unavailable",
                instance="/ready",
                checks=down,
            )
        return JSONResponse({"status": "ready", "checks": {"database": "ok", "blobs": "ok"}})

    add_routes(app, jobs_api.router, router_lifespans)
    for service in registry.load_all():
        if service.name in settings.services:
            add_routes(app, service.router(settings), router_lifespans)
            if service.setup is not None:
                service.setup(app, settings)
    return app
