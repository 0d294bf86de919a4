"""What the tours API takes and answers, and what the pipeline's stages hand each other.

Stage outputs are plain pydantic models dumped to JSON-able dicts: a step's return value is its
checkpoint, so it must survive being stored and read back by another worker.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PlaceId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=300,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A Google place id, e.g. ChIJD7fiBh9u5kcRYJSMaMOCCwQ (Paris).",
        examples=["ChIJD7fiBh9u5kcRYJSMaMOCCwQ"],
    ),
]


class LatLng(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class GenerateCity(BaseModel):
    """``POST /api/generate-city``: the original service's body, checked."""

    model_config = ConfigDict(extra="forbid")

    place_id: PlaceId
    language: str | None = Field(
        default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$", description="BCP 47, e.g. fr"
    )
    max_tours: int = Field(default=4, ge=1, le=10)
    minutes_per_tour: int = Field(default=180, ge=30, le=480)
    start: PlaceId | LatLng | None = Field(
        default=None, description="Where every tour starts and ends; the city centre if unset."
    )
    max_attractions: int | None = Field(
        default=None,
        ge=1,
        le=300,
        description="Attractions kept after ranking (a setting if unset).",
    )


class City(BaseModel):
    place_id: str
    name: str
    address: str | None = None
    location: LatLng
    radius_metres: float = Field(description="How far from the centre attractions are sought.")


class Attraction(BaseModel):
    place_id: str
    name: str
    types: list[str] = Field(default_factory=list)
    rating: float | None = None
    review_count: int = 0
    location: LatLng
    opening_hours: list[str] = Field(
        default_factory=list, description="One line per weekday, as Google describes them."
    )
    hours_per_week: float | None = Field(
        default=None, description="Open hours a week; None where unknown, 168 for always open."
    )


class Ranked(BaseModel):
    """An attraction the filter kept: its score (0 to 1, best first) and its visit time."""

    attraction: Attraction
    score: float = Field(ge=0, le=1)
    visit_minutes: int = Field(ge=5, le=480)
    reason: str | None = None


class Leg(BaseModel):
    """The walk to a stop (or back to the start): metres and seconds."""

    distance_metres: int
    walking_seconds: int


class Stop(BaseModel):
    position: int = Field(description="1 for the first stop of the tour.")
    place_id: str
    name: str
    location: LatLng
    types: list[str]
    rating: float | None
    score: float
    visit_minutes: int
    leg: Leg = Field(description="The walk from the previous stop (the start, for the first).")


class Tour(BaseModel):
    number: int = Field(description="1-based; the URL of the tour's GeoJSON and GPX uses it.")
    stops: list[Stop]
    return_leg: Leg = Field(description="The walk from the last stop back to the start.")
    walking_metres: int
    walking_minutes: float
    visit_minutes: int
    total_minutes: float = Field(description="Walking and visits: never above the budget.")
    score: float


class Plan(BaseModel):
    """What the optimiser made: the tours, and the attractions no tour had time for."""

    start: LatLng
    budget_minutes: int
    tours: list[Tour]
    unvisited: list[str] = Field(description="Place ids of ranked attractions left out.")
    solver: str


class GenerateResult(BaseModel):
    """The job's result: the original service's answer."""

    success: bool = True
    city_id: str
    tours: int


class CitySummary(BaseModel):
    id: str = Field(description="The city's id: the id of the job that made it.")
    place_id: str
    name: str
    address: str | None
    location: LatLng
    tour_count: int
    created_at: float
    links: dict[str, str]


class CityPage(BaseModel):
    items: list[CitySummary]
    next_cursor: str | None


class CityView(CitySummary):
    start: LatLng
    budget_minutes: int
    request: GenerateCity
    tours: list[Tour]
    unvisited: list[str]
