"""Google Places API (New): Place Details, Text Search and Nearby Search.

https://developers.google.com/maps/documentation/places/web-service/op-overview. Every request
names its fields in ``X-Goog-FieldMask``: billing follows the most expensive field asked for,
so only what the pipeline uses is asked for. Text Search is paged with ``nextPageToken`` (20
places a page); Nearby Search answers one page of at most 20, so it is asked once per group of
tourist types. Results are deduplicated by place id.

Errors come in Google's shape, ``{"error": {"code", "message", "status"}}``: 429
``RESOURCE_EXHAUSTED`` and 5xx are retried with back-off; 403 ``PERMISSION_DENIED`` (a wrong
key, the API not enabled) fails at once; 400 ``INVALID_ARGUMENT`` and 404 ``NOT_FOUND`` on
Place Details mean the place id is unknown (the 400 says "Not a valid Place ID"; any other 400
is a request this client got wrong, and fails as such).
"""

from __future__ import annotations

from typing import Any

import httpx

from skyferry.config import ConfigurationError
from skyferry.http.retry_after import retry_after_seconds
from skyferry.http.tls import tls_context
from skyferry.services.tours.errors import PlaceNotFoundError, ProviderError
from skyferry.services.tours.models import Attraction, City, LatLng
from skyferry.services.tours.providers.http import (
    RETRYABLE_STATUS,
    post_json,
    with_retries,
)
from skyferry.services.tours.routing import great_circle_metres
from skyferry.services.tours.settings import ToursSettings

DETAILS_FIELDS = "id,displayName,formattedAddress,location,viewport"
PLACE_FIELDS = (
    "id",
    "displayName",
    "types",
    "location",
    "rating",
    "userRatingCount",
    "regularOpeningHours",
)
SEARCH_FIELDS = ",".join(f"places.{field}" for field in PLACE_FIELDS)
NEARBY_TYPES = [
    ["tourist_attraction"],
    ["museum", "art_gallery"],
    ["historical_landmark", "church"],
    ["park"],
]
TEXT_QUERIES = ["top sights in {city}", "museums and landmarks in {city}"]
MIN_RADIUS_METRES = 1000.0


class GooglePlaces:
    name = "google"

    def __init__(self, settings: ToursSettings) -> None:
        if settings.google_api_key is None:
            raise ConfigurationError(
                "SKYFERRY_TOURS__PLACES_PROVIDER=google needs SKYFERRY_TOURS__GOOGLE_API_KEY"
            )
        self.settings = settings
        self.base_url = settings.google_base_url
        self._key = settings.google_api_key.get_secret_value()
        self._client = httpx.AsyncClient(
            timeout=settings.request_timeout_seconds, verify=tls_context()
        )

    async def city(self, place_id: str, language: str | None) -> City:
        params = {"languageCode": language} if language else {}
        body = await with_retries(
            self.settings,
            lambda: self._get(f"places/{place_id}", DETAILS_FIELDS, params, place_id=place_id),
        )
        location = _latlng(body.get("location"))
        if location is None:
            raise ProviderError(f"Google Places gave no location for {place_id!r}")
        radius = self.settings.search_radius_metres
        viewport = body.get("viewport") or {}
        low, high = _latlng(viewport.get("low")), _latlng(viewport.get("high"))
        if low is not None and high is not None:
            radius = min(radius, max(MIN_RADIUS_METRES, great_circle_metres(low, high) / 2))
        return City(
            place_id=str(body.get("id") or place_id),
            name=_text(body.get("displayName")) or place_id,
            address=body.get("formattedAddress"),
            location=location,
            radius_metres=radius,
        )

    async def attractions(self, city: City, language: str | None) -> list[Attraction]:
        found: dict[str, Attraction] = {}
        circle = {
            "circle": {
                "center": {"latitude": city.location.lat, "longitude": city.location.lng},
                "radius": city.radius_metres,
            }
        }
        common: dict[str, Any] = {"languageCode": language} if language else {}
        for types in NEARBY_TYPES:
            body = {
                **common,
                "includedTypes": types,
                "maxResultCount": 20,
                "rankPreference": "POPULARITY",
                "locationRestriction": circle,
            }
            page = await self._search("places:searchNearby", SEARCH_FIELDS, body)
            _collect(found, page)
        for query in TEXT_QUERIES:
            token: str | None = None
            for _ in range(self.settings.text_search_pages):
                body = {
                    **common,
                    "textQuery": query.format(city=city.name),
                    "pageSize": 20,
                    "locationBias": circle,
                    **({"pageToken": token} if token else {}),
                }
                page = await self._search(
                    "places:searchText", SEARCH_FIELDS + ",nextPageToken", body
                )
                _collect(found, page)
                token = page.get("nextPageToken")
                if not token:
                    break
        return list(found.values())

    # -- HTTP -------------------------------------------------------------------------------------

    def _headers(self, fields: str) -> dict[str, str]:
        return {"X-Goog-Api-Key": self._key, "X-Goog-FieldMask": fields}

    async def _get(
        self, path: str, fields: str, params: dict[str, str], *, place_id: str
    ) -> dict[str, Any]:
        try:
            response = await self._client.get(
                f"{self.base_url}/{path}", params=params, headers=self._headers(fields)
            )
        except httpx.TimeoutException:
            raise ProviderError("Google Places timed out", retryable=True) from None
        except httpx.TransportError as exc:
            raise ProviderError(
                f"Google Places unreachable ({type(exc).__name__})", retryable=True
            ) from None
        if response.status_code == 404 or (
            response.status_code == 400 and "place id" in _google_error(response)[1].lower()
        ):
            raise PlaceNotFoundError(place_id)
        return _body(response)

    async def _search(self, path: str, fields: str, body: dict[str, Any]) -> dict[str, Any]:
        return await with_retries(self.settings, lambda: self._post(path, fields, body))

    async def _post(self, path: str, fields: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await post_json(
            self._client,
            f"{self.base_url}/{path}",
            body,
            self._headers(fields),
            who="Google Places",
        )
        return _body(response)

    async def __aenter__(self) -> GooglePlaces:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()


def _body(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        status, message = _google_error(response)
        raise ProviderError(
            f"Google Places answered {response.status_code} {status}: {message}",
            retryable=response.status_code in RETRYABLE_STATUS,
            http_status=response.status_code,
            retry_after=retry_after_seconds(response.headers),
        )
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(
            "Google Places answered something that is not JSON", retryable=True
        ) from None
    if not isinstance(body, dict):
        raise ProviderError("Google Places answered JSON that is not an object", retryable=True)
    return body


def _google_error(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        return str(error.get("status", "")), str(error.get("message", ""))[:300]
    except (ValueError, AttributeError):
        return "", response.text[:200]


def _collect(found: dict[str, Attraction], page: dict[str, Any]) -> None:
    for place in page.get("places") or []:
        attraction = _attraction(place)
        if attraction is not None and attraction.place_id not in found:
            found[attraction.place_id] = attraction


def _attraction(place: dict[str, Any]) -> Attraction | None:
    location = _latlng(place.get("location"))
    place_id = place.get("id")
    if location is None or not place_id:
        return None
    hours = place.get("regularOpeningHours") or {}
    return Attraction(
        place_id=str(place_id),
        name=_text(place.get("displayName")) or str(place_id),
        types=[str(t) for t in place.get("types") or []],
        rating=place.get("rating"),
        review_count=int(place.get("userRatingCount") or 0),
        location=location,
        opening_hours=[str(line) for line in hours.get("weekdayDescriptions") or []],
        hours_per_week=_hours_per_week(hours.get("periods")),
    )


def _hours_per_week(periods: list[dict[str, Any]] | None) -> float | None:
    """Open hours a week from Google's periods; one period with no close is always open."""
    if not periods:
        return None
    if len(periods) == 1 and "close" not in periods[0]:
        return 168.0
    week = 7 * 24 * 60
    total = 0
    for period in periods:
        opens, closes = period.get("open"), period.get("close")
        if not opens or not closes:
            continue
        start = (opens.get("day", 0) * 24 + opens.get("hour", 0)) * 60 + opens.get("minute", 0)
        end = (closes.get("day", 0) * 24 + closes.get("hour", 0)) * 60 + closes.get("minute", 0)
        total += (end - start) % week
    return round(total / 60, 1)


def _latlng(value: Any) -> LatLng | None:
    if not isinstance(value, dict) or "latitude" not in value or "longitude" not in value:
        return None
    return LatLng(lat=float(value["latitude"]), lng=float(value["longitude"]))


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        text = value.get("text")
        return str(text) if text else None
    return None
