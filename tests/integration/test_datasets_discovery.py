"""A bucket of ``{name}.parquet`` files, as the service skyferry replaces left it, served as
datasets without an ingest: the catalog entry comes from each file's footer (moto S3 server)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skyferry.app import create_app
from skyferry.config import load_settings
from tests.servers import serve_in_thread


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


@pytest.fixture
def api(moto_endpoint: str, s3_bucket: str, tmp_path: Path) -> Iterator[httpx.Client]:
    shops = pa.table({"id": [1, 2, 3], "city": ["Leeds", "York", "Leeds"]})
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.put_object(Bucket=s3_bucket, Key="datasets/shops.parquet", Body=_parquet(shops))
    s3.put_object(Bucket=s3_bucket, Key="datasets/notes.txt", Body=b"not a dataset")
    settings = load_settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path}/db/skyferry.db",
        blob_url=f"s3://{s3_bucket}",
        aws_endpoint_url=moto_endpoint,
        log_format="text",
        log_level="WARNING",
        auto_migrate=True,
        services=["datasets"],
    )
    with (
        serve_in_thread(create_app(settings, run_workers=False)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def test_a_parquet_file_left_in_the_bucket_is_a_dataset(api: httpx.Client) -> None:
    listing = api.get("/datasets")
    assert listing.status_code == 200, listing.text
    assert [item["name"] for item in listing.json()["items"]] == ["shops"]
    detail = api.get("/datasets/shops").json()
    assert detail["row_count"] == 3
    assert [(c["name"], c["type"]) for c in detail["columns"]] == [
        ("id", "BIGINT"),
        ("city", "VARCHAR"),
    ]
    rows = list(csv.DictReader(io.StringIO(api.get("/shops.csv", params={"city": "Leeds"}).text)))
    assert rows == [{"id": "1", "city": "Leeds"}, {"id": "3", "city": "Leeds"}]


def test_asked_for_by_name_before_any_listing(api: httpx.Client) -> None:
    download = api.get("/shops.json", params={"fields": "id"})
    assert download.status_code == 200, download.text
    assert download.json() == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert api.get("/notes.csv").status_code == 404
