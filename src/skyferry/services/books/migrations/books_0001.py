"""Books: one row per book (request, status mirror, word count, provider, blob keys).

Revision ID: books_0001
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "books_0001"
down_revision = "0001"
branch_labels = ("books",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "books_books",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("word_count", sa.Integer, nullable=True),
        sa.Column("provider", sa.String(50), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("blobs", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_books_books"),
    )
    op.create_index("ix_books_books_status", "books_books", ["status"], unique=False)
    op.create_index("ix_books_books_created", "books_books", ["created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_books_books_created", table_name="books_books")
    op.drop_index("ix_books_books_status", table_name="books_books")
    op.drop_table("books_books")
