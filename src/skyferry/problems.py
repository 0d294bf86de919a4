"""RFC 9457 problem details: every error leaves the API as ``application/problem+json``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from skyferry.storage.sql import is_database_unreachable, is_statement_timeout

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

DATABASE_RETRY_AFTER_SECONDS = 5
"""What a 503 for an unreachable database asks clients to wait: long enough not to hammer a
database coming back up, short enough that most outages (a failover, a restart) cost one try."""


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers
        self.extensions = extensions


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def database_unavailable(detail: str, **extensions: Any) -> Problem:
    """503 with Retry-After: the database is unreachable or too slow now, not the request wrong."""
    return Problem(
        503,
        detail,
        title="Database unavailable",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        **extensions,
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            title=exc.title,
            type_=exc.type,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.method} {request.url.path}"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(
            exc.status_code,
            detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(error.get("loc", ())),
                "msg": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        summary = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in errors[:5]
        )
        return problem_response(
            422,
            f"the request is not valid: {summary}",
            title="Invalid request",
            instance=request.url.path,
            errors=errors,
        )

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # any route, any service: a database that is down or stuck is a 503, not a 500
        if not (is_database_unreachable(exc) or is_statement_timeout(exc)):
            return await _unexpected(request, exc)
        cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
        log.warning(
            "database unavailable: %s",
            type(cause).__name__,
            extra={"path": request.url.path},
        )
        return await _problem(
            request,
            database_unavailable(
                "the database is unreachable or too slow right now; try again shortly"
            ),
        )

    app.add_exception_handler(sa.exc.SQLAlchemyError, _database)
    app.add_exception_handler(psycopg.Error, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the trace goes to the log, never to the client
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            500, "the server hit an unexpected error; it has been logged", instance=request.url.path
        )
