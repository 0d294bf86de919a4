"""The offline filter: attractions ranked by rules, with no model and no network.

A score is how much a visitor gains: the rating, pulled towards 4.0 when few people rated
(a Bayesian average, so 5.0 from 3 reviews does not beat 4.7 from 40,000), times how many
people cared (the square of the review count's logarithm: a sight with 200,000 reviews is
worth about three with 500), times how much the kind of place is worth a walk,
times a small penalty for places open only a few hours a week. Scores are scaled so the best
is 1.0. Visit durations come from the kind of place.
"""

from __future__ import annotations

import asyncio
import math

from skyferry.services.tours.models import Attraction, City, Ranked
from skyferry.services.tours.settings import ToursSettings

PRIOR_RATING = 4.0
PRIOR_WEIGHT = 50

TYPE_WEIGHTS = {
    "tourist_attraction": 1.0,
    "museum": 1.0,
    "historical_landmark": 0.95,
    "monument": 0.9,
    "art_gallery": 0.85,
    "church": 0.8,
    "place_of_worship": 0.75,
    "park": 0.75,
    "garden": 0.75,
    "market": 0.7,
    "viewpoint": 0.8,
    "zoo": 0.7,
    "aquarium": 0.7,
    "bridge": 0.6,
    "plaza": 0.6,
}
VISIT_MINUTES = {
    "museum": 90,
    "art_gallery": 60,
    "zoo": 120,
    "aquarium": 90,
    "park": 40,
    "garden": 40,
    "market": 40,
    "church": 25,
    "place_of_worship": 25,
    "historical_landmark": 30,
    "monument": 15,
    "bridge": 10,
    "plaza": 15,
    "viewpoint": 20,
    "tourist_attraction": 30,
}
DEFAULT_VISIT_MINUTES = 30


def score(attraction: Attraction) -> float:
    """The unscaled score; see the module's docstring."""
    rating = attraction.rating if attraction.rating is not None else PRIOR_RATING - 0.5
    n = attraction.review_count
    bayes = (rating * n + PRIOR_RATING * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)
    popularity = math.log10(10 + n) ** 2
    kind = max((TYPE_WEIGHTS.get(t, 0.4) for t in attraction.types), default=0.4)
    hours = attraction.hours_per_week
    open_factor = 1.0 if hours is None or hours >= 30 else 0.6 + 0.4 * hours / 30
    return bayes * popularity * kind * open_factor


def visit_minutes(attraction: Attraction) -> int:
    """How long a visit of this kind of place takes: the longest of its types'."""
    return max((VISIT_MINUTES[t] for t in attraction.types if t in VISIT_MINUTES), default=30)


def rank(attractions: list[Attraction], keep: int) -> list[Ranked]:
    """The ``keep`` best, scaled so the best scores 1.0; ties broken by place id."""
    scored = sorted(((score(a), a) for a in attractions), key=lambda s: (-s[0], s[1].place_id))
    top = scored[:keep]
    best = top[0][0] if top else 1.0
    return [
        Ranked(
            attraction=a,
            score=round(s / best, 4) if best > 0 else 0.0,
            visit_minutes=visit_minutes(a),
            reason="rating, reviews, kind of place and opening hours",
        )
        for s, a in top
    ]


class RuleRanker:
    """The filter provider for ``filter_provider=offline``."""

    name = "offline"

    def __init__(self, settings: ToursSettings) -> None:
        self.delay = settings.offline_seconds_per_stage

    async def rank(
        self, city: City, attractions: list[Attraction], *, keep: int, language: str | None
    ) -> list[Ranked]:
        if self.delay:
            await asyncio.sleep(self.delay)
        return rank(attractions, keep)

    async def __aenter__(self) -> RuleRanker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None
