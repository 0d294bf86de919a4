"""Datasets settings (``SKYFERRY_DATASETS__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DatasetsSettings(BaseModel):
    prefix: str = Field(default="datasets/", description="Blob-store prefix of the Parquet files.")
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per client per minute before 429."
    )
    duckdb_threads: int = Field(default=2, ge=1, le=64)
    duckdb_memory_limit: str = Field(default="512MB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB)$")
    chunk_rows: int = Field(default=50_000, ge=1000, description="Rows per streamed batch.")
