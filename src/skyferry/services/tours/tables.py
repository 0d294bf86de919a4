"""The tours service's tables: a city, its tours, each tour's stops in walking order.

Status is not here: a city's job is the only source of truth for it. The save step, the job's
last, writes a city with all its tours and stops in one transaction, so a city that exists is
complete. Rows refer to each other by key without foreign keys, so the tables can live in a
database of their own (``SKYFERRY_TOURS__DATABASE_URL``) as well as in the app's.
"""

from __future__ import annotations

import sqlalchemy as sa

from skyferry.storage.sql import new_metadata

metadata = new_metadata()
"""This service's tables, migrated by its own branch (``migrations/``)."""

cities = sa.Table(
    "tours_cities",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("place_id", sa.String(300), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("address", sa.String(500), nullable=True),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lng", sa.Float, nullable=False),
    sa.Column("start_lat", sa.Float, nullable=False),
    sa.Column("start_lng", sa.Float, nullable=False),
    sa.Column("budget_minutes", sa.Integer, nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("unvisited", sa.JSON, nullable=False),
    sa.Column("tour_count", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_tours_cities_created", "created_at", "id"),
)

tours = sa.Table(
    "tours_tours",
    metadata,
    sa.Column("city_id", sa.String(200), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("walking_metres", sa.Integer, nullable=False),
    sa.Column("walking_minutes", sa.Float, nullable=False),
    sa.Column("visit_minutes", sa.Integer, nullable=False),
    sa.Column("total_minutes", sa.Float, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("return_metres", sa.Integer, nullable=False),
    sa.Column("return_seconds", sa.Integer, nullable=False),
)

stops = sa.Table(
    "tours_stops",
    metadata,
    sa.Column("city_id", sa.String(200), primary_key=True),
    sa.Column("tour_number", sa.Integer, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("place_id", sa.String(300), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lng", sa.Float, nullable=False),
    sa.Column("types", sa.JSON, nullable=False),
    sa.Column("rating", sa.Float, nullable=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("visit_minutes", sa.Integer, nullable=False),
    sa.Column("leg_metres", sa.Integer, nullable=False),
    sa.Column("leg_seconds", sa.Integer, nullable=False),
)
