"""Ingest: a CSV, JSON or Parquet file, or the demo generator, becomes a dataset.

DuckDB reads the input (its built-in readers infer the types), sorts it by organisation-entity
where that column exists, so that a filter on it skips whole row groups, and writes Parquet to
a local temporary file. That file is streamed to the blob store under a new key, measured, and
registered in the catalog; the blob of the version it replaces is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from skyferry.platform import Platform
from skyferry.services.datasets.catalog import Catalog
from skyferry.services.datasets.columns import quote
from skyferry.services.datasets.connections import connect
from skyferry.services.datasets.demo import DEMO_DESCRIPTION, DEMO_NAME, DEMO_SQL
from skyferry.services.datasets.errors import DatasetNotFoundError, InvalidDatasetError
from skyferry.services.datasets.formats import Parquet
from skyferry.services.datasets.models import Column, ColumnStats, Dataset, name_problem
from skyferry.services.datasets.query import RESERVED
from skyferry.services.datasets.settings import DatasetsSettings
from skyferry.storage.errors import BlobNotFoundError, StorageError

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

FileFormat = Literal["csv", "json", "parquet"]

SORT_COLUMN = "organisation-entity"
_READERS: dict[FileFormat, str] = {
    "csv": "read_csv",
    "json": "read_json_auto",  # a JSON array or newline-delimited objects
    "parquet": "read_parquet",
}
_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_UPLOAD_CHUNK = 8 * 1024 * 1024
_PROGRESS_SECONDS = 0.1
_STAT_CHARS = 200
_POSITION = "__skyferry_position"


class Progress(Protocol):
    """Where ingest reports what it is doing; the CLI draws it with rich."""

    def phase(self, description: str, total: float | None = None) -> None: ...

    def update(self, done: float) -> None: ...


class _Silent:
    def phase(self, description: str, total: float | None = None) -> None:
        pass

    def update(self, done: float) -> None:
        pass


@dataclass(frozen=True)
class _Written:
    columns: list[Column]
    row_count: int
    sorted_by: str | None


def file_format(path: Path) -> FileFormat:
    """The format a file's name says, looking through a trailing .gz (.csv.gz)."""
    suffixes = [suffix.lower() for suffix in path.suffixes if suffix.lower() != ".gz"]
    found = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise InvalidDatasetError(
            f"cannot tell the format of {path.name!r} from its name; "
            f"use one of {', '.join(sorted(_SUFFIXES))} or pass --format csv|json|parquet"
        )
    return found


async def ingest_file(
    platform: Platform,
    name: str,
    path: Path,
    *,
    description: str = "",
    fmt: FileFormat | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Register ``path`` as dataset ``name``, replacing any dataset of that name."""
    if not await asyncio.to_thread(path.is_file):
        raise InvalidDatasetError(f"{path} is not a readable file")
    reader = _READERS[fmt or file_format(path)]
    select = f"SELECT * FROM {reader}(?)"  # noqa: S608 - a reader from the table above
    return await _ingest(platform, name, select, [str(path)], description, progress or _Silent())


async def ingest_demo(
    platform: Platform,
    *,
    name: str = DEMO_NAME,
    rows: int = 1_000_000,
    progress: Progress | None = None,
) -> Dataset:
    """Generate the demo dataset (deterministic for a given ``rows``) and register it."""
    if rows < 1:
        raise InvalidDatasetError(f"rows must be at least 1, got {rows}")
    return await _ingest(platform, name, DEMO_SQL, [rows], DEMO_DESCRIPTION, progress or _Silent())


async def remove_dataset(platform: Platform, name: str) -> Dataset:
    """Drop ``name`` from the catalog, then its Parquet blob."""
    catalog = Catalog(platform.database)
    removed = await asyncio.to_thread(catalog.delete, name)
    if removed is None:
        raise DatasetNotFoundError(name, await asyncio.to_thread(catalog.names))
    await _delete_quietly(platform, removed.blob_key)
    return removed


async def _ingest(
    platform: Platform,
    name: str,
    select: str,
    params: list[object],
    description: str,
    progress: Progress,
) -> Dataset:
    problem = name_problem(name)
    if problem:
        raise InvalidDatasetError(f"invalid dataset name {name!r}: {problem}")
    settings = platform.settings.of(DatasetsSettings)
    with tempfile.TemporaryDirectory(prefix="skyferry-ingest-") as work:
        parquet = Path(work) / "data.parquet"
        written = await asyncio.to_thread(
            _write_parquet, settings, select, params, parquet, progress
        )
        size = parquet.stat().st_size
        key = f"{settings.prefix}{name}/{_version()}.parquet"
        progress.phase("uploading", size)
        await platform.blobs.put(
            key, _read_chunks(parquet, progress), content_type=Parquet.media_type
        )
    progress.phase("registering")
    dataset = Dataset(
        name=name,
        description=description,
        blob_key=key,
        columns=written.columns,
        row_count=written.row_count,
        size_bytes=size,
        sorted_by=written.sorted_by,
        updated_at=datetime.now(UTC),
    )
    replaced = await asyncio.to_thread(Catalog(platform.database).put, dataset)
    if replaced is not None and replaced.blob_key != key:
        await _delete_quietly(platform, replaced.blob_key)
    return dataset


def _write_parquet(
    settings: DatasetsSettings,
    select: str,
    params: list[object],
    target: Path,
    progress: Progress,
) -> _Written:
    import duckdb

    spill = target.parent / "spill"
    connection = connect(settings, temp_directory=spill)
    try:
        connection.execute("SET enable_progress_bar = true")
        connection.execute("SET enable_progress_bar_print = false")
        progress.phase("reading", None)
        try:
            described = connection.sql(f"DESCRIBE {select}", params=params).fetchall()
        except duckdb.Error as exc:
            raise InvalidDatasetError(f"cannot read the input: {_first_line(exc)}") from exc
        names = [str(row[0]) for row in described]
        _check_names(names)
        sorted_by = SORT_COLUMN if SORT_COLUMN in names else None
        ordered = _sorted(select) if sorted_by else select
        # the target is a path this process made, so it may be written into the statement
        path = str(target).replace("'", "''")
        options = f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {settings.row_group_rows}"
        copy = f"COPY ({ordered}) TO '{path}' ({options})"
        progress.phase("sorting and writing Parquet" if sorted_by else "writing Parquet", 100)
        try:
            _run_with_progress(connection, copy, params, progress)
        except duckdb.Error as exc:
            raise InvalidDatasetError(f"cannot read the input: {_first_line(exc)}") from exc
        progress.phase("measuring columns", None)
        columns = _measure(connection, target)
        (row_count,) = connection.sql(
            "SELECT count(*) FROM read_parquet(?)", params=[str(target)]
        ).fetchall()[0]
    finally:
        connection.close()
    return _Written(columns, int(row_count), sorted_by)


def _sorted(select: str) -> str:
    """``select`` sorted by organisation-entity, rows of one organisation in input order.

    DuckDB's sort is not stable, so the input position, numbered before sorting, breaks ties:
    the same input always gives the same file.
    """
    # ``select`` is one of this module's statements, with the file's path as a parameter
    numbered = f"SELECT *, row_number() OVER () AS {_POSITION} FROM ({select}) AS source"  # noqa: S608
    order = f"{quote(SORT_COLUMN)} NULLS LAST, {_POSITION}"
    return f"SELECT * EXCLUDE ({_POSITION}) FROM ({numbered}) ORDER BY {order}"  # noqa: S608


def _check_names(names: list[str]) -> None:
    clashing = [name for name in names if name in RESERVED]
    if clashing:
        raise InvalidDatasetError(
            f"column {clashing[0]!r} has the name of a download parameter "
            f"({', '.join(RESERVED)}) and could not be filtered on; rename it"
        )


def _run_with_progress(
    connection: duckdb.DuckDBPyConnection, sql: str, params: list[object], progress: Progress
) -> None:
    """Run ``sql`` on a cursor in a helper thread, showing DuckDB's own progress meanwhile."""
    cursor = connection.cursor()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            cursor.execute(sql, params)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run, name="ingest-copy", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(_PROGRESS_SECONDS)
            percent = cursor.query_progress()
            if percent >= 0:
                progress.update(percent)
    except BaseException:
        cursor.interrupt()  # Ctrl-C: stop the query rather than wait for it
        worker.join()
        raise
    finally:
        cursor.close()
    if failure:
        raise failure[0]
    progress.update(100)


def _measure(connection: duckdb.DuckDBPyConnection, parquet: Path) -> list[Column]:
    """Each column's type and statistics, from DuckDB's SUMMARIZE of the written file."""
    relation = connection.sql("SUMMARIZE SELECT * FROM read_parquet(?)", params=[str(parquet)])
    fields = relation.columns
    columns = []
    for values in relation.fetchall():
        row = dict(zip(fields, values, strict=True))
        null_percentage = row.get("null_percentage")
        columns.append(
            Column(
                name=row["column_name"],
                type=row["column_type"],
                stats=ColumnStats(
                    min=_shortened(row.get("min")),
                    max=_shortened(row.get("max")),
                    approx_distinct=row.get("approx_unique"),
                    null_fraction=(
                        round(float(null_percentage) / 100, 6)
                        if isinstance(null_percentage, Decimal | float | int)
                        else None
                    ),
                ),
            )
        )
    return columns


def _shortened(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= _STAT_CHARS else text[: _STAT_CHARS - 1] + "…"


async def _read_chunks(path: Path, progress: Progress) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    done = 0
    try:
        while chunk := await asyncio.to_thread(handle.read, _UPLOAD_CHUNK):
            done += len(chunk)
            progress.update(done)
            yield chunk
    finally:
        handle.close()


async def _delete_quietly(platform: Platform, key: str) -> None:
    """Drop a replaced version; a failure only leaves an unreferenced blob behind."""
    try:
        await platform.blobs.delete(key)
    except BlobNotFoundError:
        pass
    except StorageError as exc:
        log.warning("could not delete the replaced dataset blob: %s", exc)


def _version() -> str:
    """Unique and sortable, so a new version never overwrites a file being downloaded."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
