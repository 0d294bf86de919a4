"""The offline providers: the same city for the same id, realistic, and an unknown id refused."""

from __future__ import annotations

import pytest

from skyferry.services.tours.errors import PlaceNotFoundError
from skyferry.services.tours.providers.offline import offline_attractions, offline_city
from skyferry.services.tours.providers.ranker import rank
from skyferry.services.tours.routing import great_circle_metres

PARIS = "ChIJD7fiBh9u5kcRYJSMaMOCCwQ"


def test_the_same_place_id_gives_the_same_city() -> None:
    for place_id in (PARIS, "ChIJ-some-made-up-city-id"):
        first, again = offline_city(place_id), offline_city(place_id)
        assert first == again
        assert offline_attractions(first) == offline_attractions(again)
    assert offline_city("ChIJ-one") != offline_city("ChIJ-two")


def test_attractions_are_realistic_and_near_the_centre() -> None:
    city = offline_city("ChIJ-anywhere")
    attractions = offline_attractions(city)
    assert len(attractions) == 60
    assert len({a.place_id for a in attractions}) == 60
    assert len({a.name for a in attractions}) == 60
    for a in attractions:
        assert a.types
        assert a.name
        assert a.rating is not None
        assert 3.0 <= a.rating <= 5.0
        assert a.review_count >= 0
        assert len(a.opening_hours) == 7
        assert a.hours_per_week is not None
        assert 0 < a.hours_per_week <= 168
        assert great_circle_metres(a.location, city.location) < 10_000


def test_paris_has_its_real_sights() -> None:
    paris = offline_city(PARIS)
    assert paris.name == "Paris"
    names = [a.name for a in offline_attractions(paris)]
    assert {"Eiffel Tower", "Louvre Museum", "Notre-Dame Cathedral"} <= set(names)
    best = [r.attraction.name for r in rank(offline_attractions(paris), 5)]
    assert "Eiffel Tower" in best


def test_an_id_that_is_not_a_city_is_unknown() -> None:
    with pytest.raises(PlaceNotFoundError, match="nowhere"):
        offline_city("nowhere")


def test_the_ranker_keeps_the_best_first_scaled_to_one() -> None:
    ranked = rank(offline_attractions(offline_city("ChIJ-ranked")), 10)
    assert len(ranked) == 10
    scores = [r.score for r in ranked]
    assert scores[0] == 1.0
    assert scores == sorted(scores, reverse=True)
    assert all(5 <= r.visit_minutes <= 480 for r in ranked)
