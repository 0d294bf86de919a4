"""The library API's shapes: the original Goodreads Stats answers, field for field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ImportRequest(BaseModel):
    """An import job's parameters: which stored export to read (by its content hash)."""

    filename: str = Field(max_length=500)
    file_size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class UploadAccepted(BaseModel):
    uuid: str
    status: Literal["processing"] = "processing"
    message: str = "Upload successful, processing started"


class UploadProgress(BaseModel):
    total_books: int
    processed_books: int
    percent_complete: float


class UploadStatus(BaseModel):
    uuid: str
    status: Literal["processing", "complete", "error"]
    upload_time: str
    filename: str
    file_size: int
    progress: UploadProgress
    message: str
    data_url: str | None = None
    completion_time: str | None = None
    error_message: str | None = None
    skipped_sources: dict[str, str] = Field(
        default_factory=dict,
        description="Enrichment sources not asked right now, and why (no key, quota used up).",
    )


class Deleted(BaseModel):
    message: str = "Data deleted successfully"
    deleted_files: list[str]


Dashboard = dict[str, Any]
"""The dashboard JSON (see ``dashboard.build``): served as stored."""
