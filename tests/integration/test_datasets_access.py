"""Who may download, how often, and how many at once: API keys, rate limits, CORS, and the
memory budget of downloads."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.services.datasets.ingest import ingest_demo
from tests.servers import serve_in_thread

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-fedcba9876543210"

Serve = Callable[..., contextlib.AbstractContextManager[httpx.Client]]


@pytest.fixture
def serve(tmp_path: Path) -> Serve:
    """Start the app with these settings and a demo dataset of ``rows`` rows."""

    @contextlib.contextmanager
    def start(rows: int = 1000, **overrides: Any) -> Iterator[httpx.Client]:
        settings = load_settings(
            database_url=f"sqlite:///{tmp_path}/db/skyferry.db",
            blob_url=f"file://{tmp_path / 'blobs'}",
            log_format="text",
            auto_migrate=True,
            services=["datasets"],
            **overrides,
        )
        app = create_app(settings)
        with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            asyncio.run(ingest_demo(app.state.skyferry, rows=rows))
            yield client

    return start


def test_with_keys_set_every_datasets_route_needs_one(serve: Serve) -> None:
    with serve(api_keys=f"{KEY_A},{KEY_B}") as client:
        for path in ("/datasets", "/datasets/entity", "/entity.csv"):
            refused = client.get(path)
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
            assert client.get(path, headers={"X-API-Key": "wrong"}).status_code == 401
            assert client.get(path, headers={"X-API-Key": KEY_B}).status_code == 200
        assert client.head("/entity.csv").status_code == 401
        assert client.get("/health").status_code == 200


def test_without_keys_the_datasets_are_open(serve: Serve) -> None:
    with serve() as client:
        assert client.get("/entity.csv", params={"limit": "1"}).status_code == 200


def test_a_client_over_its_rate_is_told_when_to_come_back(serve: Serve) -> None:
    with serve(datasets={"rate_limit_per_minute": 3}) as client:
        for _ in range(3):
            assert client.get("/datasets").status_code == 200
        refused = client.get("/entity.csv")

        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert refused.json()["retry_after_seconds"] == retry_after
        assert client.get("/health").status_code == 200, "operations routes are not limited"


def test_each_api_key_has_a_budget_of_its_own(serve: Serve) -> None:
    with serve(api_keys=f"{KEY_A},{KEY_B}", datasets={"rate_limit_per_minute": 2}) as client:
        a, b = {"X-API-Key": KEY_A}, {"X-API-Key": KEY_B}
        assert [client.get("/datasets", headers=a).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert client.get("/datasets", headers=b).status_code == 200


def test_cors_lets_a_configured_origin_read_a_download(serve: Serve) -> None:
    with serve(cors_origins="https://maps.example.org") as client:
        allowed = client.get(
            "/entity.csv", params={"limit": "1"}, headers={"Origin": "https://maps.example.org"}
        )
        other = client.get(
            "/entity.csv", params={"limit": "1"}, headers={"Origin": "https://evil.example"}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://maps.example.org"
    assert "access-control-allow-origin" not in other.headers


# 300,000 rows of JSON are ~100 MB, more than loopback sockets buffer (Linux lets a receive
# buffer grow to 32 MB), so a reader that stops after one chunk keeps its download streaming.
# A budget of 1 MiB is less than any download needs, so one download fills it alone.
ONE_DOWNLOAD = {"download_memory_budget": "1MiB"}


def test_a_download_beyond_the_memory_budget_is_refused_once_its_wait_is_over(
    serve: Serve,
) -> None:
    with serve(rows=300_000, datasets={**ONE_DOWNLOAD, "download_queue_seconds": 0}) as client:
        with (
            httpx.Client(base_url=client.base_url, timeout=30) as reader,
            reader.stream("GET", "/entity.json") as stalled,
        ):
            # keep the iterator: dropping it would close the response, and leave, at once
            body = stalled.iter_raw()
            assert next(body).startswith(b"[")
            busy = client.get("/entity.csv")
            assert busy.status_code == 503
            assert busy.headers["content-type"] == "application/problem+json"
            assert busy.headers["retry-after"] == "1"
            assert busy.json()["title"] == "Too many downloads"
            assert "1.0MiB" in busy.json()["detail"]

        deadline = time.monotonic() + 30
        while (answer := client.get("/entity.csv", params={"limit": "1"})).status_code == 503:
            assert time.monotonic() < deadline, "the abandoned download kept its memory"
            time.sleep(0.1)
        assert answer.status_code == 200


def test_a_download_that_does_not_fit_waits_for_memory_to_free(serve: Serve) -> None:
    with (
        serve(rows=300_000, datasets={**ONE_DOWNLOAD, "download_queue_seconds": 30}) as client,
        httpx.Client(base_url=client.base_url, timeout=30) as reader,
        reader.stream("GET", "/entity.json") as stalled,
        ThreadPoolExecutor(1) as pool,
    ):
        body = stalled.iter_raw()  # kept: dropping it would end the download
        assert next(body).startswith(b"[")
        waiting = pool.submit(client.get, "/entity.csv", params={"limit": "5"})
        time.sleep(1.0)
        assert not waiting.done(), "it should wait for the first download's memory"
        stalled.close()  # the first client leaves; its memory goes to the one waiting
        answer = waiting.result(timeout=30)
    assert answer.status_code == 200
    assert len(answer.text.splitlines()) == 6  # header and five rows
