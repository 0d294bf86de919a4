"""Tours: cities, their tours and each tour's stops.

A root of its own (no down revision): the tours tables can be migrated on a database that
holds nothing else, a separate ``SKYFERRY_TOURS__DATABASE_URL`` such as Supabase's.

Revision ID: tours_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tours_0001"
down_revision = None
branch_labels = ("tours",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tours_cities",
        sa.Column("id", sa.String(200), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_tours_cities"),
    )
    op.create_index("ix_tours_cities_created", "tours_cities", ["created_at", "id"])
    op.create_table(
        "tours_tours",
        sa.Column("city_id", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("walking_metres", sa.Integer, nullable=False),
        sa.Column("walking_minutes", sa.Float, nullable=False),
        sa.Column("visit_minutes", sa.Integer, nullable=False),
        sa.Column("total_minutes", sa.Float, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("return_metres", sa.Integer, nullable=False),
        sa.Column("return_seconds", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("city_id", "number", name="pk_tours_tours"),
    )
    op.create_table(
        "tours_stops",
        sa.Column("city_id", sa.String(200), nullable=False),
        sa.Column("tour_number", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
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
        sa.PrimaryKeyConstraint("city_id", "tour_number", "position", name="pk_tours_stops"),
    )


def downgrade() -> None:
    op.drop_table("tours_stops")
    op.drop_table("tours_tours")
    op.drop_index("ix_tours_cities_created", table_name="tours_cities")
    op.drop_table("tours_cities")
