"""Inventory settings (``SKYFERRY_INVENTORY__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class InventorySettings(BaseModel):
    backend: Literal["sql", "dynamodb"] = Field(
        default="sql", description="Where items live: the SQL database or a DynamoDB table."
    )
    dynamodb_table: str = Field(default="skyferry-inventory", min_length=3, max_length=255)
    dynamodb_region: str = "us-east-1"
    files_prefix: str = Field(
        default="inventory/files/", description="Blob-store prefix for files."
    )
    max_upload_bytes: int = Field(default=1024**3, gt=0, description="Largest file PUT accepted.")
