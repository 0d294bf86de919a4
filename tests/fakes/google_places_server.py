"""A fake Google Places API (New): real HTTP on localhost, the documented wire format.

https://developers.google.com/maps/documentation/places/web-service/place-details,
/text-search and /nearby-search: ``GET /v1/places/{id}``, ``POST /v1/places:searchText``
(``pageSize``, ``pageToken`` → ``nextPageToken``) and ``POST /v1/places:searchNearby``
(``includedTypes``, ``maxResultCount`` ≤ 20, ``locationRestriction.circle``). Like Google it
wants ``X-Goog-Api-Key`` and ``X-Goog-FieldMask`` on every request and answers only the fields
the mask names. Errors are Google's JSON, ``{"error": {"code", "message", "status"}}``: 403
PERMISSION_DENIED for a wrong key, 400 INVALID_ARGUMENT for a missing mask, a bad body or a
malformed place id, 404 NOT_FOUND for an unknown one, 429 RESOURCE_EXHAUSTED when scripted.

Its world is one city, ``CITY_ID``, with ``PLACES`` places around it. Tests script failures
(``script``), slow every answer (``delay_seconds``), hold a request open (``hold``) and count
requests per endpoint (``counts``), from any thread.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.servers import serve_in_thread

CITY_ID = "ChIJ-fake-testville"
CENTRE = (52.3676, 4.9041)
PLACES = 45
_STATUSES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_KINDS = [
    ["tourist_attraction", "point_of_interest", "establishment"],
    ["museum", "tourist_attraction", "point_of_interest"],
    ["art_gallery", "museum", "point_of_interest"],
    ["church", "place_of_worship", "point_of_interest"],
    ["park", "tourist_attraction", "point_of_interest"],
    ["historical_landmark", "tourist_attraction", "point_of_interest"],
]


@dataclass(frozen=True)
class Fail:
    status: int
    message: str = "scripted failure"


def _place(n: int) -> dict[str, Any]:
    angle, distance = n * 2.399, 150 + 60 * n  # a spiral: places spread out from the centre
    lat = CENTRE[0] + distance * math.cos(angle) / 111_320
    lng = CENTRE[1] + distance * math.sin(angle) / (111_320 * math.cos(math.radians(CENTRE[0])))
    place: dict[str, Any] = {
        "id": f"ChIJfake{n:04d}",
        "displayName": {"text": f"Sight number {n}", "languageCode": "en"},
        "types": _KINDS[n % len(_KINDS)],
        "location": {"latitude": round(lat, 7), "longitude": round(lng, 7)},
        "rating": round(3.5 + (n * 37 % 15) / 10, 1),
        "userRatingCount": 50 + (n * 7919) % 20000,
    }
    if n % 3 == 0:
        place["regularOpeningHours"] = {
            "openNow": True,
            "periods": [{"open": {"day": 0, "hour": 0, "minute": 0}}],
            "weekdayDescriptions": [
                f"{d}: Open 24 hours"
                for d in (
                    "Monday",
                    "Tuesday",
                    "Wednesday",
                    "Thursday",
                    "Friday",
                    "Saturday",
                    "Sunday",
                )
            ],
        }
    elif n % 3 == 1:
        place["regularOpeningHours"] = {
            "openNow": False,
            "periods": [
                {
                    "open": {"day": d, "hour": 10, "minute": 0},
                    "close": {"day": d, "hour": 18, "minute": 0},
                }
                for d in range(1, 7)
            ],
            "weekdayDescriptions": ["Monday: 10:00 AM - 6:00 PM"] * 6 + ["Sunday: Closed"],
        }
    return place


class FakeGooglePlaces:
    def __init__(self, *, api_key: str, delay_seconds: float = 0) -> None:
        self.api_key = api_key
        self.delay_seconds = delay_seconds
        self.url = ""  # http://127.0.0.1:PORT/v1 once serving
        self.places = [_place(n) for n in range(PLACES)]
        self.calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self._script: deque[Fail] = deque()
        self._lock = threading.Lock()
        self.app = self._build_app()

    def script(self, *failures: Fail) -> None:
        with self._lock:
            self._script.extend(failures)

    def counts(self) -> Counter[str]:
        """Requests per endpoint: ``details``, ``searchText``, ``searchNearby``."""
        with self._lock:
            return Counter(endpoint for endpoint, _, _ in self.calls)

    # -- the server ------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/places/{place_id}")
        async def details(place_id: str, request: Request) -> Response:
            refused = await self._admit("details", {"place_id": place_id}, request)
            if refused is not None:
                return refused
            if not place_id.startswith("ChIJ"):
                return _error(400, "Not a valid Place ID.")
            found = self._details(place_id)
            if found is None:
                return _error(404, f"Place '{place_id}' not found.")
            return JSONResponse(_masked(found, request.headers["x-goog-fieldmask"], ""))

        @app.post("/v1/places:searchText")
        async def search_text(request: Request) -> Response:
            body = await _json(request)
            refused = await self._admit("searchText", body, request)
            if refused is not None:
                return refused
            if not isinstance(body.get("textQuery"), str) or not body["textQuery"]:
                return _error(400, "Invalid value at 'text_query'.")
            size = min(int(body.get("pageSize", 20)), 20)
            start = int(body.get("pageToken", "0") or 0)
            page = self.places[start : start + size]
            answer: dict[str, Any] = {"places": page}
            if start + size < len(self.places):
                answer["nextPageToken"] = str(start + size)
            return JSONResponse(_masked(answer, request.headers["x-goog-fieldmask"], ""))

        @app.post("/v1/places:searchNearby")
        async def search_nearby(request: Request) -> Response:
            body = await _json(request)
            refused = await self._admit("searchNearby", body, request)
            if refused is not None:
                return refused
            circle = (body.get("locationRestriction") or {}).get("circle")
            count = int(body.get("maxResultCount", 20))
            if not circle or not 1 <= count <= 20:
                return _error(400, "Invalid locationRestriction or maxResultCount.")
            types = set(body.get("includedTypes") or [])
            page = [p for p in self.places if not types or types & set(p["types"])][:count]
            return JSONResponse(_masked({"places": page}, request.headers["x-goog-fieldmask"], ""))

        return app

    async def _admit(
        self, endpoint: str, body: dict[str, Any], request: Request
    ) -> Response | None:
        with self._lock:
            self.calls.append((endpoint, body, dict(request.headers)))
            failure = self._script.popleft() if self._script else None
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if request.headers.get("x-goog-api-key") != self.api_key:
            return _error(403, "The provided API key is invalid.")
        if not request.headers.get("x-goog-fieldmask"):
            return _error(
                400,
                "FieldMask is a required parameter. See how to provide it: "
                "https://cloud.google.com/apis/docs/system-parameters.",
            )
        if failure is not None:
            return _error(failure.status, failure.message)
        return None

    def _details(self, place_id: str) -> dict[str, Any] | None:
        if place_id == CITY_ID:
            lat, lng = CENTRE
            return {
                "id": CITY_ID,
                "displayName": {"text": "Testville", "languageCode": "en"},
                "formattedAddress": "Testville, Netherlands",
                "location": {"latitude": lat, "longitude": lng},
                "viewport": {
                    "low": {"latitude": lat - 0.03, "longitude": lng - 0.05},
                    "high": {"latitude": lat + 0.03, "longitude": lng + 0.05},
                },
                "types": ["locality", "political"],
            }
        return next((p for p in self.places if p["id"] == place_id), None)


def _masked(value: dict[str, Any], mask: str, prefix: str) -> dict[str, Any]:
    """Only the fields the mask names (``*`` for all), as Google answers."""
    fields = {f.strip() for f in mask.split(",")}
    if "*" in fields:
        return value
    if "places" in value:
        inner = {f.removeprefix("places.") for f in fields if f.startswith("places.")}
        out: dict[str, Any] = {
            "places": [{k: v for k, v in p.items() if k in inner} for p in value["places"]]
        }
        if "nextPageToken" in value and "nextPageToken" in fields:
            out["nextPageToken"] = value["nextPageToken"]
        return out
    return {k: v for k, v in value.items() if k in fields}


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": _STATUSES.get(status, "UNKNOWN")}},
        status_code=status,
    )


@contextmanager
def serve_fake_google(api_key: str, **options: Any) -> Iterator[FakeGooglePlaces]:
    fake = FakeGooglePlaces(api_key=api_key, **options)
    with serve_in_thread(fake.app) as url:
        fake.url = f"{url}/v1"
        yield fake


__all__ = ["CITY_ID", "Fail", "FakeGooglePlaces", "serve_fake_google"]
