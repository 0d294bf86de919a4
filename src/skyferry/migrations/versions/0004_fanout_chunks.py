"""Fan-out chunks: a fan-out's items spread over the worker processes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skyferry_fanout_chunks",
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column("fanout", sa.String(100), nullable=False),
        sa.Column("start", sa.Integer, nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", sa.Float, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("job_id", "fanout", "start", name="pk_skyferry_fanout_chunks"),
    )


def downgrade() -> None:
    op.drop_table("skyferry_fanout_chunks")
