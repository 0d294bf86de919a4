"""HTTP routes for the library: the original Goodreads Stats API, unchanged.

``POST /upload`` (multipart field ``csv``) answers 200 with ``{"uuid", "status", "message"}`` as
the original did, plus ``Location: /jobs/{id}``; ``GET /status/{uuid}``, ``GET /data/{uuid}``
(202 while processing) and ``DELETE /data/{uuid}``. Errors are problem documents, whose
``detail`` member is where the original's clients read ``{"detail": ...}``.

The upload is checked in the request (it is a CSV, it has an export's columns, it is not too
large) so a wrong file is refused at once; rows are read by the job.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, UploadFile
from fastapi.responses import JSONResponse

import skyferry
from skyferry.http.problems import errors
from skyferry.jobs.current import JobNotFoundError
from skyferry.services.library.enrichment import unavailable
from skyferry.services.library.errors import (
    ExportError,
    ExportTooLargeError,
    ProcessingFailedError,
    UploadNotFoundError,
)
from skyferry.services.library.exports import check_header
from skyferry.services.library.models import (
    Deleted,
    ImportRequest,
    UploadAccepted,
    UploadProgress,
    UploadStatus,
)
from skyferry.services.library.resources import Library, library
from skyferry.services.library.settings import LibrarySettings
from skyferry.services.library.store import UploadRow, export_key
from skyferry.services.library.workflows import ENRICHING, import_library

UploadId = Annotated[str, Path(max_length=100, description="The uuid POST /upload answered with.")]
Deps = Annotated[Library, Depends(library)]

_MULTIPART_OVERHEAD = 64 * 1024
_READ_CHUNK = 1024 * 1024


def build_router(settings: LibrarySettings) -> APIRouter:
    router = APIRouter(tags=["library"])

    @router.post(
        "/upload",
        response_model=UploadAccepted,
        summary="Upload a Goodreads or StoryGraph export; poll /status/{uuid}",
        max_body_size=settings.max_upload_bytes + _MULTIPART_OVERHEAD,
        responses=errors(409),
    )
    async def upload(
        deps: Deps,
        csv: Annotated[UploadFile, File(description="The library export (.csv)")],
        idempotency_key: skyferry.IdempotencyKey = None,
    ) -> JSONResponse:
        filename = (csv.filename or "export.csv").replace("\\", "/").rsplit("/", 1)[-1]
        if not filename.lower().endswith((".csv", ".txt")):
            raise ExportError("File must be a CSV", filename=filename[:200])
        data = await _read(csv, deps.settings.max_upload_bytes)
        check_header(data)
        sha256 = hashlib.sha256(data).hexdigest()
        await deps.store.blobs.put(export_key(sha256), data, content_type="text/csv")
        params = ImportRequest(filename=filename, file_size=len(data), sha256=sha256)
        submission = await import_library.submit(params, idempotency_key)
        await deps.store.record(submission.job.id, filename, len(data), sha256)
        body = UploadAccepted(uuid=submission.job.id)
        return JSONResponse(
            body.model_dump(mode="json"), headers={"Location": f"/jobs/{submission.job.id}"}
        )

    return router


router = APIRouter(tags=["library"])


@router.get(
    "/status/{upload_id}", response_model=UploadStatus, summary="An upload's processing status"
)
async def status(deps: Deps, upload_id: UploadId) -> UploadStatus:
    row, job = await _upload(deps, upload_id)
    view = _status(row, job)
    for source in deps.sources:
        reason = unavailable(deps, source)
        if reason:
            view.skipped_sources[source.name] = reason
    return view


@router.get(
    "/data/{upload_id}",
    summary="The dashboard JSON of a finished upload (202 while it is processed)",
    responses={202: {"description": "Still processing."}, **errors(409)},
)
async def data(deps: Deps, upload_id: UploadId) -> Any:
    row, job = await _upload(deps, upload_id)
    if job.status is skyferry.JobStatus.SUCCEEDED and row.dashboard_key:
        return await deps.store.get_json(row.dashboard_key)
    if job.status.is_final:
        reason = job.error.message if job.error else job.status.value
        raise ProcessingFailedError(f"Processing failed: {reason}")
    return JSONResponse({"detail": "Still processing"}, status_code=202)


@router.delete(
    "/data/{upload_id}", response_model=Deleted, summary="Delete everything stored for an upload"
)
async def delete(deps: Deps, upload_id: UploadId) -> Deleted:
    row, job = await _upload(deps, upload_id)
    if not job.status.is_final:
        await import_library.cancel(upload_id)
    deleted = await deps.store.delete(row)
    await import_library.delete(upload_id)
    return Deleted(deleted_files=deleted)


# -- helpers -------------------------------------------------------------------------------------


async def _read(upload: UploadFile, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ExportTooLargeError(limit)
        chunks.append(chunk)
    if not size:
        raise ExportError("the file is empty: expected a Goodreads or StoryGraph export")
    return b"".join(chunks)


async def _upload(deps: Library, upload_id: str) -> tuple[UploadRow, skyferry.Job]:
    row = await deps.store.get(upload_id)
    if row is None:
        raise UploadNotFoundError(upload_id)
    try:
        job = await import_library.get(upload_id)
    except JobNotFoundError:
        raise UploadNotFoundError(upload_id) from None
    return row, job


def _status(row: UploadRow, job: skyferry.Job) -> UploadStatus:
    state = job.status
    total = job.progress.total or 0
    done = min(job.progress.done, total) if total else 0
    if state is skyferry.JobStatus.SUCCEEDED:
        shown = "complete"
        done, message = total, "Processing complete"
    elif state.is_final:
        shown, message = "error", "Processing failed"
    else:
        shown = "processing"
        message = _message(job)
    percent = round(done / total * 100, 1) if total else (100.0 if shown == "complete" else 0.0)
    return UploadStatus(
        uuid=row.id,
        status=shown,
        upload_time=_iso(row.created_at),
        filename=row.filename,
        file_size=row.file_size,
        progress=UploadProgress(total_books=total, processed_books=done, percent_complete=percent),
        message=message,
        data_url=f"/data/{row.id}" if shown == "complete" else None,
        completion_time=_iso(job.finished_at.timestamp()) if job.finished_at else None,
        error_message=_error(job) if shown == "error" else None,
    )


def _message(job: skyferry.Job) -> str:
    text = job.progress.message
    if not text:
        return "Queued" if job.status is skyferry.JobStatus.QUEUED else "Reading the export"
    if text.startswith(f"{ENRICHING}:"):
        return "Starting genre enrichment" if job.progress.done == 0 else ENRICHING
    return text


def _error(job: skyferry.Job) -> str:
    if job.status is skyferry.JobStatus.CANCELLED:
        return "cancelled"
    return job.error.message if job.error else job.status.value


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
