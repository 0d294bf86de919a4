"""The catalog of datasets: one SQL row per dataset, on SQLite or Postgres.

Kept in SQL rather than as a JSON manifest in the blob store because registering one dataset
is then a single atomic upsert that cannot lose a concurrent ingest of another (the blob port has
no conditional put), and every process reads the current catalog without caching a manifest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.services.datasets.models import Column, Dataset
from skyferry.storage.sql import new_metadata, upsert

metadata = new_metadata()
"""This service's tables, migrated by its own branch (``migrations/``)."""

catalog_table = sa.Table(
    "datasets_catalog",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("blob_key", sa.String(1024), nullable=False),
    sa.Column("columns", sa.JSON, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sorted_by", sa.String(1000), nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
)


class Catalog:
    """Reads and writes catalog rows; blocking, so async callers run it in a thread."""

    def __init__(self, database: Engine) -> None:
        self._database = database

    def get(self, name: str) -> Dataset | None:
        with self._database.connect() as connection:
            row = connection.execute(
                sa.select(catalog_table).where(catalog_table.c.name == name)
            ).first()
        return None if row is None else _dataset(row._mapping)

    def entries(self) -> list[Dataset]:
        with self._database.connect() as connection:
            rows = connection.execute(sa.select(catalog_table).order_by(catalog_table.c.name))
            return [_dataset(row._mapping) for row in rows]

    def names(self) -> list[str]:
        with self._database.connect() as connection:
            return list(
                connection.scalars(sa.select(catalog_table.c.name).order_by(catalog_table.c.name))
            )

    def put(self, dataset: Dataset) -> Dataset | None:
        """Register or replace ``dataset``; returns the entry it replaced, if any."""
        values = {
            "name": dataset.name,
            "description": dataset.description,
            "blob_key": dataset.blob_key,
            "columns": [column.model_dump(mode="json") for column in dataset.columns],
            "row_count": dataset.row_count,
            "size_bytes": dataset.size_bytes,
            "sorted_by": dataset.sorted_by,
            "updated_at": dataset.updated_at.timestamp(),
        }
        with self._database.begin() as connection:
            row = connection.execute(
                sa.select(catalog_table).where(catalog_table.c.name == dataset.name)
            ).first()
            upsert(connection, catalog_table, values, ["name"])
        return None if row is None else _dataset(row._mapping)

    def delete(self, name: str) -> Dataset | None:
        """Remove the entry; returns it, or None when there was none."""
        with self._database.begin() as connection:
            row = connection.execute(
                sa.delete(catalog_table)
                .where(catalog_table.c.name == name)
                .returning(*catalog_table.c)
            ).first()
        return None if row is None else _dataset(row._mapping)


def _dataset(row: Any) -> Dataset:
    return Dataset(
        name=row["name"],
        description=row["description"],
        blob_key=row["blob_key"],
        columns=[Column.model_validate(column) for column in row["columns"]],
        row_count=row["row_count"],
        size_bytes=row["size_bytes"],
        sorted_by=row["sorted_by"],
        updated_at=datetime.fromtimestamp(row["updated_at"], UTC),
    )
