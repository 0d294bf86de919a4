"""Inventory settings (``SKYFERRY_INVENTORY__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from skyferry.storage.blobs.keys import validate_prefix
from skyferry.storage.errors import InvalidBlobKeyError


class InventorySettings(BaseModel):
    backend: Literal["sql", "dynamodb"] = Field(
        default="sql", description="Where items live: the SQL database or a DynamoDB table."
    )
    dynamodb_table: str = Field(
        default="skyferry-inventory", min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$"
    )
    dynamodb_region: str = "us-east-1"
    files_prefix: str = Field(
        default="inventory/files/", description="Blob-store prefix for files."
    )
    max_upload_bytes: int = Field(default=1024**3, gt=0, description="Largest file PUT accepted.")

    @field_validator("files_prefix")
    @classmethod
    def _folder(cls, value: str) -> str:
        # checked at start-up, so a bad prefix is a configuration error, not a 400 on each upload
        if value and not value.endswith("/"):
            raise ValueError("must be empty or end with '/', e.g. inventory/files/")
        try:
            return validate_prefix(value)
        except InvalidBlobKeyError as exc:
            raise ValueError(exc.reason) from None
