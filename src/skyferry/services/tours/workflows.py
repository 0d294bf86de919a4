"""Generating a city as a durable job: one checkpointed step per stage of the pipeline.

city info → attractions → filter and rank → optimise → save. Each step's result is its
checkpoint, so a worker killed in any stage resumes at that stage on any worker, and no
finished stage calls its provider again. Provider steps do not retry themselves: the providers
retry what is worth retrying (429, 5xx, timeouts, malformed model output), and an unknown place
fails at once. The save step is the commit point: a city that exists is complete.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import skyferry
from skyferry.services.tours.errors import NoAttractionsError, StartTooFarError
from skyferry.services.tours.models import (
    Attraction,
    City,
    GenerateCity,
    GenerateResult,
    LatLng,
    Plan,
    Ranked,
)
from skyferry.services.tours.planning import plan as make_plan
from skyferry.services.tours.resources import tours
from skyferry.services.tours.routing import great_circle_metres

log = logging.getLogger(__name__)

KIND = "tours.generate"
TIMEOUT_SECONDS = 6 * 3600.0
"""The original pipeline ran up to ~30 minutes; a slow provider still finishes, a stuck job
does not run forever."""
STAGES = 5
MAX_START_KM = 50.0

_NO_RETRY = skyferry.Retry(attempts=1)
_BOOKKEEPING = skyferry.Retry(attempts=3)


@skyferry.job(KIND, params=GenerateCity, timeout_seconds=TIMEOUT_SECONDS)
async def generate_city(ctx: skyferry.JobContext, request: GenerateCity) -> dict[str, Any]:
    """Make walking tours of a city; the result is ``{"success", "city_id", "tours"}``."""
    await ctx.progress(0, STAGES, "city info")
    city = City.model_validate(await city_info(request))
    await ctx.progress(1, STAGES, f"attractions around {city.name}")
    found = await find_attractions(request, city.model_dump(mode="json"))
    await ctx.progress(2, STAGES, f"ranking {len(found['attractions'])} attractions")
    ranked = await rank_attractions(request, city.model_dump(mode="json"), found["attractions"])
    await ctx.progress(
        3, STAGES, f"optimising {request.max_tours} tours over {len(ranked)} attractions"
    )
    plan = await optimise_tours(request, found["start"], ranked)
    await ctx.progress(4, STAGES, "saving")
    await save_city(ctx.id, request, city.model_dump(mode="json"), plan)
    await ctx.progress(STAGES, STAGES, "done")
    return GenerateResult(city_id=ctx.id, tours=len(plan["tours"])).model_dump()


# -- steps ---------------------------------------------------------------------------------------


@skyferry.step(name="city-info", retry=_NO_RETRY)
async def city_info(request: GenerateCity) -> dict[str, Any]:
    """Place Details of the city: its name, address and centre."""
    city = await tours.get().places.city(request.place_id, request.language)
    return city.model_dump(mode="json")


@skyferry.step(name="attractions", retry=_NO_RETRY)
async def find_attractions(request: GenerateCity, city_json: dict[str, Any]) -> dict[str, Any]:
    """The city's attractions, each once, and where the tours start."""
    deps = tours.get()
    city = City.model_validate(city_json)
    attractions = await deps.places.attractions(city, request.language)
    if not attractions:
        raise NoAttractionsError(city.name)
    start = await _start(request, city, attractions)
    return {
        "attractions": [a.model_dump(mode="json") for a in attractions],
        "start": start.model_dump(mode="json"),
    }


@skyferry.step(name="rank", retry=_NO_RETRY)
async def rank_attractions(
    request: GenerateCity, city_json: dict[str, Any], attractions_json: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The filter's choice, best first: at most ``max_attractions``, each scored and timed."""
    deps = tours.get()
    keep = request.max_attractions or deps.settings.default_max_attractions
    ranked = await deps.filter.rank(
        City.model_validate(city_json),
        [Attraction.model_validate(a) for a in attractions_json],
        keep=keep,
        language=request.language,
    )
    if not ranked:
        raise NoAttractionsError(city_json["name"])
    return [r.model_dump(mode="json") for r in ranked]


@skyferry.step(name="optimise", retry=_NO_RETRY)
async def optimise_tours(
    request: GenerateCity, start_json: dict[str, Any], ranked_json: list[dict[str, Any]]
) -> dict[str, Any]:
    """K tours from the start, each within its budget, found by PyVRP in a worker thread."""
    deps = tours.get()
    settings = deps.settings
    start = LatLng.model_validate(start_json)
    ranked = [Ranked.model_validate(r) for r in ranked_json]
    matrix = await deps.routing.matrix([start, *(r.attraction.location for r in ranked)])
    plan = await asyncio.to_thread(
        make_plan,
        start,
        ranked,
        matrix,
        tours=request.max_tours,
        budget_minutes=request.minutes_per_tour,
        seed=settings.solver_seed,
        iterations=settings.solver_iterations,
        max_seconds=settings.solver_max_seconds,
    )
    return plan.model_dump(mode="json")


@skyferry.step(name="save", retry=_BOOKKEEPING)
async def save_city(
    city_id: str, request: GenerateCity, city_json: dict[str, Any], plan_json: dict[str, Any]
) -> None:
    """Write the city, its tours and their stops in one transaction (again, after a crash)."""
    await tours.get().store.save(
        city_id, request, City.model_validate(city_json), Plan.model_validate(plan_json)
    )
    log.info(
        "city %s saved: %d tours", city_id, len(plan_json["tours"]), extra={"city_id": city_id}
    )


# -- helpers -------------------------------------------------------------------------------------


async def _start(request: GenerateCity, city: City, attractions: list[Attraction]) -> LatLng:
    """The request's start: the city centre, a point, or a place (one of the attractions
    costs no call); refused when it is too far from the city for a walk."""
    start = request.start
    if start is None:
        return city.location
    if isinstance(start, LatLng):
        point = start
    else:
        known = {a.place_id: a.location for a in attractions}
        point = (
            known.get(start) or (await tours.get().places.city(start, request.language)).location
        )
    kilometres = great_circle_metres(point, city.location) / 1000
    if kilometres > MAX_START_KM:
        raise StartTooFarError(kilometres, MAX_START_KM)
    return point
