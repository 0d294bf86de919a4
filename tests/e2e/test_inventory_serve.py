"""The inventory service as deployed: `skyferry serve` in a subprocess answers the original five
endpoints, first on a fresh checkout's defaults (SQLite and local files under ./.skyferry, what
`make run` starts), then on DynamoDB and S3 (a moto server), with the table made by
`skyferry inventory create-table`."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from skyferry import __version__
from tests.e2e.processes import SKYFERRY, start, stop, wait_http
from tests.servers import free_port

AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that configures skyferry or AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKYFERRY_", "AWS_"))}
    env.update(SKYFERRY_LOG_LEVEL="WARNING", SKYFERRY_SHUTDOWN_GRACE_SECONDS="0", **extra)
    return env


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def serve(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    process = start(["serve", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, process)
        yield url
    finally:
        assert stop(process) in (0, -signal.SIGTERM), log.read_text()[-2000:]


def create_table(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SKYFERRY, "inventory", "create-table"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def use_the_original_endpoints(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as api:
        assert api.get("/").json() == {
            "name": "skyferry-inventory",
            "version": __version__,
            "status": "ok",
        }
        body = {"sku": "PUMP-12V", "name": "Bilge pump 12 V", "quantity": 4, "price": "89.90"}
        created = api.post("/inventory", json=body)
        assert created.status_code == 201, created.text
        assert api.post("/inventory", json=body).status_code == 409
        fetched = api.get("/inventory/PUMP-12V")
        assert fetched.status_code == 200
        assert fetched.json() == created.json()
        assert fetched.json()["price"] == "89.90"
        assert api.delete("/inventory/PUMP-12V").status_code == 204
        assert api.get("/inventory/PUMP-12V").status_code == 404

        manual = b"%PDF-1.4 pretend manual\n" * 1000
        assert api.put("/files/manuals/pump.pdf", content=manual).status_code == 201
        download = api.get("/file/download/manuals/pump.pdf")
        assert download.status_code == 200
        assert download.content == manual
        assert download.headers["content-type"] == "application/pdf"
        part = api.get("/file/download/manuals/pump.pdf", headers={"Range": "bytes=0-7"})
        assert (part.status_code, part.content) == (206, b"%PDF-1.4")
        assert api.get("/file/download/%2e%2e/%2e%2e/etc/passwd").status_code == 400


@pytest.mark.timeout(180)
def test_a_fresh_serve_answers_the_original_endpoints(tmp_path: Path) -> None:
    # no database or blob settings at all: the defaults, relative to the working directory
    for url in serve(clean_env(), tmp_path / "serve.log"):
        use_the_original_endpoints(url)
    stored = tmp_path / ".skyferry" / "blobs" / "inventory" / "files" / "manuals" / "pump.pdf"
    assert stored.is_file()


@pytest.mark.timeout(180)
def test_serve_on_dynamodb_and_s3(tmp_path: Path, moto: str) -> None:
    bucket = f"shop-{uuid.uuid4().hex[:12]}"
    table = f"inventory-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto, **_credentials()).create_bucket(Bucket=bucket)
    env = clean_env(
        **AWS,
        AWS_ENDPOINT_URL=moto,
        SKYFERRY_INVENTORY__BACKEND="dynamodb",
        SKYFERRY_INVENTORY__DYNAMODB_TABLE=table,
        SKYFERRY_BLOB_URL=f"s3://{bucket}/shop",
    )

    first = create_table(env)
    assert first.returncode == 0, first.stderr
    assert f"created DynamoDB table '{table}'" in first.stdout
    again = create_table(env)
    assert again.returncode == 0, again.stderr
    assert "already exists" in again.stdout

    for url in serve(env, tmp_path / "serve.log"):
        use_the_original_endpoints(url)
    objects = boto3.client("s3", endpoint_url=moto, **_credentials()).list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in objects["Contents"]] == ["shop/inventory/files/manuals/pump.pdf"]


def test_create_table_says_what_is_wrong_when_dynamodb_is_unreachable() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = create_table(clean_env(**AWS, AWS_ENDPOINT_URL=closed))
    assert result.returncode == 1
    assert "cannot create DynamoDB table 'skyferry-inventory'" in result.stderr
    assert closed in result.stderr


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS["AWS_DEFAULT_REGION"],
    }
