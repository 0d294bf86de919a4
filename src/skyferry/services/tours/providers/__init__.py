"""Providers: where places come from and who ranks them, chosen by ``settings.tours``.

``offline`` (the default for both) needs no network or key. ``google`` calls the Places API
(New); ``openai`` and ``perplexity`` ask a model to rank. Each is an async context manager, so
a provider with a connection pool closes it; real clients are imported only when chosen.
"""

from __future__ import annotations

from typing import Protocol

from skyferry.services.tours.models import Attraction, City, Ranked
from skyferry.services.tours.settings import ToursSettings


class PlacesProvider(Protocol):
    name: str

    async def city(self, place_id: str, language: str | None) -> City:
        """The place's name, address and centre; ``PlaceNotFoundError`` for an unknown id."""
        ...

    async def attractions(self, city: City, language: str | None) -> list[Attraction]:
        """Tourist attractions around the city's centre, each place once."""
        ...

    async def __aenter__(self) -> PlacesProvider: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


class FilterProvider(Protocol):
    name: str

    async def rank(
        self, city: City, attractions: list[Attraction], *, keep: int, language: str | None
    ) -> list[Ranked]:
        """At most ``keep`` of ``attractions``, best first, each with a score and visit time."""
        ...

    async def __aenter__(self) -> FilterProvider: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


def open_places(settings: ToursSettings) -> PlacesProvider:
    if settings.places_provider == "google":
        from skyferry.services.tours.providers.google import GooglePlaces

        return GooglePlaces(settings)
    from skyferry.services.tours.providers.offline import OfflinePlaces

    return OfflinePlaces(settings)


def open_filter(settings: ToursSettings) -> FilterProvider:
    if settings.filter_provider in ("openai", "perplexity"):
        from skyferry.services.tours.providers.llm import LlmFilter

        return LlmFilter(settings)
    from skyferry.services.tours.providers.ranker import RuleRanker

    return RuleRanker(settings)


__all__ = ["FilterProvider", "PlacesProvider", "open_filter", "open_places"]
