"""Where cities live: rows in ``tours_cities``, ``tours_tours`` and ``tours_stops``.

SQLAlchemy Core, the same statements on SQLite and Postgres (Supabase included: nothing here
needs a session, so a transaction-mode pooler works). A city is written whole in one
transaction, after deleting whatever an earlier attempt of the same save wrote, so the save
step can run again safely.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from skyferry.http.cursors import decode_cursor, encode_cursor
from skyferry.services.tours.models import (
    City,
    GenerateCity,
    LatLng,
    Leg,
    Plan,
    Stop,
    Tour,
)
from skyferry.services.tours.tables import cities, stops, tours


class _Position(BaseModel):
    """Where a page of ``GET /cities`` ends: newest first, ties by id."""

    created_at: float = Field(ge=0, le=1e12)
    id: str = Field(max_length=200)


@dataclass(frozen=True)
class CityRow:
    id: str
    place_id: str
    name: str
    address: str | None
    location: LatLng
    start: LatLng
    budget_minutes: int
    request: GenerateCity
    unvisited: list[str]
    tour_count: int
    created_at: float


class CityStore:
    def __init__(self, database: Engine) -> None:
        self.database = database

    async def save(self, city_id: str, request: GenerateCity, city: City, plan: Plan) -> None:
        await asyncio.to_thread(self._save, city_id, request, city, plan)

    async def get(self, city_id: str) -> CityRow | None:
        return await asyncio.to_thread(self._get, city_id)

    async def tours_of(self, city_id: str) -> list[Tour]:
        return await asyncio.to_thread(self._tours, city_id)

    async def page(self, limit: int, cursor: str | None) -> tuple[list[CityRow], str | None]:
        after = decode_cursor(cursor, _Position) if cursor else None
        return await asyncio.to_thread(self._page, limit, after)

    async def delete(self, city_id: str) -> bool:
        return await asyncio.to_thread(self._delete, city_id)

    # -- SQL -------------------------------------------------------------------------------------

    def _save(self, city_id: str, request: GenerateCity, city: City, plan: Plan) -> None:
        with self.database.begin() as connection:
            _delete_rows(connection, city_id)
            connection.execute(
                sa.insert(cities).values(
                    id=city_id,
                    place_id=city.place_id[:300],
                    name=city.name[:300],
                    address=(city.address or None) and city.address[:500],
                    lat=city.location.lat,
                    lng=city.location.lng,
                    start_lat=plan.start.lat,
                    start_lng=plan.start.lng,
                    budget_minutes=plan.budget_minutes,
                    request=request.model_dump(mode="json"),
                    unvisited=plan.unvisited,
                    tour_count=len(plan.tours),
                    created_at=time.time(),
                )
            )
            tour_rows = [
                {
                    "city_id": city_id,
                    "number": tour.number,
                    "walking_metres": tour.walking_metres,
                    "walking_minutes": tour.walking_minutes,
                    "visit_minutes": tour.visit_minutes,
                    "total_minutes": tour.total_minutes,
                    "score": tour.score,
                    "return_metres": tour.return_leg.distance_metres,
                    "return_seconds": tour.return_leg.walking_seconds,
                }
                for tour in plan.tours
            ]
            stop_rows = [
                {
                    "city_id": city_id,
                    "tour_number": tour.number,
                    "position": stop.position,
                    "place_id": stop.place_id[:300],
                    "name": stop.name[:300],
                    "lat": stop.location.lat,
                    "lng": stop.location.lng,
                    "types": stop.types,
                    "rating": stop.rating,
                    "score": stop.score,
                    "visit_minutes": stop.visit_minutes,
                    "leg_metres": stop.leg.distance_metres,
                    "leg_seconds": stop.leg.walking_seconds,
                }
                for tour in plan.tours
                for stop in tour.stops
            ]
            if tour_rows:
                connection.execute(sa.insert(tours), tour_rows)
            if stop_rows:
                connection.execute(sa.insert(stops), stop_rows)

    def _get(self, city_id: str) -> CityRow | None:
        with self.database.connect() as connection:
            row = connection.execute(sa.select(cities).where(cities.c.id == city_id)).first()
        return _city(row) if row is not None else None

    def _tours(self, city_id: str) -> list[Tour]:
        with self.database.connect() as connection:
            tour_rows = connection.execute(
                sa.select(tours).where(tours.c.city_id == city_id).order_by(tours.c.number)
            ).all()
            stop_rows = connection.execute(
                sa.select(stops)
                .where(stops.c.city_id == city_id)
                .order_by(stops.c.tour_number, stops.c.position)
            ).all()
        by_tour: dict[int, list[Stop]] = {}
        for s in stop_rows:
            by_tour.setdefault(s.tour_number, []).append(
                Stop(
                    position=s.position,
                    place_id=s.place_id,
                    name=s.name,
                    location=LatLng(lat=s.lat, lng=s.lng),
                    types=list(s.types or []),
                    rating=s.rating,
                    score=s.score,
                    visit_minutes=s.visit_minutes,
                    leg=Leg(distance_metres=s.leg_metres, walking_seconds=s.leg_seconds),
                )
            )
        return [
            Tour(
                number=t.number,
                stops=by_tour.get(t.number, []),
                return_leg=Leg(distance_metres=t.return_metres, walking_seconds=t.return_seconds),
                walking_metres=t.walking_metres,
                walking_minutes=t.walking_minutes,
                visit_minutes=t.visit_minutes,
                total_minutes=t.total_minutes,
                score=t.score,
            )
            for t in tour_rows
        ]

    def _page(self, limit: int, after: _Position | None) -> tuple[list[CityRow], str | None]:
        query = sa.select(cities).order_by(cities.c.created_at.desc(), cities.c.id.desc())
        if after is not None:
            query = query.where(
                sa.or_(
                    cities.c.created_at < after.created_at,
                    sa.and_(cities.c.created_at == after.created_at, cities.c.id < after.id),
                )
            )
        with self.database.connect() as connection:
            rows = [_city(row) for row in connection.execute(query.limit(limit + 1))]
        if len(rows) <= limit:
            return rows, None
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(_Position(created_at=last.created_at, id=last.id))

    def _delete(self, city_id: str) -> bool:
        with self.database.begin() as connection:
            return _delete_rows(connection, city_id)


def _delete_rows(connection: sa.Connection, city_id: str) -> bool:
    connection.execute(sa.delete(stops).where(stops.c.city_id == city_id))
    connection.execute(sa.delete(tours).where(tours.c.city_id == city_id))
    found = connection.execute(
        sa.delete(cities).where(cities.c.id == city_id).returning(cities.c.id)
    ).first()
    return found is not None


def _city(row: sa.Row[Any]) -> CityRow:
    return CityRow(
        id=row.id,
        place_id=row.place_id,
        name=row.name,
        address=row.address,
        location=LatLng(lat=row.lat, lng=row.lng),
        start=LatLng(lat=row.start_lat, lng=row.start_lng),
        budget_minutes=row.budget_minutes,
        request=GenerateCity.model_validate(row.request),
        unvisited=list(row.unvisited or []),
        tour_count=row.tour_count,
        created_at=row.created_at,
    )
