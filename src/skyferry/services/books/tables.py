"""The books service's one table: each book's request and where its results live.

Status is not here: the book's job is the only source of truth for it. The outline step writes
the row (request and title); the assemble step, the job's commit point, records the finished
book's blob keys, so a book whose job succeeded always has them.
"""

from __future__ import annotations

import sqlalchemy as sa

from skyferry.storage.sql import new_metadata

metadata = new_metadata()
"""This service's tables, migrated by its own branch (``migrations/``)."""

books = sa.Table(
    "books_books",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("title", sa.String(300), nullable=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("word_count", sa.Integer, nullable=True),
    sa.Column("provider", sa.String(50), nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("blobs", sa.JSON, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Index("ix_books_books_created", "created_at", "id"),
)
