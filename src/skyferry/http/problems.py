"""RFC 9457 problem details: every error leaves the API as ``application/problem+json``.

One mapping, installed once per app: the root ``SkyferryError`` (each subclass knows its
status), request validation (422), Starlette's own 404/405 (405 with every method of the path
in ``Allow``), a database that cannot be reached (503 + ``Retry-After``), and anything else
(500, logged with its trace, never shown). ``document_errors`` makes the OpenAPI document list
the problem responses each route can give.

400 or 422: a request whose parameters or body do not match the documented schema (types,
ranges, patterns, required fields) is answered 422 by validation; a value that matches the
schema but that the service cannot use (a cursor it never issued, a filter on a column the
dataset lacks, a file name that leaves its folder), or a message that is not well formed, is
a 400.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from skyferry.errors import RETRY_AFTER_SECONDS, DatabaseUnavailable, SkyferryError, status_title
from skyferry.http.bodies import ONE_OR_MANY_TAGS

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# what any route may answer: a malformed request, missing or wrong API key, an unknown id, a
# body over the limit, invalid parameters, a rate limit, a bug, a backend down
COMMON_ERRORS = (400, 401, 404, 413, 422, 429, 500, 503)

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; services add members of their own.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "default": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}


def problem_body(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or status_title(status),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = problem_body(status, detail, title=title, instance=instance, **extensions)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def error_response(request: Request, exc: SkyferryError) -> JSONResponse:
    headers = dict(exc.headers or {})
    if exc.problem_status == 503:
        # whatever is down, the client should come back rather than give up
        headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return problem_response(
        exc.problem_status,
        exc.detail,
        title=exc.problem_title,
        instance=request.url.path,
        headers=headers or None,
        **exc.extensions,
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(SkyferryError)
    async def _skyferry(request: Request, exc: SkyferryError) -> JSONResponse:
        if exc.problem_status >= 500:
            log.warning("answered %d: %s", exc.problem_status, exc.detail)
        return error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.method} {request.url.path}"
        elif exc.status_code == 405:
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: " + (
                ", ".join(allowed)
            )
        return problem_response(
            exc.status_code, detail, instance=request.url.path, headers=headers or None
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": _body_loc(error.get("loc", ())),
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        unavailable = _database_unavailable(request, exc)
        if unavailable is not None:
            return unavailable
        # the trace goes to the log, never to the client
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            500, "the server hit an unexpected error; it has been logged", instance=request.url.path
        )


_DRIVERS = ("sqlalchemy", "psycopg")


def _is_database_error(exc: Exception) -> bool:
    """Whether SQLAlchemy or psycopg raised ``exc``, told by the class's module: registering
    handlers for their classes would import both in every process at start-up (a fifth of a
    second of a Lambda cold start), and an error of theirs can only be raised once imported."""
    return type(exc).__module__.partition(".")[0] in _DRIVERS


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse | None:
    """Any route, any service: a database that is down or stuck is a 503, not a 500 (None:
    ``exc`` is something else).

    Answered from the last-resort handler, which Starlette calls outside the app's middleware,
    so the 503 carries no CORS headers (as the 500 does not).
    """
    if not _is_database_error(exc):
        return None
    from skyferry.storage.sql import database_cause, is_database_unreachable, is_statement_timeout

    if not (is_database_unreachable(exc) or is_statement_timeout(exc)):
        return None
    log.warning(
        "database unavailable: %s",
        type(database_cause(exc)).__name__,
        extra={"path": request.url.path},
    )
    return error_response(
        request,
        DatabaseUnavailable("the database is unreachable or too slow right now; try again shortly"),
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path answers: FastAPI makes a route per method set,
    and Starlette's own 405 names only the first route whose path matched."""
    allowed: set[str] = set()
    scope = dict(request.scope)
    for route in request.app.router.routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            allowed.update(getattr(route, "methods", None) or ())
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed)


def _body_loc(loc: Iterable[Any]) -> list[Any]:
    """An error's location, without the member tag a ``one_or_many`` body puts after ``body``."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "body" and parts[1] in ONE_OR_MANY_TAGS:
        del parts[1]
    return parts


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers these problems beyond the common ones."""
    return {status: _problem_response(status) for status in statuses}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-API-Key",
    "description": "Required on every route but /health and /ready when the server sets "
    "SKYFERRY_API_KEYS.",
}
_OPEN_PATHS = ("/health", "/ready")


def document_errors(
    app: FastAPI, *, api_keys: bool = False, common: Iterable[int] = COMMON_ERRORS
) -> None:
    """Make ``/openapi.json`` list, for every operation, the problem responses it can give,
    and (with API keys set) the key every operation but the open ones needs."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                # FastAPI's own 422 names its HTTPValidationError; ours answer problem+json
                responses.pop("422", None)
                for status in common:
                    responses.setdefault(str(status), _problem_response(status))
                for status, response in responses.items():
                    if status.startswith(("4", "5")) and "content" not in response:
                        response.update(_problem_response(int(status)))
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        if api_keys:
            schema["components"].setdefault("securitySchemes", {})["APIKeyHeader"] = API_KEY_SCHEME
            schema["security"] = [{"APIKeyHeader": []}]
            for open_path in _OPEN_PATHS:
                for operation in schema.get("paths", {}).get(open_path, {}).values():
                    operation["security"] = []
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
