"""DuckDB reads Parquet through the blob port with no extension, and only the parts it needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import duckdb
import pytest

from skyferry.services.datasets.connections import connect, lock_down
from skyferry.services.datasets.errors import DatasetUnavailableError
from skyferry.services.datasets.settings import DatasetsSettings
from skyferry.services.datasets.sources import local_root, open_source
from skyferry.storage.blobs import BlobInfo, BlobRange, BlobStore, open_blob_store

pytestmark = pytest.mark.anyio


class CountingStore:
    """A memory store that records every ranged read, to see what a scan fetched."""

    def __init__(self) -> None:
        self._inner = open_blob_store("memory://")
        self.url = "memory://"
        self.ranges: list[BlobRange | None] = []

    async def put(self, key: str, data: bytes) -> BlobInfo:
        return await self._inner.put(key, data)

    async def head(self, key: str) -> BlobInfo:
        return await self._inner.head(key)

    async def get(
        self, key: str, *, byte_range: BlobRange | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]:
        self.ranges.append(byte_range)
        return await self._inner.get(key, byte_range=byte_range)


def sorted_parquet(path: Path, rows: int) -> bytes:
    """Rows sorted by ``org`` in row groups of 10,000, as ingest writes them."""
    connection = duckdb.connect()
    try:
        connection.execute(
            f"COPY (SELECT i AS id, i // 1000 AS org, repeat('x', 50) AS pad FROM range({rows}) "
            f"AS r(i) ORDER BY org) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 10000)"
        )
    finally:
        connection.close()
    return path.read_bytes()


def offline_cursor() -> duckdb.DuckDBPyConnection:
    connection = connect(DatasetsSettings())
    lock_down(connection, None)
    return connection


async def scan(source_sql: str, params: list[object], attach: object) -> list[tuple[object, ...]]:
    """Run the query the way a download does: in a thread, off the store's event loop."""
    connection = offline_cursor()

    def run() -> list[tuple[object, ...]]:
        attach(connection)  # type: ignore[operator]
        return connection.sql(source_sql, params=params).fetchall()

    try:
        return await asyncio.to_thread(run)
    finally:
        connection.close()


async def test_a_filter_reads_only_the_row_groups_that_can_match(tmp_path: Path) -> None:
    data = sorted_parquet(tmp_path / "d.parquet", 100_000)
    store = CountingStore()
    await store.put("d/v1.parquet", data)
    source = await open_source(store, "d/v1.parquet")  # type: ignore[arg-type]

    rows = await scan(
        f"SELECT count(*), min(id), max(id) FROM {source.from_item} WHERE org = ?",
        [42],
        source.attach,
    )

    assert rows == [(1000, 42_000, 42_999)]
    assert all(r is not None and r.end is not None for r in store.ranges), "ranged reads only"
    footer, *scanned = store.ranges
    assert footer is not None
    assert footer.end == len(data) - 1
    # one row group of ten, two columns of three: an unfiltered scan would read ten times more
    fetched = sum(r.end - r.start + 1 for r in scanned if r is not None and r.end is not None)
    assert 0 < fetched < len(data) / 5, (fetched, len(data))


async def test_no_extension_is_installed_or_loaded_and_none_can_be(tmp_path: Path) -> None:
    data = sorted_parquet(tmp_path / "d.parquet", 20_000)
    store = CountingStore()
    await store.put("d.parquet", data)
    source = await open_source(store, "d.parquet")  # type: ignore[arg-type]
    connection = offline_cursor()

    def run() -> None:
        source.attach(connection)
        assert connection.sql(f"SELECT count(*) FROM {source.from_item}").fetchall() == [(20_000,)]
        settings = connection.sql(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        ).fetchall()
        assert settings == [(False, False)]
        # with external access off no extension file could have been fetched or even read:
        # the scan above ran on what the package has built in
        with pytest.raises(duckdb.Error):
            connection.execute("INSTALL httpfs")
        with pytest.raises(duckdb.Error):
            connection.execute("SET autoload_known_extensions = true")
        with pytest.raises(duckdb.Error):
            connection.sql("SELECT * FROM read_parquet('s3://bucket/x.parquet')").fetchall()

    try:
        await asyncio.to_thread(run)
    finally:
        connection.close()


async def test_a_file_store_hands_duckdb_the_path_and_nothing_outside_it(tmp_path: Path) -> None:
    store = open_blob_store(f"file://{tmp_path / 'blobs'}")
    await store.put("d/v1.parquet", sorted_parquet(tmp_path / "d.parquet", 1000))
    root = local_root(store)
    assert root == (tmp_path / "blobs").resolve()

    source = await open_source(store, "d/v1.parquet")
    assert source.from_item == "read_parquet(?)"
    assert source.params == [str(root / "d" / "v1.parquet")]

    connection = connect(DatasetsSettings())
    lock_down(connection, root)
    try:
        count = connection.sql("SELECT count(*) FROM read_parquet(?)", params=source.params)
        assert count.fetchall() == [(1000,)]
        with pytest.raises(duckdb.PermissionException):
            connection.sql(
                "SELECT count(*) FROM read_parquet(?)", params=[str(tmp_path / "d.parquet")]
            ).fetchall()
    finally:
        connection.close()


async def test_a_missing_blob_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    stores: list[BlobStore] = [
        open_blob_store(f"file://{tmp_path / 'blobs'}"),
        open_blob_store("memory://"),
    ]
    for store in stores:
        with pytest.raises(DatasetUnavailableError, match="missing"):
            await open_source(store, "gone/v1.parquet")


async def test_a_symlink_out_of_the_file_store_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.parquet"
    outside.write_bytes(sorted_parquet(tmp_path / "s.parquet", 10))
    store = open_blob_store(f"file://{tmp_path / 'blobs'}")
    (tmp_path / "blobs" / "link.parquet").symlink_to(outside)

    with pytest.raises(DatasetUnavailableError, match="outside"):
        await open_source(store, "link.parquet")


async def test_opening_reads_nothing_on_the_event_loop(tmp_path: Path) -> None:
    """A ranged read waits on the loop, so a read from the loop itself would deadlock it."""
    store = CountingStore()
    await store.put("d.parquet", sorted_parquet(tmp_path / "d.parquet", 10))

    await open_source(store, "d.parquet")  # type: ignore[arg-type]

    assert store.ranges == []
