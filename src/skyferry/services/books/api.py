"""HTTP routes for books, and the one place books errors become problem+json.

The Lambda-era paths (``POST /books/``, ``GET /books/{book_id}``) are served as they were: the
trailing-slash POST is a route of its own, not a redirect old clients might not follow.

A book's status is its job's (the job engine is the truth), except that ``succeeded`` is shown
only once the book's row says the assemble step committed, and a row left behind by a job that
ended without telling it (a timeout, a cancellation elsewhere) is brought up to date on read.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from skyferry.config import Settings
from skyferry.jobs.api import Engine, IdempotencyKey, accept
from skyferry.jobs.engine import JobEngine, JobNotFoundError
from skyferry.jobs.kinds import get_kind
from skyferry.jobs.models import Job, JobError, JobStatus
from skyferry.jobs.runtime import Runtime
from skyferry.problems import problem_response
from skyferry.services.books.errors import (
    BookDeletedError,
    BookNotFoundError,
    BookNotReadyError,
    BooksError,
    InvalidCursorError,
)
from skyferry.services.books.formats import RENDERINGS
from skyferry.services.books.models import (
    BookContent,
    BookPage,
    BookProgress,
    BookRequest,
    BookTimings,
    BookView,
    DownloadFormat,
)
from skyferry.services.books.store import BookRow, BookStore
from skyferry.services.books.workflows import KIND
from skyferry.storage.errors import BlobNotFoundError

router = APIRouter(tags=["books"])

BookId = Annotated[str, Path(max_length=200, description="The id POST /books answered with.")]


def _store(request: Request) -> BookStore:
    rt: Runtime = request.app.state.runtime
    return BookStore(rt.database, rt.blobs)


@router.post(
    "/books",
    status_code=202,
    response_model=BookView,
    summary="Start writing a book; poll Location until status is succeeded",
    responses={200: {"description": "A repeat with the same Idempotency-Key: the same book."}},
)
@router.post("/books/", status_code=202, response_model=BookView, include_in_schema=False)
async def create_book(
    request: Request, engine: Engine, params: BookRequest, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    kind = get_kind(KIND)
    assert kind is not None  # registered when workflows.py was imported, above
    accepted = await accept(engine, kind, params, idempotency_key)
    job = Job.model_validate_json(bytes(accepted.body))
    store = _store(request)
    if accepted.status_code == 202:
        await store.create(job.id, params, JobStatus.QUEUED)
    row = await store.get(job.id)
    if row is None:
        raise BookDeletedError(job.id)
    view = await _view(store, row, job, reconcile=False)
    return JSONResponse(
        view.model_dump(mode="json"),
        status_code=accepted.status_code,
        headers={"Location": f"/books/{job.id}"},
    )


@router.get("/books", response_model=BookPage, summary="List books, newest first")
@router.get("/books/", response_model=BookPage, include_in_schema=False)
async def list_books(
    request: Request,
    engine: Engine,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> BookPage:
    store = _store(request)
    rows, next_cursor = await store.page(status=status, limit=limit, cursor=cursor)
    jobs = {job.id: job for job in await engine.get_many([row.id for row in rows])}
    items = [await _view(store, row, jobs.get(row.id)) for row in rows]
    if status is not None:
        # a row's mirror may lag a job that ended on its own; its true status decides
        items = [item for item in items if item.status is status]
    return BookPage(items=items, next_cursor=next_cursor)


@router.get(
    "/books/{book_id}",
    response_model=BookView,
    summary="A book's status and progress, and the book itself once it is finished",
)
async def get_book(request: Request, engine: Engine, book_id: BookId) -> BookView:
    store = _store(request)
    row = await _row(store, book_id)
    return await _view(store, row, await _job(engine, book_id), content=True)


@router.delete(
    "/books/{book_id}",
    response_model=BookView,
    summary="Cancel a book being written (200), or delete a finished one (204)",
    responses={204: {"description": "Deleted, text and downloads included."}},
)
async def delete_book(request: Request, engine: Engine, book_id: BookId) -> Response:
    store = _store(request)
    row = await _row(store, book_id)
    job = await _job(engine, book_id)
    if job is not None and not job.status.is_final:
        job = await engine.cancel(book_id)
        if job.status is JobStatus.CANCELLED:
            await store.mark_final(book_id, JobStatus.CANCELLED)
        view = await _view(store, await _row(store, book_id), job)
        return JSONResponse(view.model_dump(mode="json"))
    await store.delete(row.id)
    return Response(status_code=204)


@router.get(
    "/books/{book_id}/download",
    summary="The finished book as Markdown, plain text or EPUB",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {r.media_type.split(";")[0]: {} for r in RENDERINGS.values()},
            "description": "The book, as an attachment.",
        }
    },
)
async def download_book(
    request: Request,
    book_id: BookId,
    format: Annotated[DownloadFormat, Query(description="md, txt or epub")] = "md",
) -> StreamingResponse:
    store = _store(request)
    row = await _row(store, book_id)
    if row.status is not JobStatus.SUCCEEDED:
        raise BookNotReadyError(book_id, row.status.value)
    rendering = RENDERINGS[format]
    try:
        info, chunks = await store.blobs.get(row.blobs[format])
    except BlobNotFoundError as exc:  # deleted between reading the row and the blob
        raise BookNotFoundError(book_id) from exc
    headers = {
        "Content-Length": str(info.size),
        "Content-Disposition": f'attachment; filename="{_file_name(row)}.{rendering.extension}"',
    }
    if info.etag:
        headers["ETag"] = info.etag
    return StreamingResponse(chunks, media_type=rendering.media_type, headers=headers)


# -- views ---------------------------------------------------------------------------------------


async def _row(store: BookStore, book_id: str) -> BookRow:
    row = await store.get(book_id)
    if row is None:
        raise BookNotFoundError(book_id)
    return row


async def _job(engine: JobEngine, book_id: str) -> Job | None:
    try:
        return await engine.get(book_id)
    except JobNotFoundError:
        return None  # the system database was reset; the row still knows the book


async def _view(
    store: BookStore,
    row: BookRow,
    job: Job | None,
    *,
    reconcile: bool = True,
    content: bool = False,
) -> BookView:
    status = _status(row, job)
    if reconcile and status.is_final and not row.status.is_final:
        error = job.error.message if job and job.error else None
        await store.mark_final(row.id, status, error)
    book: BookContent | None = None
    if content and row.status is JobStatus.SUCCEEDED:
        book = await store.content(row)
    return BookView(
        id=row.id,
        book_id=row.id,
        status=status,
        topic=row.topic,
        title=row.title,
        request=row.request,
        progress=_progress(row, job, status),
        timings=_timings(row),
        word_count=row.word_count,
        provider=row.provider,
        model=row.model,
        error=_error(row, job, status),
        book=book,
        links=_links(row.id, status),
    )


def _status(row: BookRow, job: Job | None) -> JobStatus:
    if row.status is JobStatus.SUCCEEDED:
        return JobStatus.SUCCEEDED
    status = job.status if job is not None else row.status
    # the job has ended but the row never heard: not a finished book
    return JobStatus.RUNNING if status is JobStatus.SUCCEEDED else status


def _progress(row: BookRow, job: Job | None, status: JobStatus) -> BookProgress:
    total = row.request.chapters + 2
    if status is JobStatus.SUCCEEDED:
        return BookProgress(phase="done", done=total, total=total)
    if job is None or not job.progress.message:
        return BookProgress(phase=status.value, done=0, total=total)
    return BookProgress(
        phase=job.progress.message, done=job.progress.done, total=job.progress.total
    )


def _timings(row: BookRow) -> BookTimings:
    def at(epoch: float | None) -> datetime | None:
        return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None

    queued = (row.started_at - row.created_at) if row.started_at is not None else None
    running = None
    if row.started_at is not None:
        running = (row.finished_at or time.time()) - row.started_at
    return BookTimings(
        created_at=datetime.fromtimestamp(row.created_at, UTC),
        started_at=at(row.started_at),
        finished_at=at(row.finished_at),
        queued_seconds=round(queued, 3) if queued is not None else None,
        running_seconds=round(running, 3) if running is not None else None,
    )


def _error(row: BookRow, job: Job | None, status: JobStatus) -> JobError | None:
    if status is not JobStatus.FAILED:
        return None
    if job is not None and job.error is not None:
        return job.error
    return JobError(type="BookFailed", message=row.error or "the book could not be written")


def _links(book_id: str, status: JobStatus) -> dict[str, str]:
    links = {"self": f"/books/{book_id}", "job": f"/jobs/{book_id}"}
    if status.is_final:
        links["delete"] = f"/books/{book_id}"
    else:
        links["cancel"] = f"/books/{book_id}"
    if status is JobStatus.SUCCEEDED:
        for fmt in RENDERINGS:
            links[f"download_{fmt}"] = f"/books/{book_id}/download?format={fmt}"
    return links


def _file_name(row: BookRow) -> str:
    """An ASCII slug of the title: safe in a header and on every file system."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", row.title or row.topic).strip("-").lower()
    return slug[:80].strip("-") or "book"


# -- errors --------------------------------------------------------------------------------------

_STATUS: list[tuple[type[BooksError], int]] = [
    (BookNotFoundError, 404),
    (BookNotReadyError, 409),
    (BookDeletedError, 409),
    (InvalidCursorError, 400),
]


def install_error_handlers(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(BooksError)
    async def _books_error(request: Request, exc: BooksError) -> JSONResponse:
        status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
        if isinstance(exc, BookNotReadyError):
            return problem_response(
                status, str(exc), instance=request.url.path, book_status=exc.status
            )
        return problem_response(status, str(exc), instance=request.url.path)
