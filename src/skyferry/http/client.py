"""The one HTTP client the CLIs drive a running skyferry with: errors become one red line and
exit status 1, never a trace; a job can be followed with a live progress bar."""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

DEFAULT_API = "http://127.0.0.1:8000"
ApiUrl = Annotated[
    str, typer.Option("--url", envvar="SKYFERRY_API_URL", help="Base URL of a running skyferry.")
]
FINAL = ("succeeded", "failed", "cancelled")

console = Console(stderr=True)


def open_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60)


def request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The response to a request that succeeded; otherwise say why and exit with 1."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {client.base_url}: {exc}[/red]")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        fail(response)
    return response


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    """The JSON body of a request that succeeded; otherwise say why and exit with 1."""
    return request(client, method, path, **kwargs).json()


def fail(response: httpx.Response) -> None:
    """Print a refused request's problem detail and exit with 1."""
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    console.print(f"[red]{response.status_code}: {detail}[/red]")
    raise typer.Exit(1)


def watch(client: httpx.Client, job_id: str, poll_seconds: float = 0.2) -> dict[str, Any]:
    """Show a live progress bar until the job is final; return its record."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(job_id[:12], total=None, message="queued")
        while True:
            job = call(client, "GET", f"/jobs/{job_id}")
            progress = job["progress"]
            bar.update(
                task,
                completed=progress["done"],
                total=progress["total"],
                message=progress["message"] or job["status"],
            )
            if job["status"] in FINAL:
                return dict(job)
            time.sleep(poll_seconds)
