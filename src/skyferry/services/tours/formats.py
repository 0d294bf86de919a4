"""A tour as GeoJSON (RFC 7946) and as GPX 1.1, for maps and for walking apps.

GeoJSON: a FeatureCollection with one LineString (start → stops in order → start) and one
Point per stop plus the start, coordinates as [longitude, latitude]. GPX, written by gpxpy: a
waypoint per stop and a route through them, closing at the start.
"""

from __future__ import annotations

from typing import Any

from skyferry.services.tours.models import LatLng, Tour

GEOJSON_MEDIA_TYPE = "application/geo+json"
GPX_MEDIA_TYPE = "application/gpx+xml"


def _position(point: LatLng) -> list[float]:
    return [point.lng, point.lat]


def geojson(city_name: str, start: LatLng, tour: Tour) -> dict[str, Any]:
    path = [start, *(stop.location for stop in tour.stops), start]
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [_position(p) for p in path]},
            "properties": {
                "kind": "route",
                "name": f"{city_name}: tour {tour.number}",
                "walking_metres": tour.walking_metres,
                "walking_minutes": tour.walking_minutes,
                "visit_minutes": tour.visit_minutes,
                "total_minutes": tour.total_minutes,
            },
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": _position(start)},
            "properties": {"kind": "start", "name": "Start and finish"},
        },
    ]
    features += [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": _position(stop.location)},
            "properties": {
                "kind": "stop",
                "position": stop.position,
                "name": stop.name,
                "place_id": stop.place_id,
                "visit_minutes": stop.visit_minutes,
                "walk_metres": stop.leg.distance_metres,
                "walk_seconds": stop.leg.walking_seconds,
            },
        }
        for stop in tour.stops
    ]
    return {"type": "FeatureCollection", "features": features}


def gpx(city_name: str, start: LatLng, tour: Tour) -> str:
    import gpxpy.gpx  # here, not at the top: every skyferry process imports this module

    document = gpxpy.gpx.GPX()
    document.name = f"{city_name}: tour {tour.number}"
    document.creator = "skyferry tours"
    route = gpxpy.gpx.GPXRoute(name=document.name)
    route.points.append(gpxpy.gpx.GPXRoutePoint(start.lat, start.lng, name="Start"))
    for stop in tour.stops:
        description = f"visit {stop.visit_minutes} min; walk {stop.leg.distance_metres} m"
        document.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                stop.location.lat, stop.location.lng, name=stop.name, description=description
            )
        )
        route.points.append(
            gpxpy.gpx.GPXRoutePoint(stop.location.lat, stop.location.lng, name=stop.name)
        )
    route.points.append(gpxpy.gpx.GPXRoutePoint(start.lat, start.lng, name="Finish"))
    document.routes.append(route)
    return str(document.to_xml(version="1.1"))
