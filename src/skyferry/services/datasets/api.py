"""HTTP routes: the catalog (``/datasets``) and streamed downloads (``/{dataset}.{ext}``).

The download route sits at the root, as the original Lambda's did, and is mounted after every
other router; FastAPI's own ``/openapi.json`` is registered before any router, so it still wins.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from skyferry.config import Settings
from skyferry.platform import Platform
from skyferry.resources import Resource
from skyferry.services.datasets.caching import cache_control, download_etag, not_modified
from skyferry.services.datasets.catalog import Catalog
from skyferry.services.datasets.discovery import discover, discover_all
from skyferry.services.datasets.downloads import Downloads
from skyferry.services.datasets.errors import DatasetNotFoundError, InvalidQueryError
from skyferry.services.datasets.formats import FORMATS, Format
from skyferry.services.datasets.models import (
    Dataset,
    DatasetDetail,
    DatasetList,
    DatasetSummary,
    name_problem,
)
from skyferry.services.datasets.query import MAX_PAGE, parse_query
from skyferry.services.datasets.ratelimit import RateLimit
from skyferry.services.datasets.settings import DatasetsSettings
from skyferry.services.datasets.sources import local_root

_FILTERS_HELP = (
    "GET /{name}.{csv|json|ndjson|parquet}: ?column=value filters on any column (repeat a column "
    "for IN), fields=a,b picks columns, limit=N and offset=N page; rows keep the stored order."
)

_DOWNLOAD_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "organisation-entity",
        "in": "query",
        "required": False,
        "description": "Rows of these organisations (repeat for several). Any column of the "
        "dataset filters the same way: ?column=value.",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
    {
        "name": "fields",
        "in": "query",
        "required": False,
        "description": "Columns to return, comma-separated, in this order.",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "At most this many rows.",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE},
    },
    {
        "name": "offset",
        "in": "query",
        "required": False,
        "description": "Skip this many rows first.",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE},
    },
]

_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows, streamed; CSV has a header row, JSON is one array.",
        "content": {fmt.media_type: {} for fmt in FORMATS.values()},
    },
    400: {"description": "Unknown format or column, or a value the column's type cannot hold."},
    404: {"description": "No dataset of that name."},
    429: {"description": "Rate limit reached; see Retry-After."},
    304: {"description": "If-None-Match names the download's current ETag: nothing changed."},
    503: {
        "description": "The server's download memory stayed full for the whole wait, or the "
        "dataset's file is unreadable."
    },
}


@asynccontextmanager
async def _open_downloads(platform: Platform) -> AsyncIterator[Downloads]:
    """One DuckDB and one download budget per process, whatever the number of requests."""
    downloads = Downloads(platform.settings.of(DatasetsSettings))
    downloads.open(local_root(platform.blobs))
    try:
        yield downloads
    finally:
        downloads.close()


downloads_resource = Resource("datasets.downloads", _open_downloads)


def build_router(settings: Settings) -> APIRouter:
    """The datasets routes for one app, with its rate limiter."""
    limit = RateLimit(settings.of(DatasetsSettings).rate_limit_per_minute, scope="datasets")
    caching = cache_control(
        settings.of(DatasetsSettings).cache_seconds, guarded=bool(settings.api_keys)
    )
    router = APIRouter(tags=["datasets"], dependencies=[Depends(limit)])

    @router.get("/datasets", summary="The catalog: every dataset, with its download links")
    async def list_datasets(request: Request) -> DatasetList:
        datasets = await asyncio.to_thread(_catalog(request).entries)
        known = {dataset.name: dataset for dataset in datasets}
        for found in await discover_all(_platform(request), known):
            known[found.name] = found
        return DatasetList(items=[_summary(known[name]) for name in sorted(known)])

    @router.get("/datasets/{name}", summary="One dataset: its columns, types and statistics")
    async def describe_dataset(name: str, request: Request) -> DatasetDetail:
        dataset = await _find(request, name)
        return DatasetDetail(
            **_summary(dataset).model_dump(),
            columns=dataset.columns,
            sorted_by=dataset.sorted_by,
            filters=_FILTERS_HELP.replace("{name}", dataset.name),
        )

    @router.get(
        "/{dataset}.{extension}",
        summary="Download a dataset, filtered, streamed as CSV, JSON, NDJSON or Parquet",
        description=_FILTERS_HELP,
        response_class=Response,
        responses=_DOWNLOAD_RESPONSES,
        openapi_extra={"parameters": _DOWNLOAD_PARAMETERS},
    )
    async def download(dataset: str, extension: str, request: Request) -> Response:
        found, fmt, headers = await _prepare(request, dataset, extension, caching)
        query = parse_query(
            found,
            request.query_params.multi_items(),
            max_values=settings.of(DatasetsSettings).max_filter_values,
        )
        if not_modified(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=_validators(headers))
        platform = _platform(request)
        downloads = platform.resource(downloads_resource)
        return await downloads.stream(platform.blobs, found, fmt, query, headers)

    @router.head(
        "/{dataset}.{extension}",
        summary="A download's headers, after the same checks, without running its query",
        response_class=Response,
        responses=_DOWNLOAD_RESPONSES,
        openapi_extra={"parameters": _DOWNLOAD_PARAMETERS},
    )
    async def download_head(dataset: str, extension: str, request: Request) -> Response:
        found, fmt, headers = await _prepare(request, dataset, extension, caching)
        parse_query(
            found,
            request.query_params.multi_items(),
            max_values=settings.of(DatasetsSettings).max_filter_values,
        )
        if not_modified(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=_validators(headers))
        response = Response(media_type=fmt.media_type, headers=headers)
        # the body's length is unknown until it is made; an empty HEAD body is not "0 bytes"
        del response.headers["content-length"]
        return response

    return router


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.skyferry
    return platform


def _catalog(request: Request) -> Catalog:
    return Catalog(_platform(request).database)


async def _find(request: Request, name: str) -> Dataset:
    catalog = _catalog(request)
    dataset = None if name_problem(name) else await asyncio.to_thread(catalog.get, name)
    if dataset is None:
        dataset = await discover(_platform(request), name)
    if dataset is None:
        raise DatasetNotFoundError(name, await asyncio.to_thread(catalog.names))
    return dataset


async def _prepare(
    request: Request, name: str, extension: str, caching: str
) -> tuple[Dataset, Format, dict[str, str]]:
    # the dataset first, so that /favicon.ico and other strays are 404s, not format errors
    dataset = await _find(request, name)
    fmt = FORMATS.get(extension)
    if fmt is None:
        raise InvalidQueryError(
            f"unknown format {extension[:20]!r}; choose one of: {', '.join(FORMATS)}",
            valid_formats=list(FORMATS),
        )
    headers = {
        "Content-Disposition": f'attachment; filename="{dataset.name}.{fmt.extension}"',
        "ETag": download_etag(dataset, fmt.extension, request.query_params.multi_items()),
        "Cache-Control": caching,
    }
    return dataset, fmt, headers


def _validators(headers: dict[str, str]) -> dict[str, str]:
    """What a 304 repeats of the download it stands for (RFC 9110 §15.4.5)."""
    return {"ETag": headers["ETag"], "Cache-Control": headers["Cache-Control"]}


def _summary(dataset: Dataset) -> DatasetSummary:
    return DatasetSummary(
        name=dataset.name,
        description=dataset.description,
        row_count=dataset.row_count,
        size_bytes=dataset.size_bytes,
        updated_at=dataset.updated_at,
        downloads={ext: f"/{dataset.name}.{ext}" for ext in FORMATS},
    )
