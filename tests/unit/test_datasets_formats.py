"""Encoders: each format's bytes, made batch by batch, parse back with a standard reader."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime

import duckdb
import pyarrow.parquet as pq
import pytest

from skyferry.services.datasets.formats import FORMATS, Format
from skyferry.services.datasets.models import Column, Dataset
from skyferry.services.datasets.query import DownloadQuery, parse_query

ROWS = 5000
TABLE = """
CREATE TABLE t AS SELECT
    i AS id,
    CASE WHEN i % 7 = 0 THEN NULL ELSE 'name "' || i || '", with comma' END AS "the name",
    DATE '2020-01-01' + (i % 400)::INTEGER AS day,
    CASE WHEN i = 3 THEN 'nan'::DOUBLE WHEN i = 4 THEN 'inf'::DOUBLE ELSE i / 4.0 END AS ratio,
    i % 2 = 0 AS even,
    [i, i + 1] AS pair,
    {'k': i} AS box
FROM range(?) AS r(i)
"""


@pytest.fixture(scope="module")
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute(TABLE, [ROWS])
    yield con
    con.close()


@pytest.fixture(scope="module")
def dataset(connection: duckdb.DuckDBPyConnection) -> Dataset:
    described = connection.sql("DESCRIBE t").fetchall()
    return Dataset(
        name="t",
        blob_key="x.parquet",
        columns=[Column(name=row[0], type=row[1]) for row in described],
        row_count=ROWS,
        size_bytes=1,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def encode(
    connection: duckdb.DuckDBPyConnection, fmt: Format, query: DownloadQuery, batch_rows: int
) -> tuple[bytes, list[bytes]]:
    """The whole body and the chunks it came in, as a download makes them."""
    sql, params = query.sql(fmt, "t")
    reader = connection.sql(sql, params=params or None).to_arrow_reader(batch_rows)
    encoder = fmt.encoder(reader.schema)
    chunks = [encoder.begin()]
    chunks += [encoder.encode(batch) for batch in reader]
    chunks.append(encoder.end())
    return b"".join(chunks), chunks


def expected_rows(
    connection: duckdb.DuckDBPyConnection, where: str = "", params: list[object] | None = None
) -> list[dict[str, object]]:
    relation = connection.sql(f"SELECT * FROM t {where}", params=params)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_csv_has_one_header_and_every_row(
    connection: duckdb.DuckDBPyConnection, dataset: Dataset
) -> None:
    body, chunks = encode(connection, FORMATS["csv"], parse_query(dataset, [], max_values=5), 1000)

    assert len(chunks) > 3, "several batches, so the header must not repeat"
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    assert list(rows[0]) == dataset.column_names
    assert len(rows) == ROWS
    for row, want in zip(rows, expected_rows(connection), strict=True):
        assert int(row["id"]) == want["id"]
        assert row["the name"] == (want["the name"] or "")
        assert date.fromisoformat(row["day"]) == want["day"]
        ratio = float(row["ratio"])
        assert ratio == want["ratio"] or (math.isnan(ratio) and math.isnan(want["ratio"]))  # type: ignore[arg-type]
        assert row["even"] == str(want["even"]).lower()
        # nested values go out as their JSON text
        assert json.loads(row["pair"]) == want["pair"]
        assert json.loads(row["box"]) == want["box"]


def test_json_is_one_array_and_non_finite_numbers_become_null(
    connection: duckdb.DuckDBPyConnection, dataset: Dataset
) -> None:
    body, _ = encode(connection, FORMATS["json"], parse_query(dataset, [], max_values=5), 700)

    rows = json.loads(body)  # strict: json.loads would accept NaN, so check the text too
    assert b"NaN" not in body
    assert b"Infinity" not in body
    assert len(rows) == ROWS
    for row, want in zip(rows, expected_rows(connection), strict=True):
        assert row["id"] == want["id"]
        assert row["the name"] == want["the name"]
        assert row["day"] == want["day"].isoformat()  # type: ignore[attr-defined]
        if want["id"] in (3, 4):
            assert row["ratio"] is None
        else:
            assert row["ratio"] == want["ratio"]
        assert row["pair"] == want["pair"]
        assert row["box"] == want["box"]


@pytest.mark.parametrize("extension", ["json", "ndjson", "csv", "parquet"])
def test_nothing_matching_is_still_a_valid_document(
    connection: duckdb.DuckDBPyConnection, dataset: Dataset, extension: str
) -> None:
    query = parse_query(dataset, [("id", "-1")], max_values=5)
    body, _ = encode(connection, FORMATS[extension], query, 1000)

    if extension == "json":
        assert json.loads(body) == []
    elif extension == "ndjson":
        assert body == b""
    elif extension == "csv":
        assert body.decode().splitlines() == [",".join(f'"{n}"' for n in dataset.column_names)]
    else:
        table = pq.read_table(io.BytesIO(body))
        assert table.num_rows == 0
        assert table.column_names == dataset.column_names


def test_ndjson_is_one_object_per_line(
    connection: duckdb.DuckDBPyConnection, dataset: Dataset
) -> None:
    query = parse_query(dataset, [("fields", "id,day"), ("limit", "1234")], max_values=5)
    body, _ = encode(connection, FORMATS["ndjson"], query, 500)

    lines = body.decode().splitlines()
    assert len(lines) == 1234
    assert [json.loads(line) for line in lines] == [
        {"id": row["id"], "day": row["day"].isoformat()}  # type: ignore[attr-defined]
        for row in expected_rows(connection, "LIMIT 1234")
    ]


def test_parquet_streams_one_row_group_per_batch(
    connection: duckdb.DuckDBPyConnection, dataset: Dataset
) -> None:
    query = parse_query(dataset, [("even", "true")], max_values=5)
    body, chunks = encode(connection, FORMATS["parquet"], query, 1000)

    assert chunks[0] == b"PAR1"
    parquet = pq.ParquetFile(io.BytesIO(body))
    assert parquet.metadata.num_row_groups > 1
    assert parquet.read().to_pylist() == expected_rows(connection, "WHERE even")


def test_cache_control_keeps_guarded_downloads_out_of_shared_caches() -> None:
    from skyferry.services.datasets.caching import cache_control

    assert cache_control(300, guarded=False) == "public, max-age=300"
    assert cache_control(300, guarded=True) == "private, max-age=300"
    assert cache_control(0, guarded=False) == "no-cache"
