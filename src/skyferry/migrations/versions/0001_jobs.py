"""Job progress, fan-out checkpoints, and worker heartbeats.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skyferry_job_progress",
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=True),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_skyferry_job_progress"),
    )
    op.create_table(
        "skyferry_fanout_items",
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column("fanout", sa.String(100), nullable=False),
        sa.Column("item", sa.Integer, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("output", sa.JSON, nullable=True),
        sa.Column("error_type", sa.String(200), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "fanout", "item", name="pk_skyferry_fanout_items"),
    )
    op.create_table(
        "skyferry_workers",
        sa.Column("executor_id", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("executor_id", name="pk_skyferry_workers"),
    )


def downgrade() -> None:
    op.drop_table("skyferry_workers")
    op.drop_table("skyferry_fanout_items")
    op.drop_table("skyferry_job_progress")
