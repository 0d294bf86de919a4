"""Datasets schemas: the catalog record, and what the HTTP API shows of it."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
"""Lower case, digits, '-' and '_': safe in a URL, a blob key and a file name, and never holding
the '.' that separates a download's name from its extension."""

_NAME = re.compile(NAME_PATTERN)

RESERVED_NAMES = frozenset({"openapi"})
"""``/openapi.json`` is the app's OpenAPI document, registered before any dataset route."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a dataset, or None when it can."""
    if not _NAME.match(name):
        return "use 1-100 of a-z, 0-9, '-' and '_', starting with a letter or digit"
    if name in RESERVED_NAMES:
        return f"{name!r} is reserved: /{name}.json is taken by the app"
    return None


class ColumnStats(BaseModel):
    """Measured when the dataset was ingested (DuckDB's SUMMARIZE); min and max as text."""

    min: str | None = None
    max: str | None = None
    approx_distinct: int | None = None
    null_fraction: float | None = None


class Column(BaseModel):
    name: str
    type: str = Field(description="DuckDB type, e.g. BIGINT, VARCHAR, DATE.")
    stats: ColumnStats = Field(default_factory=ColumnStats)


class Dataset(BaseModel):
    """A catalog entry: one Parquet blob and what was learned about it at ingest."""

    name: str
    description: str = ""
    blob_key: str
    columns: list[Column]
    row_count: int
    size_bytes: int
    sorted_by: str | None = None
    updated_at: datetime

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


class DatasetSummary(BaseModel):
    name: str
    description: str
    row_count: int
    size_bytes: int = Field(description="Size of the stored Parquet file.")
    updated_at: datetime
    downloads: dict[str, str] = Field(description="Download path per format.")


class DatasetDetail(DatasetSummary):
    columns: list[Column]
    sorted_by: str | None = Field(
        description="Rows are stored in this column's order, so filters on it skip row groups."
    )
    filters: str = Field(description="How to filter, project and page a download.")


class DatasetList(BaseModel):
    items: list[DatasetSummary]
