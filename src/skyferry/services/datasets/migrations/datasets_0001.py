"""The datasets catalog: one row per dataset, naming its Parquet blob and its schema.

Revision ID: datasets_0001
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "datasets_0001"
down_revision = "0001"
branch_labels = ("datasets",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets_catalog",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("blob_key", sa.String(1024), nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sorted_by", sa.String(1000), nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_datasets_catalog"),
    )


def downgrade() -> None:
    op.drop_table("datasets_catalog")
