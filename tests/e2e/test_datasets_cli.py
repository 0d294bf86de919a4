"""The datasets commands and downloads from a `skyferry serve` process, as a deployment runs them.

``HOME`` is a fresh directory for every process, so a DuckDB extension downloaded or installed
at run time would show up there; none may.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import duckdb
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.servers import free_port


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = skyferry_env(tmp_path, f"sqlite:///{tmp_path}/data/skyferry.db", **extra)
    env["HOME"] = str(tmp_path / "home")
    env["SKYFERRY_SERVICES"] = "datasets"
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def skyferry(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SKYFERRY, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return done


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = start(["serve", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, process)
        yield url, process.pid
    finally:
        assert stop(process) in (0, -signal.SIGTERM), log.read_text()[-2000:]


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_ingest_demo_list_and_remove_from_the_command_line(tmp_path: Path) -> None:
    env = environment(tmp_path)
    source = tmp_path / "sites.csv"
    source.write_text(
        "reference,organisation-entity,name\nS2,600002,Mill\nS1,600001,Quay\nS3,600001,Dock\n"
    )

    ingested = skyferry(
        "datasets", "ingest", "sites", str(source), "--description", "Sites", env=env
    )
    assert ingested.returncode == 0, ingested.stderr
    assert "sites: 3 rows, 3 columns" in ingested.stderr
    assert "sorting and writing Parquet" in ingested.stderr  # the progress display

    demo = skyferry("datasets", "demo", "--rows", "5000", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "entity: 5,000 rows" in demo.stderr
    assert "uploading" in demo.stderr
    again = skyferry("datasets", "demo", "--rows", "5000", "--if-missing", env=env)
    assert again.returncode == 0
    assert "entity exists already" in again.stderr

    listed = skyferry("datasets", "ls", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "entity" in listed.stdout
    assert "sites" in listed.stdout

    removed = skyferry("datasets", "rm", "sites", env=env)
    assert removed.returncode == 0, removed.stderr
    assert not (tmp_path / "home" / ".duckdb").exists()


@pytest.mark.timeout(300)
def test_a_download_far_larger_than_the_server_holds_streams_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """1M rows are ~330 MB of JSON; the server may hold a small, fixed part of that at once."""
    env = environment(tmp_path, SKYFERRY_DATASETS__DUCKDB_MEMORY_LIMIT="128MB")
    made = skyferry("datasets", "demo", env=env)
    assert made.returncode == 0, made.stderr

    with serving(env, tmp_path / "serve.log") as (url, pid), httpx.Client(timeout=120) as client:
        client.get(f"{url}/entity.json", params={"limit": "10"}).raise_for_status()  # warm up
        baseline = peak = rss(pid)
        finished = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not finished.is_set():
                peak = max(peak, rss(pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        size = rows = 0
        tail = b""
        try:
            with client.stream("GET", f"{url}/entity.json") as response:
                assert response.status_code == 200
                for chunk in response.iter_raw():
                    size += len(chunk)
                    rows += (tail[-1:] + chunk).count(b"\n{")  # one may straddle chunks
                    tail = (tail + chunk)[-16:]
        finally:
            finished.set()
            sampler.join()

    assert rows == 1_000_000
    assert tail.endswith(b"}\n]\n")
    assert size > 300_000_000
    growth = peak - baseline
    # generous against allocator noise, still far below what buffering the body would take
    assert growth < 150_000_000, f"server RSS grew {growth / 1e6:.0f} MB for {size / 1e6:.0f} MB"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A moto S3 server and the environment that points skyferry at a fresh bucket on it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    bucket = f"datasets-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, **_boto_credentials(credentials)).create_bucket(
        Bucket=bucket
    )
    try:
        yield {
            **credentials,
            "AWS_ENDPOINT_URL": endpoint,
            "SKYFERRY_BLOB_URL": f"s3://{bucket}/published",
        }
    finally:
        server.stop()


def _boto_credentials(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


@pytest.mark.timeout(300)
def test_from_s3_every_format_matches_duckdb_with_no_extension(
    tmp_path: Path, s3: dict[str, str]
) -> None:
    env = environment(tmp_path, **s3)
    made = skyferry("datasets", "demo", "--rows", "30000", env=env)
    assert made.returncode == 0, made.stderr

    bucket = s3["SKYFERRY_BLOB_URL"].removeprefix("s3://").split("/")[0]
    client = boto3.client("s3", endpoint_url=s3["AWS_ENDPOINT_URL"], **_boto_credentials(s3))
    (key,) = [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert key.startswith("published/datasets/entity/")
    local = tmp_path / "source.parquet"
    client.download_file(bucket, key, str(local))
    connection = duckdb.connect()
    relation = connection.sql(
        'SELECT entity, reference, "start-date" FROM read_parquet(?) '
        'WHERE "organisation-entity" IN (600010, 600123) LIMIT 500 OFFSET 3',
        params=[str(local)],
    )
    expected = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    connection.close()
    assert expected

    params = httpx.QueryParams(
        [
            ("organisation-entity", "600010"),
            ("organisation-entity", "600123"),
            ("fields", "entity,reference,start-date"),
            ("limit", "500"),
            ("offset", "3"),
        ]
    )
    with serving(env, tmp_path / "serve.log") as (url, _), httpx.Client(base_url=url) as http:
        as_csv = http.get("/entity.csv", params=params)
        as_json = http.get("/entity.json", params=params)
        hostile = http.get("/entity.csv", params={"reference": "x' OR 1=1; --"})

    assert as_csv.status_code == 200, as_csv.text
    rows = list(csv.DictReader(io.StringIO(as_csv.text, newline="")))
    assert rows == [
        {"entity": str(r["entity"]), "reference": r["reference"],
         "start-date": r["start-date"].isoformat()}
        for r in expected
    ]  # fmt: skip
    assert json.loads(as_json.content) == [
        {**r, "start-date": r["start-date"].isoformat()} for r in expected
    ]
    assert hostile.text.count("\n") == 1  # the header row, and no rows
    assert not (tmp_path / "home" / ".duckdb").exists(), "an extension was installed"
