"""Integration fixtures for S3: one moto server per session, a fresh bucket per test.

The server runs in a thread of the test process on a free localhost port; AWS settings reach
the code under test only through ``aws_env``, which monkeypatch undoes after each test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from skyferry.app import create_app
from skyferry.config import load_settings
from tests.servers import free_port, serve_in_thread

LibraryFactory = Callable[..., httpx.Client]

# anything the caller's shell may set that would send requests elsewhere or sign them differently
_FOREIGN_AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_SESSION_TOKEN",
)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Base URL of a moto S3 server, e.g. ``http://127.0.0.1:PORT``."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake credentials and region moto accepts, for this test only."""
    for name in _FOREIGN_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_bucket(moto_endpoint: str, aws_env: None) -> str:
    """A new, empty bucket on the moto server; its unique name keeps tests apart."""
    name = f"test-{uuid.uuid4().hex[:20]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def start_library(database_url: str, tmp_path: Path) -> Iterator[LibraryFactory]:
    """Start the app with the library service only (real uvicorn) and these library settings."""
    with ExitStack() as stack:

        def start(**library: Any) -> httpx.Client:
            settings = load_settings(
                database_url=database_url,
                blob_url=f"file://{tmp_path}/blobs",
                log_format="text",
                auto_migrate=True,
                services=["library"],
                library=library,
            )
            url = stack.enter_context(serve_in_thread(create_app(settings)))
            return stack.enter_context(httpx.Client(base_url=url, timeout=30))

        yield start
