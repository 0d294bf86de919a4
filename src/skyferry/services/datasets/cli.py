"""``skyferry datasets …``: ingest files, make the demo dataset, list and remove datasets.

These commands work on the blob store and the catalog directly (SKYFERRY_BLOB_URL and
SKYFERRY_DATABASE_URL), not over HTTP, and bring the catalog's schema up to date first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from skyferry.services.datasets.demo import DEMO_NAME
from skyferry.services.datasets.errors import DatasetsError

if TYPE_CHECKING:
    from skyferry.platform import Platform
    from skyferry.services.datasets.ingest import FileFormat

app = typer.Typer(
    help="Datasets: ingest CSV/JSON/Parquet, make the demo dataset, list, remove.",
    no_args_is_help=True,
)
console = Console(stderr=True)
T = TypeVar("T")


class _Bar:
    """Ingest's Progress drawn with rich: one line per phase, the finished ones kept."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def phase(self, description: str, total: float | None = None) -> None:
        self.done()
        self._task = self._progress.add_task(description, total=total)

    def update(self, done: float) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done)

    def done(self) -> None:
        """Show the current phase as complete."""
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, total=task.total or 1, completed=task.total or 1)


def _run(work: Callable[[Platform], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` against the configured stores, migrated, and turn refusals into exit 1."""
    from skyferry.app import standalone
    from skyferry.config import ConfigurationError

    async def run() -> T:
        async with standalone("datasets") as platform:
            return await work(platform)

    try:
        return asyncio.run(run())
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except DatasetsError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None


@contextmanager
def _progress_bar() -> Iterator[_Bar]:
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = _Bar(progress)
        yield bar
        bar.done()


@app.command()
def ingest(
    name: Annotated[str, typer.Argument(help="Dataset name: a-z, 0-9, '-' and '_'.")],
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV, JSON or Parquet."),
    ],
    description: Annotated[str, typer.Option(help="Shown in the catalog.")] = "",
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="csv, json or parquet; by default from the file's name."),
    ] = None,
) -> None:
    """Register FILE as dataset NAME (replacing any of that name), sorted by organisation-entity."""
    from skyferry.services.datasets.ingest import ingest_file

    fmt = _file_format(file_format)
    with _progress_bar() as bar:
        dataset = _run(
            lambda rt: ingest_file(
                rt, name, file.resolve(), description=description, fmt=fmt, progress=bar
            )
        )
    console.print(
        f"[green]{dataset.name}[/green]: {dataset.row_count:,} rows, "
        f"{len(dataset.columns)} columns, {dataset.size_bytes:,} bytes of Parquet"
        f"; download at /{dataset.name}.csv"
    )


@app.command()
def demo(
    rows: Annotated[int, typer.Option(min=1, help="How many entity records to generate.")] = (
        1_000_000
    ),
    name: Annotated[str, typer.Option(help="Dataset name.")] = DEMO_NAME,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when the dataset exists already.")
    ] = False,
) -> None:
    """Generate a realistic demo dataset (planning entities) so there is something to download."""
    from skyferry.services.datasets.catalog import Catalog
    from skyferry.services.datasets.ingest import ingest_demo
    from skyferry.services.datasets.models import Dataset

    async def work(rt: Platform) -> Dataset | None:
        if if_missing and await asyncio.to_thread(Catalog(rt.database).get, name) is not None:
            return None
        with _progress_bar() as bar:
            return await ingest_demo(rt, name=name, rows=rows, progress=bar)

    dataset = _run(work)
    if dataset is None:
        console.print(f"{name} exists already; nothing to do")
        return
    console.print(
        f"[green]{dataset.name}[/green]: {dataset.row_count:,} rows, "
        f"{dataset.size_bytes:,} bytes of Parquet; "
        f"try /{dataset.name}.csv?organisation-entity=600001"
    )


@app.command("ls")
def list_datasets() -> None:
    """List the catalog."""
    from skyferry.services.datasets.catalog import Catalog

    datasets = _run(lambda rt: asyncio.to_thread(Catalog(rt.database).entries))
    table = Table("name", "rows", "columns", "bytes", "updated", "description")
    for dataset in datasets:
        table.add_row(
            dataset.name,
            f"{dataset.row_count:,}",
            str(len(dataset.columns)),
            f"{dataset.size_bytes:,}",
            dataset.updated_at.isoformat(timespec="seconds"),
            dataset.description,
        )
    Console().print(table)


@app.command("rm")
def remove(name: str) -> None:
    """Remove a dataset from the catalog and delete its Parquet file."""
    from skyferry.services.datasets.ingest import remove_dataset

    _run(lambda rt: remove_dataset(rt, name))
    console.print(f"removed {name}")


def _file_format(value: str | None) -> FileFormat | None:
    if value is None:
        return None
    if value not in ("csv", "json", "parquet"):
        raise typer.BadParameter(f"expected csv, json or parquet, got {value!r}")
    return cast("FileFormat", value)
