"""The offline places provider: a deterministic, realistic city for any Google-style place id.

Ids that start with ``ChIJ`` (as Google's ids for cities do) are cities; any other id is an
unknown place, so the unhappy path can be tried offline too. The same id always gives the same
city: its centre, and 60 attractions around it with names, types, ratings, review counts,
coordinates and opening hours. A few real cities (Paris among them) have their real centre and
their best-known sights at their real coordinates, topped up with generated ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random

from skyferry.services.tours.errors import PlaceNotFoundError
from skyferry.services.tours.models import Attraction, City, LatLng
from skyferry.services.tours.settings import ToursSettings

ATTRACTIONS_PER_CITY = 60
SPREAD_METRES = 1500.0

_KNOWN = {
    "ChIJD7fiBh9u5kcRYJSMaMOCCwQ": (
        "Paris",
        "Paris, France",
        (48.856614, 2.3522219),
        [
            ("Eiffel Tower", ("tourist_attraction", "historical_landmark"), 48.8584, 2.2945),
            ("Louvre Museum", ("museum", "art_gallery"), 48.8606, 2.3376),
            ("Notre-Dame Cathedral", ("church", "historical_landmark"), 48.8530, 2.3499),
            ("Sacré-Cœur Basilica", ("church", "tourist_attraction"), 48.8867, 2.3431),
            ("Arc de Triomphe", ("historical_landmark", "monument"), 48.8738, 2.2950),
            ("Musée d'Orsay", ("museum", "art_gallery"), 48.8600, 2.3266),
            ("Sainte-Chapelle", ("church", "historical_landmark"), 48.8554, 2.3450),
            ("Panthéon", ("historical_landmark", "tourist_attraction"), 48.8462, 2.3464),
            ("Luxembourg Gardens", ("park", "garden"), 48.8462, 2.3372),
            ("Centre Pompidou", ("museum", "art_gallery"), 48.8607, 2.3522),
            ("Tuileries Garden", ("park", "garden"), 48.8635, 2.3275),
            ("Palais Garnier", ("tourist_attraction", "historical_landmark"), 48.8720, 2.3316),
            ("Les Invalides", ("museum", "historical_landmark"), 48.8566, 2.3125),
            ("Place de la Concorde", ("plaza", "tourist_attraction"), 48.8656, 2.3212),
            ("Musée Rodin", ("museum",), 48.8553, 2.3159),
            ("Pont Neuf", ("bridge", "historical_landmark"), 48.8571, 2.3413),
        ],
    ),
    "ChIJdd4hrwug2EcRmSrV3Vo6llI": ("London", "London, UK", (51.5072178, -0.1275862), []),
    "ChIJu46S-ZZhLxMROG5lkwZ3D7k": ("Rome", "Rome, Italy", (41.8967068, 12.4822025), []),
    "ChIJOwg_06VPwokRYv534QaPC8g": ("New York", "New York, NY, USA", (40.7127753, -74.0059728), []),
}

_SYLLABLES = [
    "var",
    "en",
    "na",
    "kos",
    "trel",
    "mi",
    "lo",
    "bar",
    "dun",
    "esk",
    "ro",
    "vel",
    "san",
    "ta",
    "mar",
    "fen",
    "hol",
    "ri",
    "ston",
    "ber",
    "ga",
    "lin",
    "or",
    "wick",
]
_SAINTS = ["Anne", "Mark", "Nicholas", "Agnes", "Peter", "Catherine", "Stephen", "Mary", "Paul"]
_THEMES = [
    "Natural History",
    "Modern Art",
    "the City",
    "Science",
    "Maritime History",
    "Decorative Arts",
    "Photography",
    "Archaeology",
    "Music",
    "Design",
]
_KINDS: list[tuple[tuple[str, ...], list[str], float]] = [
    (("museum",), ["Museum of {theme}", "{name} Museum", "{name} House Museum"], 0.22),
    (("art_gallery",), ["{name} Gallery", "Gallery of {theme}"], 0.10),
    (
        ("church", "place_of_worship"),
        ["St. {saint}'s Church", "Cathedral of St. {saint}", "{name} Abbey"],
        0.14,
    ),
    (("park", "garden"), ["{name} Park", "{name} Gardens", "Botanical Garden of {name}"], 0.14),
    (
        ("historical_landmark",),
        ["{name} Castle", "Old {name} Gate", "{name} Town Hall", "{name} Fortress"],
        0.16,
    ),
    (("tourist_attraction", "plaza"), ["{name} Square", "Market Square of {name}"], 0.08),
    (("tourist_attraction", "viewpoint"), ["{name} Tower", "{name} Hill Lookout"], 0.06),
    (("market",), ["{name} Market Hall", "{name} Flea Market"], 0.05),
    (("bridge", "tourist_attraction"), ["{name} Bridge"], 0.05),
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _rng(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _name(rng: random.Random) -> str:
    word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
    return word.capitalize()


def _hours(types: tuple[str, ...], rng: random.Random) -> tuple[list[str], float]:
    """Weekday descriptions (Google's ``weekdayDescriptions`` style) and open hours a week."""
    if {"park", "garden", "plaza", "bridge"} & set(types):
        return [f"{day}: Open 24 hours" for day in _DAYS], 168.0
    opens, closes = (10, 18) if "museum" in types or "art_gallery" in types else (9, 19)
    closes += rng.choice([0, 0, 1, 2])
    closed = {"Monday"} if "museum" in types and rng.random() < 0.6 else set()
    lines = [
        f"{day}: Closed" if day in closed else f"{day}: {opens}:00 AM \u2013 {closes - 12}:00 PM"
        for day in _DAYS
    ]
    return lines, float((7 - len(closed)) * (closes - opens))


def _offset(centre: LatLng, north_metres: float, east_metres: float) -> LatLng:
    lat = centre.lat + north_metres / 111_320.0
    lng = centre.lng + east_metres / (111_320.0 * max(0.1, math.cos(math.radians(centre.lat))))
    return LatLng(lat=round(lat, 6), lng=round(lng, 6))


def offline_city(place_id: str) -> City:
    if not place_id.startswith("ChIJ"):
        raise PlaceNotFoundError(place_id)
    if place_id in _KNOWN:
        name, address, (lat, lng), _ = _KNOWN[place_id]
        return City(
            place_id=place_id,
            name=name,
            address=address,
            location=LatLng(lat=lat, lng=lng),
            radius_metres=5000,
        )
    rng = _rng("city", place_id)
    name = _name(rng)
    return City(
        place_id=place_id,
        name=name,
        address=f"{name}, {_name(rng)}",
        location=LatLng(lat=round(rng.uniform(-45, 60), 6), lng=round(rng.uniform(-170, 170), 6)),
        radius_metres=5000,
    )


def offline_attractions(city: City) -> list[Attraction]:
    """The city's attractions: the known ones first, then generated ones to make 60."""
    rng = _rng("attractions", city.place_id)
    found: list[Attraction] = []
    known = _KNOWN.get(city.place_id, ("", "", (0.0, 0.0), []))[3]
    for k, (name, types, lat, lng) in enumerate(known):
        lines, hours = _hours(types, rng)
        found.append(
            Attraction(
                place_id=f"{city.place_id}-k{k:03d}",
                name=name,
                types=list(types),
                # listed best known first: the first ones draw the most reviews
                rating=round(4.8 - 0.02 * k, 2),
                review_count=int(350_000 / (1 + 0.35 * k)),
                location=LatLng(lat=lat, lng=lng),
                opening_hours=lines,
                hours_per_week=hours,
            )
        )
    weights = [w for _, _, w in _KINDS]
    names: set[str] = {a.name for a in found}
    while len(found) < ATTRACTIONS_PER_CITY:
        types, templates, _ = rng.choices(_KINDS, weights=weights)[0]
        name = rng.choice(templates).format(
            name=_name(rng), theme=rng.choice(_THEMES), saint=rng.choice(_SAINTS)
        )
        if name in names:
            continue
        names.add(name)
        lines, hours = _hours(types, rng)
        distance = abs(rng.gauss(0, SPREAD_METRES))
        bearing = rng.uniform(0, 2 * math.pi)
        found.append(
            Attraction(
                place_id=f"{city.place_id}-g{len(found):03d}",
                name=name,
                types=list(types),
                rating=round(min(5.0, max(3.2, rng.gauss(4.3, 0.3))), 1),
                review_count=int(math.exp(rng.gauss(6.5, 1.6))),
                location=_offset(
                    city.location, distance * math.cos(bearing), distance * math.sin(bearing)
                ),
                opening_hours=lines,
                hours_per_week=hours,
            )
        )
    return found


class OfflinePlaces:
    """The places provider for ``places_provider=offline``."""

    name = "offline"

    def __init__(self, settings: ToursSettings) -> None:
        self.delay = settings.offline_seconds_per_stage

    async def city(self, place_id: str, language: str | None) -> City:
        if self.delay:
            await asyncio.sleep(self.delay)
        return offline_city(place_id)

    async def attractions(self, city: City, language: str | None) -> list[Attraction]:
        if self.delay:
            await asyncio.sleep(self.delay)
        return offline_attractions(city)

    async def __aenter__(self) -> OfflinePlaces:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None
