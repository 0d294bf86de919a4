"""skyferry's own app (``create_app``) and the way into a team's own (``install``).

Both do the same to a FastAPI app: the ``/jobs`` routes, ``/health`` and ``/ready``, the
problem+json handlers, API keys on every data route, the enabled services' routes, and a
lifespan that opens the platform (database, blob store, service resources) and the job engine
around the app's own lifespan. Nothing is shared at import time; a second app started in the
same process fails with a clear message, because DBOS keeps one engine per process.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from skyferry import __version__, service
from skyferry.config import ConfigurationError, Settings, attach_services, load_settings
from skyferry.errors import RETRY_AFTER_SECONDS
from skyferry.http.middleware import EdgeMiddleware
from skyferry.http.problems import document_errors, install_problem_handlers, problem_response
from skyferry.http.security import ApiKeyGuard
from skyferry.jobs import api as jobs_api
from skyferry.jobs.current import claim_engine
from skyferry.jobs.deferred import DeferredJobs
from skyferry.logs import configure_logging
from skyferry.platform import Platform, open_platform
from skyferry.service import Service
from skyferry.storage.errors import StorageError, StorageFullError, StorageReadOnlyError

if TYPE_CHECKING:
    from skyferry.jobs.engine import JobEngine


@dataclass(frozen=True)
class Setup:
    """What an app runs with: its settings, the services it loads, whether it runs jobs."""

    settings: Settings
    services: Sequence[Service[Any]]
    run_workers: bool


def load_setup(
    settings: Settings | None = None,
    *,
    default_services: Sequence[str] | None,
    run_workers: bool | None = None,
) -> Setup:
    """Settings and services from the environment. ``default_services`` apply when
    ``SKYFERRY_SERVICES`` is unset (None: every installed service)."""
    settings = settings or load_settings()
    names = settings.services
    if names is None:
        names = list(service.installed()) if default_services is None else list(default_services)
    services = service.load(names)
    attach_services(settings, services)
    workers = settings.workers if run_workers is None else run_workers
    return Setup(settings=settings, services=services, run_workers=workers)


@asynccontextmanager
async def running(setup: Setup) -> AsyncIterator[tuple[Platform, JobEngine | DeferredJobs]]:
    """Open the platform and start the job engine; stop both on the way out.

    With ``SKYFERRY_DEFER_CONNECTIONS`` a process that runs no jobs launches its engine on the
    first job command instead (``DeferredJobs``). The engine stops on a thread, so running jobs
    can finish on this loop while it waits.
    """
    configure_logging(setup.settings)
    async with open_platform(setup.settings, setup.services) as platform:
        engine: JobEngine | DeferredJobs
        if setup.settings.defer_connections and not setup.run_workers:
            engine = DeferredJobs(platform)
            claim_engine(engine)
        else:
            from skyferry.jobs.engine import JobEngine

            engine = JobEngine(platform, run_workers=setup.run_workers)
            await engine.start()
        try:
            yield platform, engine
        finally:
            await asyncio.to_thread(engine.stop)


def install(
    app: FastAPI,
    settings: Settings | None = None,
    *,
    run_workers: bool | None = None,
    services: Sequence[str] = (),
) -> FastAPI:
    """Give a team's own FastAPI app durable jobs: ``/jobs`` routes, ``/health``, ``/ready``,
    problem+json errors, API keys, and a lifespan that starts the job engine (before the app's
    own lifespan, so its start-up code may submit jobs).

    ``services`` are the skyferry services to mount beside the app's routes when
    ``SKYFERRY_SERVICES`` is unset (default: none).
    """
    setup = load_setup(settings, default_services=services, run_workers=run_workers)
    _prepare(app, setup)
    return app


def create_app(
    settings: Settings | None = None,
    *,
    run_workers: bool | None = None,
    bodies_capped_at: int | None = None,
) -> FastAPI:
    """skyferry's own app: every installed service unless ``SKYFERRY_SERVICES`` says which.

    ``bodies_capped_at``: what the server in front already refuses bodies above (Lambda: its
    invocation limit). When the app-wide limit (``SKYFERRY_MAX_BODY_BYTES``) is no lower, the
    app leaves it out: it could never answer, and its layers cost every request a tenth of a
    small one's time. Routes' own limits (uploads) stay.
    """
    setup = load_setup(settings, default_services=None, run_workers=run_workers)
    limit = setup.settings.max_body_bytes
    app = FastAPI(
        title="skyferry",
        version=__version__,
        summary="Web services and durable jobs, unchanged on a laptop, containers or Lambda.",
        max_body_size=None if bodies_capped_at is not None and bodies_capped_at <= limit else limit,
    )
    _prepare(app, setup)
    return app


def import_app(path: str) -> FastAPI:
    """A team's own app from ``module:attribute``, imported from the current directory as
    uvicorn does; its module calls ``skyferry.install``, which reads the settings then.

    ``ConfigurationError`` when the path is malformed, the module's settings are invalid, or
    the attribute is not a FastAPI app with skyferry installed.
    """
    import importlib

    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(f"expected module:attribute (e.g. app:app), got {path!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    module = importlib.import_module(module_name)
    found = getattr(module, attribute, None)
    if not isinstance(found, FastAPI):
        raise ConfigurationError(f"{path} is not a FastAPI app")
    if not isinstance(getattr(found.state, "skyferry_setup", None), Setup):
        raise ConfigurationError(f"{path} has no skyferry: call skyferry.install(app) on it")
    return found


def setup_of(app: FastAPI) -> Setup:
    """The setup ``install`` or ``create_app`` gave this app (for ``skyferry worker app:app``)."""
    found = getattr(app.state, "skyferry_setup", None)
    if not isinstance(found, Setup):
        raise TypeError("this FastAPI app has no skyferry: call skyferry.install(app) on it")
    return found


def _prepare(app: FastAPI, setup: Setup) -> None:
    if getattr(app.state, "skyferry_setup", None) is not None:
        raise RuntimeError("skyferry is already installed on this app")
    app.state.skyferry_setup = setup
    settings = setup.settings
    # now, not in the lifespan: the server's first lines (uvicorn's "Started server process")
    # come before the lifespan runs, and must be JSON too
    configure_logging(settings)
    _wrap_lifespan(app, setup)
    _wrap_middleware(app)
    install_problem_handlers(app)
    document_errors(app, api_keys=bool(settings.api_keys))
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
    if settings.api_keys:
        app.add_middleware(
            ApiKeyGuard,
            keys=settings.api_keys,
            guard_docs=settings.api_keys_guard_docs,
            pages=[prefix for loaded in setup.services for prefix in loaded.pages],
        )
    _add_operations_routes(app)
    add_routes(app, jobs_api.router)
    for loaded in setup.services:
        if loaded.router is not None:
            add_routes(app, loaded.router(settings))


def _wrap_lifespan(app: FastAPI, setup: Setup) -> None:
    own_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with running(setup) as (platform, engine):
            app.state.skyferry = platform
            app.state.jobs = engine
            own: AbstractAsyncContextManager[Any] = own_lifespan(app)
            async with own as state:
                yield state

    app.router.lifespan_context = lifespan


def _wrap_middleware(app: FastAPI) -> None:
    """Put the edge layer (request ids, problem+json 413s) outside the whole middleware stack."""
    build = app.build_middleware_stack

    def build_with_edge() -> ASGIApp:
        return EdgeMiddleware(build())

    app.build_middleware_stack = build_with_edge  # type: ignore[method-assign]


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put a router's routes on the app itself.

    ``include_router`` would keep the router as one nested route that FastAPI searches route by
    route, twice per request, for every included router in turn: with every service enabled
    that was about a third of the time an item read took. A route is complete once declared
    (its path prefix, tags, dependencies and body limit are fixed then), so copying it serves
    the same requests and documents the same OpenAPI. A router's own lifespan is not run:
    what a service opens per process is a ``Resource``.
    """
    app.router.routes.extend(router.routes)


def _add_operations_routes(app: FastAPI) -> None:
    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["operations"], summary="Readiness: database and blob store reachable")
    async def ready() -> JSONResponse:
        platform: Platform = app.state.skyferry
        down: dict[str, str] = {}
        states: dict[str, str] = {}
        from skyferry.storage.sql import check_database

        try:
            await asyncio.to_thread(check_database, platform.database)
        except StorageError as exc:
            down["database"] = str(exc)
            states["database"] = "unreachable"
        try:
            await platform.blobs.check()
        except StorageError as exc:
            down["blobs"] = str(exc)
            states["blobs"] = _blob_state(exc)
        if down:
            return problem_response(
                503,
                "not ready: " + ", ".join(f"{name} {states[name]}" for name in sorted(down)),
                title="Service Unavailable",
                instance="/ready",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                checks=down,
            )
        return JSONResponse({"status": "ready", "checks": {"database": "ok", "blobs": "ok"}})


def _blob_state(error: StorageError) -> str:
    if isinstance(error, StorageFullError):
        return "full"
    if isinstance(error, StorageReadOnlyError):
        return "read-only"
    return "unreachable"


@asynccontextmanager
async def standalone(*service_names: str) -> AsyncIterator[Platform]:
    """The platform for a service's CLI command: settings from the environment, only these
    services loaded, the schema migrated, no job engine."""
    settings = load_settings()
    services = service.load(service_names)
    attach_services(settings, services)
    configure_logging(settings)
    async with open_platform(settings, services, migrate=True) as platform:
        yield platform
