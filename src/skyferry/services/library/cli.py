"""``skyferry library ...``: import an export through the HTTP API and follow it.

skyferry library import goodreads_library_export.csv --wait
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from skyferry.http.client import DEFAULT_API, ApiUrl, call, console, open_client, watch

app = typer.Typer(help="Import library exports and read their dashboards.", no_args_is_help=True)


@app.command("import")
def import_export(
    export: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A .csv export.")
    ],
    wait: Annotated[bool, typer.Option(help="Show progress until the dashboard is ready.")] = False,
    idempotency_key: Annotated[str | None, typer.Option(help="Repeat safely.")] = None,
    url: ApiUrl = DEFAULT_API,
) -> None:
    """Upload an export (POST /upload) and print its uuid; with --wait, follow it to the end."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with open_client(url) as client, export.open("rb") as file:
        accepted = call(
            client,
            "POST",
            "/upload",
            files={"csv": (export.name, file, "text/csv")},
            headers=headers,
        )
        upload_id = accepted["uuid"]
        print(upload_id)
        if not wait:
            return
        final = watch(client, upload_id)
        if final["status"] != "succeeded":
            error = (final.get("error") or {}).get("message", "")
            console.print(f"[red]import {upload_id} {final['status']}[/red] {error}")
            raise typer.Exit(1)
        _print_summary(call(client, "GET", f"/data/{upload_id}"))


@app.command("status")
def status(upload_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Print an upload's status as JSON."""
    with open_client(url) as client:
        print(json.dumps(call(client, "GET", f"/status/{upload_id}"), indent=2))


def _print_summary(dashboard: dict[str, Any]) -> None:
    summary = dashboard["summary"]
    span = summary["reading_date_range"]
    console.print(
        f"[green]{summary['total_books']} books[/green], {summary['read_books']} read, "
        f"{summary['total_pages']} pages; genres for {summary['genre_enriched_books']} "
        f"({summary['genre_enrichment_rate']} %), {summary['unique_authors']} authors"
    )
    if span["earliest"]:
        console.print(f"read between {span['earliest']} and {span['latest']}")
    top = ", ".join(f"{g['genre']} ({g['count']})" for g in summary["most_common_genres"][:5])
    if top:
        console.print(f"top genres: {top}")
    if summary["average_rating"] is not None:
        console.print(f"your average rating: {summary['average_rating']}")
