"""The datasets service, as the registry mounts it: routes, CLI, and its error handler."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from skyferry.config import Settings
from skyferry.problems import problem_response
from skyferry.registry import Service
from skyferry.services.datasets.cli import app as cli
from skyferry.services.datasets.errors import DatasetsError


def _router(settings: Settings) -> APIRouter:
    from skyferry.services.datasets.api import build_router

    return build_router(settings)


def _setup(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(DatasetsError)
    async def _datasets_error(request: Request, exc: DatasetsError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.message,
            title=exc.title,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )


service = Service(name="datasets", router=_router, cli=cli, setup=_setup, tags=["datasets"])
