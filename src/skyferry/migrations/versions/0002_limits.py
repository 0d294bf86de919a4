"""Shared limits: N lease slots per limit name, for caps that hold across all workers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skyferry_limit_slots",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", "slot", name="pk_skyferry_limit_slots"),
    )


def downgrade() -> None:
    op.drop_table("skyferry_limit_slots")
