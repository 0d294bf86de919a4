"""The books service's one table: each book's request, status mirror and where its text lives.

The text itself is in the blob store; ``status`` turns ``succeeded`` only in the transaction that
also records the finished book's blob keys, so a reader never sees a half-written book as done.
"""

from __future__ import annotations

import sqlalchemy as sa

from skyferry.storage.sql import metadata

books = sa.Table(
    "books_books",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("title", sa.String(300), nullable=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("word_count", sa.Integer, nullable=True),
    sa.Column("provider", sa.String(50), nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("blobs", sa.JSON, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Index("ix_books_books_created", "created_at", "id"),
)
