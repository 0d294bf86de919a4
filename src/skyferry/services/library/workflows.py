"""A library import as a durable job: parse → enrich every book (a fan-out) → build the dashboard.

The parse step stores the cleaned export and returns its size; the enrichment is one fan-out
item per book, each checkpointed as it finishes, so a worker killed halfway resumes with the
books still to do and looks none of the finished ones up again. Progress comes from the
fan-out, which starts from the books already finished, so it never goes backwards. A book whose
lookups fail is reported in the dashboard's notes and the others go on.
"""

from __future__ import annotations

import logging
from typing import Any

import skyferry
from skyferry.services.library import dashboard
from skyferry.services.library.enrichment import Enrichment, enrich, unavailable
from skyferry.services.library.exports import ExportBook, ParsedExport, parse_export
from skyferry.services.library.models import ImportRequest
from skyferry.services.library.resources import library
from skyferry.services.library.store import books_key, dashboard_key, export_key, parsed_key

log = logging.getLogger(__name__)

KIND = "library.import"
ENRICHING = "Enriching books"
TIMEOUT_SECONDS = 24 * 3600.0
"""A 50,000-book library on Google's daily quota takes days; past one the job gives up."""

ITEM_RETRY = skyferry.Retry(attempts=2)
"""Each lookup retries its own API errors already; this covers a lookup that failed whole."""


@skyferry.job(KIND, params=ImportRequest, timeout_seconds=TIMEOUT_SECONDS, result_path="/data/{id}")
async def import_library(ctx: skyferry.JobContext, request: ImportRequest) -> dict[str, Any]:
    await parse(ctx.id, request)
    deps = ctx.get(library)
    parsed = ParsedExport.model_validate(await deps.store.get_json(parsed_key(ctx.id)))
    outcome = await ctx.fan_out(
        ENRICHING,
        parsed.books,
        enrich_book,
        concurrency=deps.settings.concurrency,
        retry=ITEM_RETRY,
    )
    total = len(parsed.books)
    await ctx.progress(total, total, "Building dashboard")
    return await finish(ctx.id, parsed, outcome)


async def enrich_book(book: ExportBook) -> dict[str, Any]:
    """One fan-out item: the book's enrichment, as JSON (what the checkpoint keeps)."""
    return (await enrich(library.get(), book)).model_dump(mode="json")


async def enrich_record(record: dict[str, Any]) -> dict[str, Any]:
    """The same item on a Step Functions Distributed Map, given the book as JSON (an element
    of ``books.json``)."""
    return await enrich_book(ExportBook.model_validate(record))


async def finish_run(execution: dict[str, Any], outcome: skyferry.FanOutResult) -> dict[str, Any]:
    """The Distributed Map's aggregation: the dashboard of the upload ``execution`` names."""
    upload_id = str(execution["upload_id"])
    deps = library.get()
    parsed = ParsedExport.model_validate(await deps.store.get_json(parsed_key(upload_id)))
    return await finish(upload_id, parsed, outcome)


async def finish(
    upload_id: str, parsed: ParsedExport, outcome: skyferry.FanOutResult
) -> dict[str, Any]:
    """Every book's enrichment (or why it has none) into the dashboard, however it was run."""
    deps = library.get()
    enrichments: dict[str, Enrichment | None] = {}
    notes: list[str] = []
    for book, item in zip(parsed.books, outcome.outcomes, strict=True):
        if item.ok:
            enrichments[book.key] = Enrichment.model_validate(item.output)
        else:
            enrichments[book.key] = None
            notes.append(f"{book.title!r}: enrichment failed: {item.error_message}")
    for source in deps.sources:
        reason = unavailable(deps, source)
        if reason:
            notes.append(f"{source.name} was not asked: {reason}")
    return await save_dashboard(upload_id, parsed, enrichments, notes)


@skyferry.step(name="parse", retry=skyferry.Retry(attempts=3))
async def parse(upload_id: str, request: ImportRequest) -> dict[str, Any]:
    """Read the stored export into ``export.json``; the row is written here too if need be."""
    deps = library.get()
    await deps.store.record(upload_id, request.filename, request.file_size, request.sha256)
    data = await deps.store.blobs.read(export_key(request.sha256))
    parsed = parse_export(data, max_books=deps.settings.max_books)
    await deps.store.put_json(parsed_key(upload_id), parsed.model_dump(mode="json"))
    # the books alone, as the JSON array a Step Functions Distributed Map reads them from
    await deps.store.put_json(
        books_key(upload_id), [b.model_dump(mode="json") for b in parsed.books]
    )
    log.info(
        "library %s: %d books from a %s export",
        upload_id,
        len(parsed.books),
        parsed.source,
        extra={"upload_id": upload_id, "books": len(parsed.books), "source": parsed.source},
    )
    return {"books": len(parsed.books), "source": parsed.source, "notes": len(parsed.notes)}


@skyferry.step(name="dashboard", retry=skyferry.Retry(attempts=3))
async def save_dashboard(
    upload_id: str,
    parsed: ParsedExport,
    enrichments: dict[str, Enrichment | None],
    notes: list[str],
) -> dict[str, Any]:
    """Store the dashboard, then point the row at it: the job's commit point."""
    deps = library.get()
    data = dashboard.build(upload_id, parsed, enrichments, notes)
    await deps.store.put_json(dashboard_key(upload_id), data)
    await deps.store.mark_complete(upload_id)
    summary: dict[str, Any] = data["summary"]
    return {
        "total_books": summary["total_books"],
        "genre_enriched_books": summary["genre_enriched_books"],
        "data_url": f"/data/{upload_id}",
    }
