"""Ingest: files become sorted Parquet blobs and catalog rows, on SQLite and on Postgres."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from skyferry.config import attach_services, load_settings
from skyferry.platform import Platform, build
from skyferry.services.datasets.catalog import Catalog
from skyferry.services.datasets.errors import DatasetNotFoundError, InvalidDatasetError
from skyferry.services.datasets.ingest import ingest_demo, ingest_file, remove_dataset
from skyferry.services.datasets.models import Dataset
from skyferry.services.datasets.service import service
from skyferry.storage import migrations
from skyferry.storage.errors import BlobNotFoundError

ROWS = [
    # unsorted on purpose; one row has no organisation
    {"entity": 3, "organisation-entity": 600002, "name": "Oak Lane", "start-date": "2001-02-03",
     "area": 1.5},
    {"entity": 1, "organisation-entity": 600001, "name": "Elm Road, \"the\" close",
     "start-date": "1999-12-31", "area": 0.25},
    {"entity": 4, "organisation-entity": None, "name": "Ash Way", "start-date": None,
     "area": 3.0},
    {"entity": 2, "organisation-entity": 600001, "name": "Beech Street", "start-date": "2020-01-01",
     "area": 2.75},
]  # fmt: skip


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    settings = load_settings(
        database_url=database_url,
        blob_url=f"file://{tmp_path / 'blobs'}",
        datasets={"row_group_rows": 10_000},
    )
    attach_services(settings, [service])
    platform = build(settings, [service])
    migrations.upgrade(platform.database, [service])
    yield platform
    platform.database.dispose()


def write_inputs(directory: Path) -> dict[str, Path]:
    """The same rows as CSV, a JSON array, newline-delimited JSON and Parquet."""
    paths = {
        "csv": directory / "input.csv",
        "json": directory / "input.json",
        "ndjson": directory / "input.ndjson",
        "parquet": directory / "input.parquet",
    }
    paths["json"].write_text(json.dumps(ROWS))
    paths["ndjson"].write_text("\n".join(json.dumps(row) for row in ROWS) + "\n")
    connection = duckdb.connect()
    try:
        relation = connection.read_json(str(paths["json"]))
        relation.write_csv(str(paths["csv"]))
        relation.write_parquet(str(paths["parquet"]))
    finally:
        connection.close()
    return paths


def stored_rows(runtime: Platform, dataset: Dataset, directory: Path) -> list[dict[str, object]]:
    local = directory / "stored.parquet"
    local.write_bytes(asyncio.run(runtime.blobs.read(dataset.blob_key)))
    rows: list[dict[str, object]] = pq.read_table(local).to_pylist()
    return rows


@pytest.mark.parametrize("kind", ["csv", "json", "ndjson", "parquet"])
def test_a_file_becomes_a_sorted_typed_dataset(
    runtime: Platform, tmp_path: Path, kind: str
) -> None:
    path = write_inputs(tmp_path)[kind]

    dataset = asyncio.run(ingest_file(runtime, "areas", path, description="Areas"))

    assert dataset.row_count == 4
    assert dataset.sorted_by == "organisation-entity"
    types = {column.name: column.type for column in dataset.columns}
    assert types["entity"] == "BIGINT"
    assert types["organisation-entity"] == "BIGINT"
    assert types["name"] == "VARCHAR"
    assert types["start-date"] == "DATE"
    assert types["area"] == "DOUBLE"
    stats = {column.name: column.stats for column in dataset.columns}
    assert (stats["entity"].min, stats["entity"].max) == ("1", "4")
    assert stats["organisation-entity"].null_fraction == 0.25

    rows = stored_rows(runtime, dataset, tmp_path)
    assert [row["organisation-entity"] for row in rows] == [600001, 600001, 600002, None]
    assert [row["entity"] for row in rows] == [1, 2, 3, 4], "input order within an organisation"
    by_entity = {row["entity"]: row for row in rows}
    assert by_entity[1]["name"] == 'Elm Road, "the" close'
    assert by_entity[1]["start-date"] == date(1999, 12, 31)
    assert by_entity[4]["start-date"] is None

    assert Catalog(runtime.database).get("areas") == dataset
    assert dataset.size_bytes == len(asyncio.run(runtime.blobs.read(dataset.blob_key)))


def test_without_organisation_entity_the_input_order_is_kept(
    runtime: Platform, tmp_path: Path
) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("id,label\n3,c\n1,a\n2,b\n")

    dataset = asyncio.run(ingest_file(runtime, "plain", path))

    assert dataset.sorted_by is None
    assert [row["id"] for row in stored_rows(runtime, dataset, tmp_path)] == [3, 1, 2]


def test_row_groups_cover_disjoint_organisation_ranges(runtime: Platform, tmp_path: Path) -> None:
    dataset = asyncio.run(ingest_demo(runtime, rows=45_000))
    local = tmp_path / "demo.parquet"
    local.write_bytes(asyncio.run(runtime.blobs.read(dataset.blob_key)))
    metadata = pq.ParquetFile(local).metadata
    column = metadata.schema.names.index("organisation-entity")

    ranges = []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(column).statistics
        ranges.append((statistics.min, statistics.max))

    assert metadata.num_row_groups == 5  # 10,000 rows per group here
    assert all(low <= high for low, high in ranges)
    assert all(ranges[i][1] <= ranges[i + 1][0] for i in range(len(ranges) - 1)), ranges


def test_the_demo_is_the_same_every_time(runtime: Platform, tmp_path: Path) -> None:
    first = asyncio.run(ingest_demo(runtime, name="one", rows=3000))
    second = asyncio.run(ingest_demo(runtime, name="two", rows=3000))
    assert stored_rows(runtime, first, tmp_path) == stored_rows(runtime, second, tmp_path)
    assert [column.name for column in first.columns] == [
        "entity", "name", "dataset", "typology", "prefix", "reference", "organisation-entity",
        "start-date", "end-date", "entry-date", "point", "quality",
    ]  # fmt: skip


def test_ingesting_again_replaces_the_dataset_and_its_file(
    runtime: Platform, tmp_path: Path
) -> None:
    first = asyncio.run(ingest_demo(runtime, rows=100))
    second = asyncio.run(ingest_demo(runtime, rows=200))

    assert second.blob_key != first.blob_key
    assert Catalog(runtime.database).get("entity") == second
    with pytest.raises(BlobNotFoundError):
        asyncio.run(runtime.blobs.head(first.blob_key))

    removed = asyncio.run(remove_dataset(runtime, "entity"))
    assert removed == second
    assert Catalog(runtime.database).get("entity") is None
    with pytest.raises(BlobNotFoundError):
        asyncio.run(runtime.blobs.head(second.blob_key))
    with pytest.raises(DatasetNotFoundError, match="no dataset named 'entity'"):
        asyncio.run(remove_dataset(runtime, "entity"))


@pytest.mark.parametrize(
    ("name", "content", "suffix", "message"),
    [
        ("Bad Name", "a\n1\n", ".csv", "invalid dataset name 'Bad Name'"),
        ("openapi", "a\n1\n", ".csv", "'openapi' is reserved"),
        ("ok", "limit,b\n1,2\n", ".csv", "column 'limit' has the name of a download parameter"),
        ("ok", "{not json", ".json", "cannot read the input"),
        ("ok", "a,b\n1,2\n", ".xlsx", "cannot tell the format of 'input.xlsx'"),
        ("ok", "PAR1 but not really", ".parquet", "cannot read the input"),
    ],
)
def test_unusable_input_is_refused_with_the_reason(
    runtime: Platform, tmp_path: Path, name: str, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"input{suffix}"
    path.write_text(content)

    with pytest.raises(InvalidDatasetError, match=message):
        asyncio.run(ingest_file(runtime, name, path))
    assert Catalog(runtime.database).entries() == []
