"""No answer names a directory of the server: problem details, job errors and /ready show a
file:// store's paths cut to their last part, while the log keeps them whole."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import tests.kinds
from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.platform import Platform
from tests.polling import poll
from tests.servers import serve_in_thread

SECRET_DIR = "srv-layout-7f3a"
"""A directory name that must never reach a client."""


@dataclass
class Served:
    client: httpx.Client
    app: FastAPI
    root: Path

    def put_blob(self, key: str, data: bytes) -> None:
        platform: Platform = self.app.state.skyferry
        asyncio.run(platform.blobs.put(key, data))

    def break_store(self) -> None:
        """Make the store's root a file: every operation on the store fails, naming paths."""
        shutil.rmtree(self.root)
        self.root.write_text("the store's root is now a file")

    def run_job(self, key: str) -> dict[str, object]:
        submission = asyncio.run(tests.kinds.read_blob.submit(tests.kinds.BlobParams(key=key)))
        return poll(self.client, submission.job.id)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / SECRET_DIR / "blobs"
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/db/skyferry.db",
        blob_url=f"file://{root}",
        log_format="text",
        auto_migrate=True,
        shutdown_grace_seconds=0,
        services=["inventory"],
    )
    app = create_app(settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Served(client, app, root)


def assert_no_path(text: str) -> None:
    assert SECRET_DIR not in text
    assert "/tmp" not in text


def test_a_job_failing_on_the_file_store_reports_it_without_the_path(served: Served) -> None:
    missing = served.run_job("nothing/here.bin")
    served.put_blob("plain", b"a file, not a folder")
    not_a_folder = served.run_job("plain/inner.bin")

    for job in (missing, not_a_folder):
        assert job["status"] == "failed"
        assert_no_path(json.dumps(job))
    assert missing["error"] == {
        "type": "BlobNotFoundError",
        "message": "blob key 'nothing/here.bin' in file://…/blobs: not found",
    }
    error = not_a_folder["error"]
    assert isinstance(error, dict)
    assert error["type"] == "StorageError"
    assert "Not a directory" in error["message"]


def test_problem_details_from_the_file_store_carry_no_path(served: Served) -> None:
    assert served.client.put("/files/plain", content=b"x").status_code == 201
    served.break_store()

    for answer in (
        served.client.get("/file/download/plain"),
        served.client.put("/files/new", content=b"y"),
        served.client.get("/files"),
    ):
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert "Not a directory" in answer.json()["detail"]
        assert_no_path(answer.text)


def test_ready_names_the_broken_file_store_without_its_path(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    served.break_store()

    ready = served.client.get("/ready")

    assert ready.status_code == 503
    assert ready.json()["checks"]["blobs"] == (
        "file://…/blobs: unreachable: …/blobs is not a writable directory"
    )
    assert_no_path(ready.text)
    assert str(served.root) in caplog.text, "the log keeps the whole path"
