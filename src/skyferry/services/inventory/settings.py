"""Inventory settings (``SKYFERRY_INVENTORY__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

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
    files_folders: bool = Field(
        default=True,
        description="false: files are single names at files_prefix, without '/': for files "
        "kept at a bucket's root (files_prefix empty), beside other services' folders.",
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

    @model_validator(mode="after")
    def _root_is_flat(self) -> InventorySettings:
        # at the store's root, folders are the other services' (books/, datasets/…): an empty
        # prefix with folders would serve their objects as files
        if not self.files_prefix and self.files_folders:
            raise ValueError(
                "an empty files_prefix needs files_folders=false "
                "(SKYFERRY_INVENTORY__FILES_FOLDERS=false), so that only the files at the root "
                "are served, not other services' objects in their folders"
            )
        return self
