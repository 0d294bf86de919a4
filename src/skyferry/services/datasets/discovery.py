"""Parquet files already in the store, served without an ingest: ``{prefix}{name}.parquet``,
as a bucket the service skyferry replaces left them.

Such a file is described from its footer alone (column names and DuckDB types, the row count)
the first time it is asked for or listed, and entered in the catalog pointing at the file
itself: nothing is copied or rewritten. Column statistics, which ingest measures by reading
every row, stay unknown. A file replaced later is noticed by its size or time, and described
again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from skyferry.platform import Platform
from skyferry.services.datasets.catalog import Catalog
from skyferry.services.datasets.models import Column, Dataset, name_problem
from skyferry.services.datasets.settings import DatasetsSettings
from skyferry.services.datasets.sources import Source, open_source
from skyferry.storage.blobs import BlobInfo
from skyferry.storage.errors import BlobNotFoundError

SUFFIX = ".parquet"


def key_of(platform: Platform, name: str) -> str:
    return f"{platform.settings.of(DatasetsSettings).prefix}{name}{SUFFIX}"


async def discover(platform: Platform, name: str) -> Dataset | None:
    """The catalog entry for a file ``name`` left in the store, made now; None without one."""
    if name_problem(name):
        return None
    try:
        info = await platform.blobs.head(key_of(platform, name))
    except BlobNotFoundError:
        return None
    return await _register(platform, name, info)


async def discover_all(platform: Platform, known: dict[str, Dataset]) -> list[Dataset]:
    """Every file at the prefix not in the catalog (``known``) or changed since it was."""
    prefix = platform.settings.of(DatasetsSettings).prefix
    found = []
    async for info in platform.blobs.list(prefix):
        name = info.key[len(prefix) :].removesuffix(SUFFIX)
        if not info.key.endswith(SUFFIX) or "/" in name or name_problem(name):
            continue  # ingested datasets live in folders: {prefix}{name}/{version}.parquet
        entry = known.get(name)
        if entry is not None and (entry.blob_key != info.key or _unchanged(entry, info)):
            continue  # an ingested dataset of that name wins; an unchanged file is known
        found.append(await _register(platform, name, info))
    return found


def _unchanged(entry: Dataset, info: BlobInfo) -> bool:
    same_time = (
        info.last_modified is None
        or abs((entry.updated_at - info.last_modified).total_seconds()) < 1
    )
    return entry.size_bytes == info.size and same_time


async def _register(platform: Platform, name: str, info: BlobInfo) -> Dataset:
    source = await open_source(platform.blobs, info.key)
    columns, rows = await asyncio.to_thread(_describe, source)
    dataset = Dataset(
        name=name,
        description=f"{info.key}, served as it is",
        blob_key=info.key,
        columns=columns,
        row_count=rows,
        size_bytes=info.size,
        updated_at=info.last_modified or datetime.now(UTC),
    )
    await asyncio.to_thread(Catalog(platform.database).put, dataset)
    return dataset


def _describe(source: Source) -> tuple[list[Column], int]:
    """Columns and row count from the footer: DuckDB's DESCRIBE and COUNT read no row group."""
    import duckdb

    connection = duckdb.connect()
    try:
        source.attach(connection)
        params = source.params or None
        # from_item is the sources module's own, read_parquet(?) or a registered name; the
        # file's path, the only outside value, is a parameter
        table = source.from_item
        described = connection.sql(f"DESCRIBE SELECT * FROM {table}", params=params)  # noqa: S608
        columns = [Column(name=row[0], type=row[1]) for row in described.fetchall()]
        counted = connection.sql(f"SELECT count(*) FROM {table}", params=params)  # noqa: S608
        return columns, int(counted.fetchall()[0][0])
    finally:
        connection.close()
