"""/ready says which dependency is down."""

from __future__ import annotations

import httpx

from skyferry.app import create_app
from skyferry.config import load_settings
from tests.servers import serve_in_thread


def test_ready_names_the_blob_store_that_is_down(moto_endpoint: str, aws_env: None) -> None:
    settings = load_settings(
        database_url="sqlite:///db/skyferry.db",
        blob_url="s3://no-such-bucket/skyferry",
        aws_endpoint_url=moto_endpoint,
        log_format="text",
    )
    with serve_in_thread(create_app(settings)) as url:
        response = httpx.get(f"{url}/ready", timeout=30)
        health = httpx.get(f"{url}/health", timeout=30)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == "not ready: blobs unreachable"
    assert set(body["checks"]) == {"blobs"}
    assert health.status_code == 200  # liveness does not depend on the store
