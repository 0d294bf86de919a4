"""Datasets settings (``SKYFERRY_DATASETS__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, ByteSize, Field, field_validator

from skyferry.storage.blobs.keys import validate_prefix


class DatasetsSettings(BaseModel):
    prefix: str = Field(default="datasets/", description="Blob-store prefix of the Parquet files.")
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per client per minute before 429."
    )
    duckdb_threads: int = Field(default=2, ge=1, le=64)
    duckdb_memory_limit: str = Field(default="512MB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB)$")
    chunk_rows: int = Field(
        default=10_000,
        ge=1000,
        description="Rows per streamed batch: smaller holds less memory, larger costs more calls.",
    )
    buffered_chunks: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Encoded chunks a download may hold while the client catches up.",
    )
    download_memory_budget: ByteSize = Field(
        default=ByteSize(256 * 1024 * 1024),
        ge=1024 * 1024,
        description="Memory the downloads streaming in one process may hold together (e.g. "
        "256MiB); a download that does not fit waits for one to end.",
    )
    download_queue_seconds: float = Field(
        default=60.0,
        ge=0,
        le=300,
        description="How long a download waits for memory before 503 with Retry-After. Behind "
        "a router that gives up sooner (Heroku's allows 30 s for a first byte) set it below that.",
    )
    cache_seconds: int = Field(
        default=300,
        ge=0,
        le=31_536_000,
        description="max-age of a download's Cache-Control (public without API keys, private "
        "with them); 0 sends no-cache, so caches revalidate by ETag every time.",
    )
    max_filter_values: int = Field(
        default=1000, ge=1, le=100_000, description="Values one column filter may list (IN)."
    )
    row_group_rows: int = Field(
        default=100_000, ge=1000, description="Rows per Parquet row group written by ingest."
    )

    @field_validator("prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        if value:
            validate_prefix(value)
        if value and not value.endswith("/"):
            raise ValueError("expected a prefix ending in '/', e.g. datasets/")
        return value
