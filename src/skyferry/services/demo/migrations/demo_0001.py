"""The demo job's step log (created by the core's first revision before the demo was a service).

Revision ID: demo_0001
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "demo_0001"
down_revision = "0001"
branch_labels = ("demo",)
depends_on = None


def upgrade() -> None:
    # databases migrated before the demo became a service already have the table
    if sa.inspect(op.get_bind()).has_table("skyferry_demo_steps"):
        return
    op.create_table(
        "skyferry_demo_steps",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_skyferry_demo_steps"),
    )
    op.create_index(
        "ix_skyferry_demo_steps_job_id", "skyferry_demo_steps", ["job_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_skyferry_demo_steps_job_id", table_name="skyferry_demo_steps")
    op.drop_table("skyferry_demo_steps")
