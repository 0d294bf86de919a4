"""The real providers against fake servers speaking Google's, OpenAI's and Perplexity's formats."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from skyferry.services.tours.errors import PlaceNotFoundError, ProviderError
from skyferry.services.tours.providers.google import DETAILS_FIELDS, GooglePlaces
from skyferry.services.tours.providers.llm import LlmFilter
from skyferry.services.tours.settings import ToursSettings
from tests.fakes import google_places_server as google
from tests.fakes import llm_filter_server as model

KEY = "goog-test-key-1234"
MODEL_KEY = "pplx-test-key-5678"
FAST_RETRIES: dict[str, Any] = {"retry_initial_seconds": 0.01, "retry_max_wait_seconds": 0.05}


@pytest.fixture(scope="module")
def places() -> Iterator[google.FakeGooglePlaces]:
    with google.serve_fake_google(KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def models() -> Iterator[model.FakeModelApi]:
    with model.serve_fake_model_api(MODEL_KEY) as fake:
        yield fake


def google_settings(fake: google.FakeGooglePlaces, key: str = KEY) -> ToursSettings:
    return ToursSettings(
        places_provider="google", google_base_url=fake.url, google_api_key=key, **FAST_RETRIES
    )


async def city_and_attractions(settings: ToursSettings) -> tuple[Any, list[Any]]:
    async with GooglePlaces(settings) as provider:
        city = await provider.city(google.CITY_ID, "en")
        return city, await provider.attractions(city, "en")


def test_details_then_every_search_page_deduplicated(places: google.FakeGooglePlaces) -> None:
    places.calls.clear()
    city, attractions = asyncio.run(city_and_attractions(google_settings(places)))
    assert (city.name, city.address) == ("Testville", "Testville, Netherlands")
    assert 1000 <= city.radius_metres <= 5000  # from the viewport, within the setting
    assert len(attractions) == google.PLACES  # all pages, each place once
    assert len({a.place_id for a in attractions}) == google.PLACES
    counts = places.counts()
    assert counts["details"] == 1
    assert counts["searchNearby"] == 4  # one per group of tourist types
    assert counts["searchText"] == 2 * 3  # two queries, three pages of 20 each
    details_headers = places.calls[0][2]
    assert details_headers["x-goog-fieldmask"] == DETAILS_FIELDS
    assert details_headers["x-goog-api-key"] == KEY
    always_open = next(a for a in attractions if a.place_id == "ChIJfake0000")
    assert always_open.hours_per_week == 168
    weekdays = next(a for a in attractions if a.place_id == "ChIJfake0001")
    assert weekdays.hours_per_week == 48
    assert weekdays.opening_hours[0].startswith("Monday")


def test_rate_limits_are_waited_out_and_bad_keys_fail_at_once(
    places: google.FakeGooglePlaces,
) -> None:
    places.calls.clear()
    places.script(google.Fail(429, "Resource has been exhausted"), google.Fail(503))
    city, _ = asyncio.run(city_and_attractions(google_settings(places)))
    assert city.name == "Testville"
    assert places.counts()["details"] == 3
    places.calls.clear()
    with pytest.raises(ProviderError, match="403 PERMISSION_DENIED"):
        asyncio.run(city_and_attractions(google_settings(places, key="wrong-key")))
    assert len(places.calls) == 1


def test_an_unknown_place_is_not_found(places: google.FakeGooglePlaces) -> None:
    async def lookup(place_id: str) -> None:
        async with GooglePlaces(google_settings(places)) as provider:
            await provider.city(place_id, None)

    for place_id in ("ChIJ-nobody-knows", "not-a-place-id"):
        with pytest.raises(PlaceNotFoundError, match=place_id):
            asyncio.run(lookup(place_id))


@pytest.mark.parametrize("api", ["openai", "perplexity"])
def test_the_model_filter_validates_and_retries_garbled_answers(
    api: str, places: google.FakeGooglePlaces, models: model.FakeModelApi
) -> None:
    city, attractions = asyncio.run(city_and_attractions(google_settings(places)))
    settings = ToursSettings(
        filter_provider=api,
        openai_base_url=f"{models.url}/v1",
        openai_api_key=MODEL_KEY,
        perplexity_base_url=models.url,
        perplexity_api_key=MODEL_KEY,
        **FAST_RETRIES,
    )
    models.calls.clear()
    models.script(model.Garbled(), model.Fail(429, (("Retry-After", "0"),)))

    async def rank() -> list[Any]:
        async with LlmFilter(settings) as ranker:
            return await ranker.rank(city, attractions, keep=10, language="nl")

    ranked = asyncio.run(rank())
    assert len(models.calls) == 3  # garbled, rate limited, answered
    assert 1 <= len(ranked) <= 10
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(r.attraction.rating is not None and r.attraction.rating >= 4.0 for r in ranked)
    request = models.calls[-1]
    assert request["response_format"]["json_schema"]["name"] == "ranked_attractions"
    if api == "perplexity":
        assert "input" in request
        assert request["model"] == "perplexity/sonar"
    else:
        assert request["messages"][0]["role"] == "system"
    assert "nl" in str(request)


def test_a_model_that_never_answers_properly_fails_the_filter(
    models: model.FakeModelApi, places: google.FakeGooglePlaces
) -> None:
    city, attractions = asyncio.run(city_and_attractions(google_settings(places)))
    settings = ToursSettings(
        filter_provider="openai",
        openai_base_url=f"{models.url}/v1",
        openai_api_key=MODEL_KEY,
        max_attempts=2,
        **FAST_RETRIES,
    )
    models.calls.clear()
    models.script(model.Garbled(), model.Garbled())

    async def rank() -> None:
        async with LlmFilter(settings) as ranker:
            await ranker.rank(city, attractions, keep=10, language=None)

    with pytest.raises(ProviderError, match="does not match the schema"):
        asyncio.run(rank())
    assert len(models.calls) == 2
