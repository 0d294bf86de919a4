"""Where uploads live: a row in ``library_uploads`` and blobs under ``library/``.

Blob layout: ``library/exports/{sha256}.csv`` is the uploaded file, stored by its content so
that a repeated upload (an Idempotency-Key retry) names the very same blob; ``library/{id}/
export.json`` is the parsed export and ``library/{id}/dashboard.json`` the finished dashboard.
An upload's status is its job's; the row adds the file's name, size and hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.services.library.tables import uploads
from skyferry.storage.blobs import BlobStore
from skyferry.storage.errors import BlobNotFoundError
from skyferry.storage.sql import insert_missing


@dataclass(frozen=True)
class UploadRow:
    id: str
    filename: str
    file_size: int
    sha256: str
    export_key: str
    dashboard_key: str | None
    created_at: float


def export_key(sha256: str) -> str:
    return f"library/exports/{sha256}.csv"


def parsed_key(upload_id: str) -> str:
    return f"library/{upload_id}/export.json"


def books_key(upload_id: str) -> str:
    return f"library/{upload_id}/books.json"


def dashboard_key(upload_id: str) -> str:
    return f"library/{upload_id}/dashboard.json"


class UploadStore:
    def __init__(self, database: Engine, blobs: BlobStore) -> None:
        self.database = database
        self.blobs = blobs

    async def record(self, upload_id: str, filename: str, file_size: int, sha256: str) -> None:
        """The upload's row, unless it is there (the route writes it, the job again if need be)."""
        row = {
            "id": upload_id,
            "filename": filename[:500],
            "file_size": file_size,
            "sha256": sha256,
            "export_key": export_key(sha256),
            "dashboard_key": None,
            "created_at": time.time(),
        }
        await asyncio.to_thread(self._insert, row)

    async def mark_complete(self, upload_id: str) -> None:
        await asyncio.to_thread(
            self._update, upload_id, {"dashboard_key": dashboard_key(upload_id)}
        )

    async def get(self, upload_id: str) -> UploadRow | None:
        return await asyncio.to_thread(self._get, upload_id)

    async def delete(self, row: UploadRow) -> list[str]:
        """Everything stored for the upload; the export file only if no other upload shares it.

        Blobs first, then the row: a crash in between leaves a row to delete again.
        """
        keys = [parsed_key(row.id), books_key(row.id), dashboard_key(row.id)]
        if not await asyncio.to_thread(self._shared, row):
            keys.append(row.export_key)
        deleted = []
        for key in keys:
            with contextlib.suppress(BlobNotFoundError):
                await self.blobs.delete(key)
                deleted.append(key.rsplit("/", 1)[-1])
        await asyncio.to_thread(self._delete, row.id)
        return deleted

    async def put_json(self, key: str, value: Any) -> None:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        await self.blobs.put(key, data, content_type="application/json")

    async def get_json(self, key: str) -> Any:
        return json.loads(await self.blobs.read(key))

    # -- SQL -------------------------------------------------------------------------------------

    def _insert(self, row: dict[str, Any]) -> None:
        with self.database.begin() as connection:
            insert_missing(connection, uploads, row)

    def _update(self, upload_id: str, values: dict[str, Any]) -> None:
        with self.database.begin() as connection:
            connection.execute(sa.update(uploads).where(uploads.c.id == upload_id).values(**values))

    def _get(self, upload_id: str) -> UploadRow | None:
        query = sa.select(uploads).where(uploads.c.id == upload_id)
        with self.database.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return UploadRow(
            id=row.id,
            filename=row.filename,
            file_size=row.file_size,
            sha256=row.sha256,
            export_key=row.export_key,
            dashboard_key=row.dashboard_key,
            created_at=row.created_at,
        )

    def _shared(self, row: UploadRow) -> bool:
        query = sa.select(sa.func.count()).where(
            uploads.c.sha256 == row.sha256, uploads.c.id != row.id
        )
        with self.database.connect() as connection:
            return int(connection.execute(query).scalar_one()) > 0

    def _delete(self, upload_id: str) -> None:
        with self.database.begin() as connection:
            connection.execute(sa.delete(uploads).where(uploads.c.id == upload_id))
