"""HTTP routes for tours.

``POST /api/generate-city`` keeps the original service's path and body, but answers at once
(202, ``Location: /jobs/{id}``) instead of holding the request for up to 30 minutes behind a
load balancer's idle timeout. A client that cannot poll sends ``Prefer: wait=N`` (RFC 7240)
and gets the original answer, ``{"success": true, "city_id", "tours"}``, if the job finishes
within N seconds (at most ``MAX_WAIT_SECONDS``), with ``Preference-Applied: wait=N``.

A city's id is the id of the job that made it, so ``GET /jobs/{id}`` shows its progress
until ``GET /cities/{id}`` has it.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import JSONResponse

import skyferry
from skyferry.http.problems import errors
from skyferry.services.tours import formats
from skyferry.services.tours.errors import CityNotFoundError, TourNotFoundError
from skyferry.services.tours.models import (
    CityPage,
    CitySummary,
    CityView,
    GenerateCity,
    GenerateResult,
    Tour,
)
from skyferry.services.tours.resources import Tours, tours
from skyferry.services.tours.store import CityRow
from skyferry.services.tours.workflows import generate_city

router = APIRouter(tags=["tours"])

MAX_WAIT_SECONDS = 25
"""Below the 30 s after which Heroku's router, and well below the 60 s after which an AWS
load balancer, gives up on a response."""

CityId = Annotated[str, Path(max_length=100, description="The city_id a job's result names.")]
TourNumber = Annotated[int, Path(ge=1, le=10, description="1 for the city's best tour.")]
Deps = Annotated[Tours, Depends(tours)]
Prefer = Annotated[
    str | None,
    Header(
        max_length=1000,
        description="RFC 7240; wait=N answers with the result if it is ready within N seconds "
        f"(at most {MAX_WAIT_SECONDS}).",
    ),
]
_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d{1,6})\"?", re.IGNORECASE)


@router.post(
    "/api/generate-city",
    status_code=202,
    response_model=skyferry.Job,
    summary="Make walking tours of a city; poll Location until the job succeeds",
    responses={
        200: {
            "description": "The job's result (Prefer: wait=N and it finished in time), or an "
            "Idempotency-Key repeat's job.",
        }
    },
)
async def generate(
    params: GenerateCity, idempotency_key: skyferry.IdempotencyKey = None, prefer: Prefer = None
) -> JSONResponse:
    submission = await generate_city.submit(params, idempotency_key)
    wait = _wait_seconds(prefer)
    if wait is None:
        return skyferry.accepted(submission)
    job = await _await_final(submission.job.id, wait)
    applied = {"Preference-Applied": f"wait={wait}"}
    if job.status is skyferry.JobStatus.SUCCEEDED:
        result = GenerateResult.model_validate(await generate_city.result(job.id))
        return JSONResponse(
            result.model_dump(),
            headers={**applied, "Content-Location": f"/cities/{result.city_id}"},
        )
    if job.status.is_final:
        error = job.error.model_dump(mode="json") if job.error else None
        body = {"success": False, "city_id": None, "status": job.status.value, "error": error}
        return JSONResponse(body, headers={**applied, "Location": f"/jobs/{job.id}"})
    response = skyferry.accepted(submission._replace(job=job))
    response.headers.update(applied)
    return response


@router.get("/cities", response_model=CityPage, summary="Cities with tours, newest first")
async def list_cities(
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> CityPage:
    rows, next_cursor = await deps.store.page(limit, cursor)
    return CityPage(items=[_summary(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/cities/{city_id}",
    response_model=CityView,
    summary="A city and its tours: ordered stops, visit times, walks, totals",
    responses=errors(404),
)
async def get_city(deps: Deps, city_id: CityId) -> CityView:
    row = await _row(deps, city_id)
    return CityView(
        **_summary(row).model_dump(),
        start=row.start,
        budget_minutes=row.budget_minutes,
        request=row.request,
        tours=await deps.store.tours_of(city_id),
        unvisited=row.unvisited,
    )


@router.get(
    "/cities/{city_id}/tours/{number}.geojson",
    summary="A tour as GeoJSON: a LineString and a Point per stop",
    response_class=Response,
    responses={200: {"content": {formats.GEOJSON_MEDIA_TYPE: {}}}, **errors(404)},
)
async def tour_geojson(deps: Deps, city_id: CityId, number: TourNumber) -> Response:
    row, tour = await _tour(deps, city_id, number)
    body = formats.geojson(row.name, row.start, tour)
    return JSONResponse(body, media_type=formats.GEOJSON_MEDIA_TYPE)


@router.get(
    "/cities/{city_id}/tours/{number}.gpx",
    summary="A tour as GPX 1.1: a waypoint per stop and a route through them",
    response_class=Response,
    responses={200: {"content": {formats.GPX_MEDIA_TYPE: {}}}, **errors(404)},
)
async def tour_gpx(deps: Deps, city_id: CityId, number: TourNumber) -> Response:
    row, tour = await _tour(deps, city_id, number)
    return Response(
        formats.gpx(row.name, row.start, tour),
        media_type=formats.GPX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="tour-{number}.gpx"'},
    )


@router.delete(
    "/cities/{city_id}",
    status_code=204,
    summary="Delete a city, its tours and the job that made it (204), or cancel that job "
    "while it runs (200)",
    responses={200: {"model": skyferry.Job, "description": "The job, cancelled."}, **errors(404)},
)
async def delete_city(deps: Deps, city_id: CityId) -> Response:
    job = await _job_or_none(city_id)
    if job is not None and not job.status.is_final:
        cancelled = await generate_city.cancel(city_id)
        return JSONResponse(cancelled.model_dump(mode="json"))
    deleted = await deps.store.delete(city_id)
    if job is not None:
        await generate_city.delete(city_id)  # its record and its idempotency key go too
    if not deleted and job is None:
        raise CityNotFoundError(city_id)
    return Response(status_code=204)


# -- helpers -------------------------------------------------------------------------------------


def _wait_seconds(prefer: str | None) -> int | None:
    if not prefer:
        return None
    match = _WAIT.search(prefer)
    return min(int(match.group(1)), MAX_WAIT_SECONDS) if match else None


async def _await_final(job_id: str, seconds: int) -> skyferry.Job:
    """The job once final, or as it is after ``seconds``; polls every 50 ms growing to 0.5 s."""
    deadline = time.monotonic() + seconds
    pause = 0.05
    while True:
        job = await generate_city.get(job_id)
        left = deadline - time.monotonic()
        if job.status.is_final or left <= 0:
            return job
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 1.5, 0.5)


async def _job_or_none(job_id: str) -> skyferry.Job | None:
    try:
        return await generate_city.get(job_id)
    except skyferry.SkyferryError as exc:
        if exc.problem_status == 404:
            return None
        raise


async def _row(deps: Tours, city_id: str) -> CityRow:
    row = await deps.store.get(city_id)
    if row is None:
        raise CityNotFoundError(city_id)
    return row


async def _tour(deps: Tours, city_id: str, number: int) -> tuple[CityRow, Tour]:
    row = await _row(deps, city_id)
    for tour in await deps.store.tours_of(city_id):
        if tour.number == number:
            return row, tour
    raise TourNotFoundError(city_id, number)


def _summary(row: CityRow) -> CitySummary:
    links: dict[str, Any] = {"self": f"/cities/{row.id}", "job": f"/jobs/{row.id}"}
    for n in range(1, row.tour_count + 1):
        links[f"tour_{n}_geojson"] = f"/cities/{row.id}/tours/{n}.geojson"
        links[f"tour_{n}_gpx"] = f"/cities/{row.id}/tours/{n}.gpx"
    return CitySummary(
        id=row.id,
        place_id=row.place_id,
        name=row.name,
        address=row.address,
        location=row.location,
        tour_count=row.tour_count,
        created_at=row.created_at,
        links=links,
    )
