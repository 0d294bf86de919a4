"""The tours API through real HTTP, on SQLite and Postgres, with the offline providers."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import geojson
import gpxpy
import httpx
import pytest
import sqlalchemy as sa

from skyferry.app import create_app
from skyferry.config import load_settings
from tests.polling import poll
from tests.servers import serve_in_thread

PARIS = "ChIJD7fiBh9u5kcRYJSMaMOCCwQ"
ApiFactory = Callable[..., httpx.Client]


@pytest.fixture
def start_api(database_url: str, tmp_path: Path) -> Iterator[ApiFactory]:
    """Start the app (tours only, real uvicorn) with these tours settings; one per test."""
    with ExitStack() as stack:

        def start(**tours: Any) -> httpx.Client:
            settings = load_settings(
                database_url=database_url,
                blob_url=f"file://{tmp_path}/blobs",
                log_format="text",
                auto_migrate=True,
                services=["tours"],
                tours={"solver_iterations": 500, **tours},
            )
            url = stack.enter_context(serve_in_thread(create_app(settings)))
            return stack.enter_context(httpx.Client(base_url=url, timeout=30))

        yield start


def check_tours(city: dict[str, Any], budget: int, max_tours: int) -> None:
    """What a user relies on: every tour within budget, stops in order, totals that add up."""
    assert 1 <= len(city["tours"]) <= max_tours
    seen: set[str] = set()
    for number, tour in enumerate(city["tours"], 1):
        assert tour["number"] == number
        assert tour["stops"], "no empty tour is reported"
        assert [s["position"] for s in tour["stops"]] == list(range(1, len(tour["stops"]) + 1))
        walked = sum(s["leg"]["walking_seconds"] for s in tour["stops"])
        walked += tour["return_leg"]["walking_seconds"]
        visits = sum(s["visit_minutes"] for s in tour["stops"])
        assert tour["visit_minutes"] == visits
        assert tour["total_minutes"] == pytest.approx((walked + visits * 60) / 60, abs=0.1)
        assert tour["total_minutes"] <= budget
        metres = sum(s["leg"]["distance_metres"] for s in tour["stops"])
        assert tour["walking_metres"] == metres + tour["return_leg"]["distance_metres"]
        ids = {s["place_id"] for s in tour["stops"]}
        assert not ids & seen, "an attraction is visited once"
        seen |= ids


def test_a_city_is_generated_served_exported_and_deleted(start_api: ApiFactory) -> None:
    api = start_api()
    body = {"place_id": PARIS, "max_tours": 3, "minutes_per_tour": 120}
    response = api.post("/api/generate-city", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert response.headers["location"] == f"/jobs/{job_id}"

    job = poll(api, job_id)
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 5, "total": 5, "message": "done"}
    result = api.get(f"/jobs/{job_id}/result").json()["result"]
    assert result == {"success": True, "city_id": job_id, "tours": 3}

    city = api.get(f"/cities/{job_id}").json()
    assert (city["name"], city["place_id"], city["tour_count"]) == ("Paris", PARIS, 3)
    assert city["start"] == city["location"]  # the centre, as no start was given
    check_tours(city, budget=120, max_tours=3)
    scores = [t["score"] for t in city["tours"]]
    assert scores == sorted(scores, reverse=True)

    listed = api.get("/cities").json()
    assert [c["id"] for c in listed["items"]] == [job_id]
    assert listed["next_cursor"] is None

    feature_json = api.get(f"/cities/{job_id}/tours/1.geojson")
    assert feature_json.headers["content-type"] == "application/geo+json"
    collection = geojson.loads(feature_json.text)
    assert collection.is_valid, collection.errors()
    kinds = [f["geometry"]["type"] for f in collection["features"]]
    stops = city["tours"][0]["stops"]
    assert kinds == ["LineString", "Point"] + ["Point"] * len(stops)
    line = json.loads(feature_json.text)["features"][0]["geometry"]["coordinates"]
    assert line[0] == line[-1] == [city["start"]["lng"], city["start"]["lat"]]
    assert line[1:-1] == [[s["location"]["lng"], s["location"]["lat"]] for s in stops]

    gpx_file = api.get(f"/cities/{job_id}/tours/1.gpx")
    assert gpx_file.headers["content-type"].startswith("application/gpx+xml")
    parsed = gpxpy.parse(io.StringIO(gpx_file.text))
    assert [w.name for w in parsed.waypoints] == [s["name"] for s in stops]
    assert len(parsed.routes[0].points) == len(stops) + 2

    assert api.get(f"/cities/{job_id}/tours/9.geojson").status_code == 404
    assert api.delete(f"/cities/{job_id}").status_code == 204
    for path in (f"/cities/{job_id}", f"/cities/{job_id}/tours/1.gpx", f"/jobs/{job_id}"):
        assert api.get(path).status_code == 404, path
    assert api.delete(f"/cities/{job_id}").status_code == 404
    assert api.get("/cities").json()["items"] == []


def test_prefer_wait_idempotency_and_a_start_among_the_attractions(start_api: ApiFactory) -> None:
    api = start_api()
    body = {"place_id": PARIS, "max_tours": 2, "minutes_per_tour": 90, "start": f"{PARIS}-k000"}
    headers = {"Prefer": "respond-async, wait=20", "Idempotency-Key": "paris-1"}
    response = api.post("/api/generate-city", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "wait=20"
    result = response.json()
    assert result["success"] is True
    assert result["tours"] == 2
    assert response.headers["content-location"] == f"/cities/{result['city_id']}"
    city = api.get(f"/cities/{result['city_id']}").json()
    assert city["start"] == {"lat": 48.8584, "lng": 2.2945}  # the Eiffel Tower
    check_tours(city, budget=90, max_tours=2)

    again = api.post("/api/generate-city", json=body, headers={"Idempotency-Key": "paris-1"})
    assert again.status_code == 200
    assert again.json()["id"] == result["city_id"]
    other = api.post(
        "/api/generate-city", json={**body, "max_tours": 3}, headers={"Idempotency-Key": "paris-1"}
    )
    assert other.status_code == 422
    # a wait past the cap is cut to it, and said so
    capped = api.post("/api/generate-city", json=body, headers={"Prefer": "wait=600"})
    assert capped.headers["preference-applied"] == "wait=25"
    second = capped.json()["city_id"]

    first_page = api.get("/cities", params={"limit": 1}).json()
    assert [c["id"] for c in first_page["items"]] == [second]  # newest first
    cursor = {"limit": 1, "cursor": first_page["next_cursor"]}
    last_page = api.get("/cities", params=cursor).json()
    assert ([c["id"] for c in last_page["items"]], last_page["next_cursor"]) == (
        [result["city_id"]],
        None,
    )


def test_an_unknown_place_fails_the_job_with_a_clear_error(start_api: ApiFactory) -> None:
    api = start_api()
    response = api.post("/api/generate-city", json={"place_id": "nowhere-at-all"})
    assert response.status_code == 202
    job = poll(api, response.json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["type"] == "PlaceNotFoundError"
    assert "nowhere-at-all" in job["error"]["message"]
    inline = api.post(
        "/api/generate-city", json={"place_id": "nowhere-else"}, headers={"Prefer": "wait=10"}
    )
    assert inline.status_code == 200
    assert inline.json()["success"] is False
    assert inline.json()["error"]["type"] == "PlaceNotFoundError"
    far = api.post(
        "/api/generate-city",
        json={"place_id": PARIS, "start": {"lat": 40.0, "lng": -3.7}},
        headers={"Prefer": "wait=10"},
    ).json()
    assert far["error"]["type"] == "StartTooFarError"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_wait_that_runs_out_answers_202_and_delete_cancels_a_running_job(
    start_api: ApiFactory,
) -> None:
    api = start_api(offline_seconds_per_stage=2)
    response = api.post(
        "/api/generate-city", json={"place_id": PARIS}, headers={"Prefer": "wait=1"}
    )
    assert response.status_code == 202
    assert response.headers["preference-applied"] == "wait=1"
    job = response.json()
    assert job["status"] in ("queued", "running")
    assert response.headers["location"] == f"/jobs/{job['id']}"

    cancelled = api.delete(f"/cities/{job['id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert api.get(f"/cities/{job['id']}").status_code == 404
    assert api.delete(f"/cities/{job['id']}").status_code == 204  # now the job goes too
    assert api.get(f"/jobs/{job['id']}").status_code == 404


BAD_BODIES = [
    ({}, "place_id"),
    ({"place_id": ""}, "place_id"),
    ({"place_id": "Ch/IJ"}, "place_id"),
    ({"place_id": PARIS, "max_tours": 0}, "max_tours"),
    ({"place_id": PARIS, "max_tours": 11}, "max_tours"),
    ({"place_id": PARIS, "minutes_per_tour": 29}, "minutes_per_tour"),
    ({"place_id": PARIS, "minutes_per_tour": 481}, "minutes_per_tour"),
    ({"place_id": PARIS, "max_attractions": 0}, "max_attractions"),
    ({"place_id": PARIS, "language": "french!"}, "language"),
    ({"place_id": PARIS, "surprise": 1}, "surprise"),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_input_is_a_422(start_api: ApiFactory) -> None:
    api = start_api()
    for body, field in BAD_BODIES:
        response = api.post("/api/generate-city", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert field in json.dumps(response.json()["errors"]), body
    bad_start = api.post("/api/generate-city", json={"place_id": PARIS, "start": {"lat": 91}})
    assert bad_start.status_code == 422
    assert api.get("/cities", params={"cursor": "not-ours"}).status_code == 400
    assert api.get("/cities/nope/tours/0.gpx").status_code == 422
    assert api.get("/jobs").json()["items"] == []


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cities_live_in_a_database_of_their_own(start_api: ApiFactory, postgres_url: str) -> None:
    api = start_api(database_url=postgres_url, database_pooler="transaction")
    body = {"place_id": PARIS, "max_tours": 1, "minutes_per_tour": 60}
    result = api.post("/api/generate-city", json=body, headers={"Prefer": "wait=20"}).json()
    assert result["success"] is True, result
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            ids = connection.execute(sa.text("SELECT id FROM tours_cities")).scalars().all()
            tables = sa.inspect(connection).get_table_names()
    finally:
        engine.dispose()
    assert ids == [result["city_id"]]
    assert "jobs" not in " ".join(tables)  # only the tours branch was migrated there
    assert api.get(f"/cities/{result['city_id']}").json()["tour_count"] == 1
