"""Library: uploads, the shared lookup cache and daily quota use.

Revision ID: library_0001
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "library_0001"
down_revision = "0001"
branch_labels = ("library",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_uploads",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("filename", sa.String(500), nullable=False),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("export_key", sa.String(500), nullable=False),
        sa.Column("dashboard_key", sa.String(500), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_library_uploads"),
    )
    op.create_index("ix_library_uploads_sha256", "library_uploads", ["sha256"], unique=False)
    op.create_table(
        "library_lookups",
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("key", sa.String(600), nullable=False),
        sa.Column("found", sa.Boolean, nullable=False),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.Column("fetched_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("source", "key", name="pk_library_lookups"),
    )
    op.create_table(
        "library_quota_usage",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("used", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", "day", name="pk_library_quota_usage"),
    )


def downgrade() -> None:
    op.drop_table("library_quota_usage")
    op.drop_table("library_lookups")
    op.drop_index("ix_library_uploads_sha256", table_name="library_uploads")
    op.drop_table("library_uploads")
