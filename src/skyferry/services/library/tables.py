"""The library service's tables: uploads, the lookup cache every upload shares, quota use.

An upload's status, progress and error are its job's; the row keeps what the job does not:
the file's name, size and hash, where its export and dashboard are stored.
"""

from __future__ import annotations

import sqlalchemy as sa

from skyferry.storage.sql import new_metadata

metadata = new_metadata()
"""This service's tables, migrated by its own branch (``migrations/``)."""

uploads = sa.Table(
    "library_uploads",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("filename", sa.String(500), nullable=False),
    sa.Column("file_size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("export_key", sa.String(500), nullable=False),
    sa.Column("dashboard_key", sa.String(500), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_library_uploads_sha256", "sha256"),
)

lookups = sa.Table(
    "library_lookups",
    metadata,
    sa.Column("source", sa.String(50), primary_key=True),
    sa.Column("key", sa.String(600), primary_key=True),
    sa.Column("found", sa.Boolean, nullable=False),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("fetched_at", sa.Float, nullable=False),
)

quota_usage = sa.Table(
    "library_quota_usage",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
)
