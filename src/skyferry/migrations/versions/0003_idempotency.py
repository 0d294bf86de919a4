"""Idempotency keys: which submit created a job, so racing repeats agree on one winner.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skyferry_idempotency_keys",
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_skyferry_idempotency_keys"),
    )


def downgrade() -> None:
    op.drop_table("skyferry_idempotency_keys")
