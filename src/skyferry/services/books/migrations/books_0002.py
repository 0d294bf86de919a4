"""Books: the row no longer mirrors its job's status; the job is the only source of truth.

Revision ID: books_0002
Revises: books_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "books_0002"
down_revision = "books_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_books_books_status", table_name="books_books")
    with op.batch_alter_table("books_books") as batch:
        batch.drop_column("status")
        batch.drop_column("error")
        batch.drop_column("started_at")


def downgrade() -> None:
    with op.batch_alter_table("books_books") as batch:
        batch.add_column(sa.Column("started_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("error", sa.Text, nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="succeeded")
        )
    op.create_index("ix_books_books_status", "books_books", ["status"], unique=False)
