"""``skyferry books ...``: write, follow and download books through the HTTP API.

skyferry books new "Urban beekeeping" --chapters 5 --wait -o book.epub
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from skyferry.http.client import (
    DEFAULT_API,
    ApiUrl,
    call,
    console,
    fail,
    open_client,
    request,
    watch,
)
from skyferry.services.books.models import DownloadFormat

app = typer.Typer(help="Write books, follow their progress, download them.", no_args_is_help=True)

Output = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the finished book here; .md, .txt or .epub picks the format."
    ),
]
_FORMATS: dict[str, DownloadFormat] = {
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".epub": "epub",
}


@app.command("new")
def new(
    topic: Annotated[str, typer.Argument(help="What the book is about.")],
    chapters: Annotated[int, typer.Option(min=1, max=50)] = 10,
    words_per_chapter: Annotated[int, typer.Option(min=100, max=5000)] = 800,
    title: Annotated[str | None, typer.Option(help="Chosen by the provider if unset.")] = None,
    audience: str | None = None,
    language: str = "en",
    style: str | None = None,
    wait: Annotated[bool, typer.Option(help="Show a progress bar until the book is done.")] = False,
    output: Output = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Repeat safely.")] = None,
    url: ApiUrl = DEFAULT_API,
) -> None:
    """Start a book (POST /books) and print its id; with --wait or -o, follow it to the end."""
    fmt = _format_of(output) if output else None  # a bad extension fails before any work starts
    body: dict[str, Any] = {
        "topic": topic,
        "chapters": chapters,
        "words_per_chapter": words_per_chapter,
        "language": language,
    }
    body.update(
        {k: v for k, v in {"title": title, "audience": audience, "style": style}.items() if v}
    )
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with open_client(url) as client:
        book = call(client, "POST", "/books", json=body, headers=headers)
        print(book["id"])
        if not wait and output is None:
            return

        final = watch(client, book["id"])
        if final["status"] != "succeeded":
            error = (final.get("error") or {}).get("message", "")
            console.print(f"[red]book {book['id']} {final['status']}[/red] {error}")
            raise typer.Exit(1)
        if output is not None and fmt is not None:
            _download(client, book["id"], fmt, output)
        summary = call(client, "GET", f"/books/{book['id']}")
        console.print(
            f"[green]{summary['title']}[/green]: {len(summary['book']['chapters'])} chapters, "
            f"{summary['word_count']} words" + (f", written to {output}" if output else "")
        )


@app.command("show")
def show(book_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Print a book's record (and the book, once finished) as JSON."""
    with open_client(url) as client:
        print(json.dumps(call(client, "GET", f"/books/{book_id}"), indent=2, ensure_ascii=False))


@app.command("ls")
def ls(
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded...")] = None,
    limit: int = 20,
    url: ApiUrl = DEFAULT_API,
) -> None:
    """List recent books."""
    query: dict[str, Any] = {"limit": limit, **({"status": status} if status else {})}
    with open_client(url) as client:
        page = call(client, "GET", "/books", params=query)
    table = Table("id", "status", "progress", "words", "title")
    for book in page["items"]:
        table.add_row(
            book["id"],
            book["status"],
            book["progress"]["phase"],
            str(book["word_count"] or ""),
            book["title"] or book["topic"],
        )
    Console().print(table)


@app.command("download")
def download(
    book_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help=".md, .txt or .epub")],
    url: ApiUrl = DEFAULT_API,
) -> None:
    """Download a finished book; the file's extension picks the format."""
    fmt = _format_of(output)
    with open_client(url) as client:
        _download(client, book_id, fmt, output)
    console.print(f"wrote {output}")


@app.command("delete")
def delete(book_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Cancel a book being written, or delete a finished one."""
    with open_client(url) as client:
        response = request(client, "DELETE", f"/books/{book_id}")
    print("deleted" if response.status_code == 204 else response.json()["status"])


def _format_of(path: Path) -> DownloadFormat:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise typer.BadParameter(
            f"cannot tell the format from {path.name!r}; end it in .md, .txt or .epub",
            param_hint="--output",
        )
    return fmt


def _download(client: httpx.Client, book_id: str, fmt: DownloadFormat, output: Path) -> None:
    """Stream to a ``.part`` file beside ``output``, then rename: never a half-written book."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.part")
    try:
        with (
            partial.open("wb") as file,
            client.stream("GET", f"/books/{book_id}/download", params={"format": fmt}) as response,
        ):
            if response.status_code >= 400:
                response.read()
                fail(response)
            for chunk in response.iter_bytes():
                file.write(chunk)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
