"""A bucket an earlier service left with its files at the root, now shared with skyferry's
other services: ``SKYFERRY_INVENTORY__FILES_PREFIX=""`` with ``FILES_FOLDERS=false`` serves the
root files and none of the books' or datasets' objects in their folders (moto S3 server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.services.inventory.settings import InventorySettings
from tests.servers import serve_in_thread


@pytest.fixture
def api(moto_endpoint: str, s3_bucket: str, tmp_path: Path) -> Iterator[httpx.Client]:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.put_object(Bucket=s3_bucket, Key="price-list.pdf", Body=b"%PDF old")
    s3.put_object(Bucket=s3_bucket, Key="books/123/book.json", Body=b'{"secret": 1}')
    s3.put_object(Bucket=s3_bucket, Key="datasets/demo.parquet", Body=b"PAR1")
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/db/skyferry.db",
        blob_url=f"s3://{s3_bucket}",
        log_format="text",
        log_level="WARNING",
        auto_migrate=True,
        services=["inventory"],
        AWS_ENDPOINT_URL=moto_endpoint,
        inventory={"files_prefix": "", "files_folders": False},
    )
    with (
        serve_in_thread(create_app(settings, run_workers=False)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def test_root_files_are_served_and_other_services_objects_are_not(api: httpx.Client) -> None:
    download = api.get("/file/download/price-list.pdf")
    assert download.status_code == 200, download.text
    assert download.content == b"%PDF old"
    assert [f["name"] for f in api.get("/files").json()["files"]] == ["price-list.pdf"]
    for other in ("books/123/book.json", "datasets/demo.parquet"):
        refused = api.get(f"/file/download/{other}")
        assert refused.status_code == 400, refused.text
        assert "without folders" in refused.json()["detail"]
    assert api.put("/files/books/x.json", content=b"{}").status_code == 400
    assert api.put("/files/new.txt", content=b"hello").status_code == 201


def test_an_empty_prefix_with_folders_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="files_folders=false"):
        InventorySettings(files_prefix="")
