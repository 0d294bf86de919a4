"""GeoJSON checked by the geojson library, GPX read back by gpxpy."""

from __future__ import annotations

import io
import json

import geojson
import gpxpy

from skyferry.services.tours import formats
from skyferry.services.tours.models import LatLng, Leg, Stop, Tour

START = LatLng(lat=48.8566, lng=2.3522)


def tour() -> Tour:
    stops = [
        Stop(
            position=n,
            place_id=f"p{n}",
            name=name,
            location=LatLng(lat=lat, lng=lng),
            types=["museum"],
            rating=4.6,
            score=0.9,
            visit_minutes=30,
            leg=Leg(distance_metres=800, walking_seconds=640),
        )
        for n, (name, lat, lng) in enumerate(
            [("Louvre & friends", 48.8606, 2.3376), ("Musée d'Orsay", 48.86, 2.3266)], 1
        )
    ]
    return Tour(
        number=1,
        stops=stops,
        return_leg=Leg(distance_metres=1900, walking_seconds=1520),
        walking_metres=3500,
        walking_minutes=46.7,
        visit_minutes=60,
        total_minutes=106.7,
        score=1.8,
    )


def test_geojson_is_valid_with_a_line_and_points() -> None:
    document = formats.geojson("Paris", START, tour())
    parsed = geojson.loads(json.dumps(document))
    assert parsed.is_valid, parsed.errors()
    line, start, *stops = parsed["features"]
    assert line["geometry"]["type"] == "LineString"
    assert line["geometry"]["coordinates"][0] == [2.3522, 48.8566]  # longitude first
    assert start["properties"]["kind"] == "start"
    assert [s["properties"]["name"] for s in stops] == ["Louvre & friends", "Musée d'Orsay"]


def test_gpx_reads_back_with_every_stop() -> None:
    parsed = gpxpy.parse(io.StringIO(formats.gpx("Paris", START, tour())))
    assert parsed.name == "Paris: tour 1"
    assert [w.name for w in parsed.waypoints] == ["Louvre & friends", "Musée d'Orsay"]
    assert (parsed.waypoints[0].latitude, parsed.waypoints[0].longitude) == (48.8606, 2.3376)
    points = parsed.routes[0].points
    assert [p.name for p in points] == ["Start", "Louvre & friends", "Musée d'Orsay", "Finish"]
