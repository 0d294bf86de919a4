"""What every tours job and route of a process shares, opened once per process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import skyferry
from skyferry.services.tours.database import migrate, open_own_database
from skyferry.services.tours.providers import (
    FilterProvider,
    PlacesProvider,
    open_filter,
    open_places,
)
from skyferry.services.tours.routing import GreatCircleRouting, RoutingProvider
from skyferry.services.tours.settings import ToursSettings
from skyferry.services.tours.store import CityStore


@dataclass(frozen=True)
class Tours:
    settings: ToursSettings
    store: CityStore
    places: PlacesProvider
    filter: FilterProvider
    routing: RoutingProvider


@asynccontextmanager
async def _open(platform: skyferry.Platform) -> AsyncIterator[Tours]:
    settings = platform.settings.of(ToursSettings)
    own = open_own_database(platform.settings, settings)
    try:
        if own is not None:
            await asyncio.to_thread(migrate, own)
        async with open_places(settings) as places, open_filter(settings) as ranker:
            yield Tours(
                settings=settings,
                store=CityStore(own if own is not None else platform.database),
                places=places,
                filter=ranker,
                routing=GreatCircleRouting(
                    speed_kmh=settings.walking_speed_kmh, detour_factor=settings.detour_factor
                ),
            )
    finally:
        if own is not None:
            own.dispose()


tours = skyferry.Resource("tours", _open)
