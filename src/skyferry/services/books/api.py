"""HTTP routes for books.

The Lambda-era paths (``POST /books/``, ``GET /books/{book_id}``) are served as they were: the
trailing-slash POST is a route of its own, not a redirect old clients might not follow.

A book's status, progress, timings and error are its job's, always: the job is the only source
of truth. The books row adds the request, the title and, once the job's last step committed,
the finished book's blob keys.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

import skyferry
from skyferry.http.downloads import download
from skyferry.http.problems import errors
from skyferry.jobs.current import JobNotFoundError
from skyferry.services.books.errors import BookNotFoundError, BookNotReadyError
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
from skyferry.services.books.resources import Books, books
from skyferry.services.books.store import BookRow
from skyferry.services.books.workflows import generate_book

router = APIRouter(tags=["books"])

BookId = Annotated[str, Path(max_length=100, description="The id POST /books answered with.")]
Deps = Annotated[Books, Depends(books)]

_BOOK_CONTENT: dict[str, Any] = {r.media_type.split(";")[0]: {} for r in RENDERINGS.values()}


@router.post(
    "/books",
    status_code=202,
    response_model=BookView,
    summary="Start writing a book; poll Location until status is succeeded",
    responses={200: {"description": "A repeat with the same Idempotency-Key: the same book."}},
)
@router.post("/books/", status_code=202, response_model=BookView, include_in_schema=False)
async def create_book(
    params: BookRequest, idempotency_key: skyferry.IdempotencyKey = None
) -> JSONResponse:
    submission = await generate_book.submit(params, idempotency_key)
    view = _view(submission.job, None)
    return skyferry.accepted(submission, body=view, location=f"/books/{view.id}")


@router.get("/books", response_model=BookPage, summary="List books, newest first")
@router.get("/books/", response_model=BookPage, include_in_schema=False)
async def list_books(
    deps: Deps,
    status: skyferry.JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> BookPage:
    page = await generate_book.list(status=status, limit=limit, cursor=cursor)
    rows = await deps.store.get_many([job.id for job in page.items])
    return BookPage(
        items=[_view(job, rows.get(job.id)) for job in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/books/{book_id}",
    response_model=BookView,
    summary="A book's status and progress, and the book itself once it is finished",
)
async def get_book(deps: Deps, book_id: BookId) -> BookView:
    job = await _job(book_id)
    row = await deps.store.get(book_id)
    content = None
    if job.status is skyferry.JobStatus.SUCCEEDED and row is not None:
        content = await deps.store.content(row)
    return _view(job, row, content)


@router.delete(
    "/books/{book_id}",
    response_model=BookView,
    summary="Cancel a book being written (200), or delete a finished one (204)",
    responses={204: {"description": "Deleted, text and downloads included."}},
)
async def delete_book(deps: Deps, book_id: BookId) -> Response:
    job = await _job(book_id)
    if not job.status.is_final:
        job = await generate_book.cancel(book_id)
        view = _view(job, await deps.store.get(book_id))
        return JSONResponse(view.model_dump(mode="json"))
    await deps.store.delete(book_id)
    await generate_book.delete(book_id)
    return Response(status_code=204)


@router.get(
    "/books/{book_id}/download",
    summary="The finished book as Markdown, plain text or EPUB",
    response_class=Response,
    responses={
        200: {"content": _BOOK_CONTENT, "description": "The book, as an attachment."},
        206: {"content": _BOOK_CONTENT, "description": "The part of it that Range asked for."},
        304: {"description": "Not Modified: the ETag in If-None-Match is current."},
        **errors(409, 416),
    },
)
@router.head("/books/{book_id}/download", response_class=Response, include_in_schema=False)
async def download_book(
    request: Request,
    deps: Deps,
    book_id: BookId,
    format: Annotated[DownloadFormat, Query(description="md, txt or epub")] = "md",
) -> Response:
    job = await _job(book_id)
    row = await deps.store.get(book_id)
    if job.status is not skyferry.JobStatus.SUCCEEDED or row is None:
        raise BookNotReadyError(book_id, job.status.value)
    rendering = RENDERINGS[format]
    try:
        return await download(
            deps.store.blobs,
            row.blobs[format],
            request.headers,
            filename=f"{_file_name(row)}.{rendering.extension}",
            content_type=lambda info: rendering.media_type,
            head_only=request.method == "HEAD",
        )
    except skyferry.SkyferryError as exc:
        if exc.problem_status == 404:  # deleted between reading the row and the blob
            raise BookNotFoundError(book_id) from exc
        raise


# -- views ---------------------------------------------------------------------------------------


async def _job(book_id: str) -> skyferry.Job:
    try:
        return await generate_book.get(book_id)
    except JobNotFoundError:
        raise BookNotFoundError(book_id) from None


def _view(job: skyferry.Job, row: BookRow | None, content: BookContent | None = None) -> BookView:
    request = generate_book.params_of(job)
    status = job.status
    done = status is skyferry.JobStatus.SUCCEEDED
    total = request.chapters + 2
    if done:
        progress = BookProgress(phase="done", done=total, total=total)
    else:
        progress = BookProgress(
            phase=job.progress.message or status.value,
            done=job.progress.done,
            total=job.progress.total or total,
        )
    return BookView(
        id=job.id,
        book_id=job.id,
        status=status,
        topic=request.topic,
        title=(row.title if row else None) or request.title,
        request=request,
        progress=progress,
        timings=_timings(job),
        word_count=row.word_count if row and done else None,
        provider=row.provider if row and done else None,
        model=row.model if row and done else None,
        error=job.error,
        book=content,
        links=_links(job.id, status),
    )


def _timings(job: skyferry.Job) -> BookTimings:
    queued = running = None
    if job.started_at is not None:
        queued = (job.started_at - job.created_at).total_seconds()
        if job.finished_at is not None:
            running = (job.finished_at - job.started_at).total_seconds()
    return BookTimings(
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        queued_seconds=round(queued, 3) if queued is not None else None,
        running_seconds=round(running, 3) if running is not None else None,
    )


def _links(book_id: str, status: skyferry.JobStatus) -> dict[str, str]:
    links = {"self": f"/books/{book_id}", "job": f"/jobs/{book_id}"}
    if status.is_final:
        links["delete"] = f"/books/{book_id}"
    else:
        links["cancel"] = f"/books/{book_id}"
    if status is skyferry.JobStatus.SUCCEEDED:
        for fmt in RENDERINGS:
            links[f"download_{fmt}"] = f"/books/{book_id}/download?format={fmt}"
    return links


def _file_name(row: BookRow) -> str:
    """An ASCII slug of the title: safe in a header and on every file system."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", row.title or row.topic).strip("-").lower()
    return slug[:80].strip("-") or "book"
