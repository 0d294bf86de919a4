"""Dataset downloads over real HTTP, from local files, memory, and S3 on a moto server.

Every download is parsed back with a standard reader (csv, json, pyarrow.parquet) and compared
row for row, in order, with DuckDB's answer to the same query written out by hand against the
stored Parquet file.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI

from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.platform import Platform
from skyferry.services.datasets.catalog import Catalog
from skyferry.services.datasets.ingest import ingest_demo, remove_dataset
from tests.servers import serve_in_thread

DEMO_ROWS = 20_000
FORMATS = ["csv", "json", "ndjson", "parquet"]
HOSTILE = [
    "1' OR '1'='1",
    "x'; DROP TABLE datasets_catalog; --",
    '") UNION ALL SELECT * FROM duckdb_settings() --',
    "'; COPY (SELECT 1) TO '/tmp/pwned.csv'; --",
    "600001 OR 1=1",
]


@dataclass
class Served:
    backend: str
    client: httpx.Client
    app: FastAPI
    workdir: Path
    _sources: dict[str, Path] = field(default_factory=dict)

    @property
    def runtime(self) -> Platform:
        platform: Platform = self.app.state.skyferry
        return platform

    def source(self, name: str) -> Path:
        """A local copy of the Parquet the catalog names, for DuckDB to answer from."""
        if name not in self._sources:
            dataset = Catalog(self.runtime.database).get(name)
            assert dataset is not None
            path = self.workdir / f"{name}.parquet"
            path.write_bytes(asyncio.run(self.runtime.blobs.read(dataset.blob_key)))
            self._sources[name] = path
        return self._sources[name]

    def expected(self, name: str, sql: str) -> list[dict[str, Any]]:
        """Rows of ``sql``, in which ``src`` is the dataset's stored Parquet file."""
        connection = duckdb.connect()
        try:
            relation = connection.sql(
                sql.replace("src", "read_parquet(?)", 1), params=[str(self.source(name))]
            )
            return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
        finally:
            connection.close()


@pytest.fixture(scope="module", params=["file", "memory", "s3"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"datasets-{backend}")
    with pytest.MonkeyPatch.context() as env:
        endpoint = None
        blob_url = f"file://{workdir / 'blobs'}" if backend == "file" else "memory://"
        if backend == "s3":
            endpoint = request.getfixturevalue("moto_endpoint")
            for name, value in {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }.items():
                env.setenv(name, value)
            bucket = f"datasets-{uuid.uuid4().hex[:12]}"
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
            blob_url = f"s3://{bucket}/some/prefix"
        settings = load_settings(
            _env_file=None,
            database_url=f"sqlite:///{workdir}/db/skyferry.db",
            blob_url=blob_url,
            aws_endpoint_url=endpoint,
            log_format="text",
            auto_migrate=True,
            services=["datasets"],
            # small batches, so every download streams in many chunks
            datasets={"chunk_rows": 1000},
        )
        app = create_app(settings)
        with (
            serve_in_thread(app) as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            asyncio.run(ingest_demo(app.state.skyferry, rows=DEMO_ROWS))
            yield Served(backend, client, app, workdir)


def parsed(fmt: str, body: bytes) -> list[dict[str, Any]]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    if fmt == "json":
        rows: list[dict[str, Any]] = json.loads(body)
        return rows
    if fmt == "ndjson":
        return [json.loads(line) for line in body.decode("utf-8").splitlines()]
    rows = pq.read_table(io.BytesIO(body)).to_pylist()
    return rows


def as_sent(fmt: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DuckDB's rows as each format writes them: CSV is all text, JSON has ISO dates."""
    if fmt == "parquet":
        return rows

    def value(item: object) -> object:
        if isinstance(item, date):
            return item.isoformat()
        if fmt == "csv":
            return "" if item is None else str(item)
        return item

    return [{key: value(item) for key, item in row.items()} for row in rows]


CASES = [
    pytest.param([], "SELECT * FROM src", id="everything"),
    pytest.param(
        [("organisation-entity", "600003")],
        'SELECT * FROM src WHERE "organisation-entity" = 600003',
        id="one-organisation",
    ),
    pytest.param(
        [
            ("organisation-entity", "600001"),
            ("organisation-entity", "600250"),
            ("fields", "reference,entity,start-date"),
        ],
        'SELECT reference, entity, "start-date" FROM src '
        'WHERE "organisation-entity" IN (600001, 600250)',
        id="in-and-fields",
    ),
    pytest.param(
        [("limit", "25"), ("offset", "1000")],
        "SELECT * FROM src LIMIT 25 OFFSET 1000",
        id="page",
    ),
    pytest.param(
        [("quality", "usable"), ("dataset", "listed-building"), ("end-date", "2005-06-07")],
        "SELECT * FROM src WHERE quality = 'usable' AND dataset = 'listed-building' "
        "AND \"end-date\" = DATE '2005-06-07'",
        id="text-and-date",
    ),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("params", "sql"), CASES)
def test_downloads_match_duckdb_row_for_row(
    served: Served, fmt: str, params: list[tuple[str, str]], sql: str
) -> None:
    response = served.client.get(f"/entity.{fmt}", params=tuple(params))

    assert response.status_code == 200, response.text
    expected = served.expected("entity", sql)
    assert parsed(fmt, response.content) == as_sent(fmt, expected)
    if not params:
        assert len(expected) == DEMO_ROWS


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("json", "application/json"),
        ("ndjson", "application/x-ndjson"),
        ("parquet", "application/vnd.apache.parquet"),
    ],
)
def test_downloads_are_chunked_attachments_of_the_right_type(
    served: Served, fmt: str, media_type: str
) -> None:
    with served.client.stream("GET", f"/entity.{fmt}") as response:
        chunks = list(response.iter_raw())
    assert response.headers["content-type"] == media_type
    assert response.headers["content-disposition"] == f'attachment; filename="entity.{fmt}"'
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert len(chunks) > 1


def test_a_csv_starts_with_its_header_row(served: Served) -> None:
    response = served.client.get("/entity.csv", params={"fields": "entity,organisation-entity"})
    assert response.text.splitlines()[0] == '"entity","organisation-entity"'


def test_head_checks_like_get_and_sends_no_body(served: Served) -> None:
    head = served.client.head("/entity.parquet", params={"organisation-entity": "600001"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/vnd.apache.parquet"
    assert head.headers["content-disposition"] == 'attachment; filename="entity.parquet"'

    assert served.client.head("/nothing.csv").status_code == 404
    assert served.client.head("/entity.xml").status_code == 400
    assert served.client.head("/entity.csv", params={"colour": "red"}).status_code == 400


def test_downloads_carry_an_etag_and_cache_control_a_cdn_can_use(served: Served) -> None:
    params = {"organisation-entity": "600001", "fields": "entity"}
    first = served.client.get("/entity.csv", params=params)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    # no API keys: a shared cache (CloudFront in front) may keep it for the default 300 s
    assert first.headers["cache-control"] == "public, max-age=300"
    # the same rows in the same format, whatever the order of the parameters
    reordered = served.client.head("/entity.csv", params=dict(reversed(params.items())))
    assert reordered.headers["etag"] == etag
    again = served.client.get("/entity.csv", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=300"
    other_rows = served.client.head("/entity.csv", params={"fields": "entity"})
    other_format = served.client.head("/entity.json", params=params)
    assert len({etag, other_rows.headers["etag"], other_format.headers["etag"]}) == 3


def test_the_catalog_lists_and_describes_datasets(served: Served) -> None:
    listing = served.client.get("/datasets").json()
    (entry,) = listing["items"]
    assert entry["name"] == "entity"
    assert entry["row_count"] == DEMO_ROWS
    assert entry["size_bytes"] == served.source("entity").stat().st_size
    assert entry["downloads"]["parquet"] == "/entity.parquet"

    detail = served.client.get("/datasets/entity").json()
    columns = {column["name"]: column for column in detail["columns"]}
    assert list(columns)[:3] == ["entity", "name", "dataset"]
    assert columns["organisation-entity"]["type"] == "BIGINT"
    assert columns["start-date"]["type"] == "DATE"
    assert columns["organisation-entity"]["stats"]["min"] == "600000"
    assert 0 < columns["end-date"]["stats"]["null_fraction"] < 1
    assert detail["sorted_by"] == "organisation-entity"
    assert "limit=N" in detail["filters"]


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_an_unknown_dataset_is_a_404_naming_those_there_are(served: Served) -> None:
    for path in ("/nothing.csv", "/datasets/nothing", "/favicon.ico", "/UPPER.csv"):
        body = problem(served.client.get(path), 404)
        assert "available: entity" in body["detail"]


def test_an_unknown_format_is_a_400_naming_the_formats(served: Served) -> None:
    body = problem(served.client.get("/entity.xlsx"), 400)
    assert body["detail"] == "unknown format 'xlsx'; choose one of: csv, json, ndjson, parquet"
    assert body["valid_formats"] == FORMATS


def test_an_unknown_column_is_a_400_naming_the_columns(served: Served) -> None:
    body = problem(served.client.get("/entity.csv", params={"organisation": "1"}), 400)
    assert "no column 'organisation'" in body["detail"]
    assert "organisation-entity" in body["detail"]
    assert "organisation-entity" in body["valid_columns"]

    body = problem(served.client.get("/entity.json", params={"fields": "entity,colour"}), 400)
    assert "'colour'" in body["detail"]


def test_a_value_the_column_cannot_hold_is_a_400(served: Served) -> None:
    body = problem(served.client.get("/entity.csv", params={"start-date": "yesterday"}), 400)
    assert "not a valid DATE for column 'start-date'" in body["detail"]
    body = problem(served.client.get("/entity.csv", params={"limit": "-5"}), 400)
    assert "limit must be a whole number" in body["detail"]
    # past 128 bits DuckDB cannot even bind the value (before: 500)
    for huge in (str(2**63), "9" * 40):
        body = problem(served.client.get("/entity.csv", params={"organisation-entity": huge}), 400)
        assert "outside the range of BIGINT for column 'organisation-entity'" in body["detail"]
        assert body["column"] == "organisation-entity"


@pytest.mark.parametrize("value", HOSTILE)
def test_sql_in_a_filter_value_is_only_ever_data(served: Served, value: str) -> None:
    text = served.client.get("/entity.json", params={"name": value, "reference": value})
    assert text.status_code == 200
    assert text.json() == []

    number = served.client.get("/entity.json", params={"organisation-entity": value})
    assert "not a valid BIGINT" in problem(number, 400)["detail"]

    # nothing was dropped, widened or written
    assert served.client.get("/datasets/entity").json()["row_count"] == DEMO_ROWS
    assert served.client.get("/entity.csv", params={"fields": "entity"}).text.count("\n") == (
        DEMO_ROWS + 1
    )
    assert not Path("/tmp/pwned.csv").exists()


def test_the_app_routes_are_not_shadowed_by_the_download_route(served: Served) -> None:
    schema = served.client.get("/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    paths = schema.json()["paths"]
    assert set(paths["/{dataset}.{extension}"]) == {"get", "head"}
    assert "/datasets/{name}" in paths
    assert served.client.get("/docs").status_code == 200
    assert served.client.get("/health").json()["status"] == "ok"


def test_concurrent_downloads_each_get_their_own_rows(served: Served) -> None:
    organisations = [600000, 600001, 600002, 600010, 600100, 600399]

    def fetch(organisation: int) -> list[dict[str, Any]]:
        response = served.client.get(
            "/entity.ndjson",
            params={"organisation-entity": str(organisation), "fields": "entity,name"},
        )
        assert response.status_code == 200, response.text
        return parsed("ndjson", response.content)

    with ThreadPoolExecutor(max_workers=len(organisations)) as pool:
        results = list(pool.map(fetch, organisations))

    for organisation, rows in zip(organisations, results, strict=True):
        sql = f'SELECT entity, name FROM src WHERE "organisation-entity" = {organisation}'
        assert rows == served.expected("entity", sql)


@pytest.mark.parametrize("damage", ["deleted", "not parquet"])
def test_a_dataset_whose_file_is_gone_or_damaged_is_a_503(served: Served, damage: str) -> None:
    runtime = served.runtime
    dataset = asyncio.run(ingest_demo(runtime, name="doomed", rows=100))
    try:
        if damage == "deleted":
            asyncio.run(runtime.blobs.delete(dataset.blob_key))
        else:
            asyncio.run(runtime.blobs.put(dataset.blob_key, b"PAR1 this is not parquet PAR1"))

        body = problem(served.client.get("/doomed.csv"), 503)
        assert body["title"] == "Dataset unavailable"
        assert "doomed" in body["detail"] or dataset.blob_key in body["detail"]
        # the slot it took is free again
        assert served.client.get("/entity.csv", params={"limit": "1"}).status_code == 200
    finally:
        asyncio.run(remove_dataset(runtime, "doomed"))
