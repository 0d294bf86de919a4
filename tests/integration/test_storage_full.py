"""A full or read-only blob store: /ready says so, and an upload that meets a full disk is 507.

The disk is real: a 1 MiB tmpfs mounted for the test (as root, as CI runs; skipped where
mounting is not allowed). Before, an upload on a full disk answered 503 "Storage unavailable"
and /ready said the store was fine until its root could not be written at all.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tests.kinds
from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.storage.blobs import open_blob_store
from skyferry.storage.errors import StorageFullError
from tests.polling import poll
from tests.servers import serve_in_thread

DISK_BYTES = 1024 * 1024
PROBLEM = "application/problem+json"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system of its own, unmounted afterwards."""
    path = tmp_path / "disk"
    path.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(path))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, timeout=30)


@pytest.fixture
def api(disk: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    overrides: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/db/skyferry.db",  # not on the small disk
        "blob_url": f"file://{disk}/blobs",
        "blob_min_free_bytes": 256 * 1024,
        "log_format": "text",
        "log_level": "WARNING",
        "auto_migrate": True,
        "services": ["inventory"],
        "shutdown_grace_seconds": 0,
        "inventory": {"max_upload_bytes": 4 * DISK_BYTES},
    }
    with (
        serve_in_thread(create_app(load_settings(**overrides))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


@pytest.mark.anyio
async def test_a_put_that_fills_the_disk_is_a_storage_full_error(disk: Path) -> None:
    store = open_blob_store(f"file://{disk}/blobs")
    with pytest.raises(StorageFullError) as raised:
        await store.put("big.bin", b"x" * (2 * DISK_BYTES))
    assert raised.value.status == 507
    assert "No space left on device" in str(raised.value)
    assert [blob async for blob in store.list()] == []  # no partial file stays behind
    await store.put("small.bin", b"x" * 1000)  # the disk has room again


def test_an_upload_on_a_full_disk_is_507_and_ready_says_full(api: httpx.Client, disk: Path) -> None:
    assert api.get("/ready").status_code == 200
    assert api.put("/files/small.txt", content=b"kept").status_code == 201

    full = api.put("/files/big.bin", content=b"x" * (2 * DISK_BYTES))
    assert full.status_code == 507, full.text
    assert full.headers["content-type"] == PROBLEM
    problem = full.json()
    assert problem["title"] == "Insufficient Storage"
    assert "No space left on device" in problem["detail"]
    assert str(disk) not in full.text
    assert api.get("/file/download/big.bin").status_code == 404
    assert api.get("/file/download/small.txt").content == b"kept"

    # less free space than blob_min_free_bytes: not ready, and why
    (disk / "ballast").write_bytes(b"x" * (DISK_BYTES - 128 * 1024))
    ready = api.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["detail"] == "not ready: blobs full"
    assert "SKYFERRY_BLOB_MIN_FREE_BYTES" in ready.json()["checks"]["blobs"]
    assert str(disk) not in ready.text
    (disk / "ballast").unlink()
    assert api.get("/ready").status_code == 200


def test_ready_says_a_read_only_store_is_read_only(api: httpx.Client, disk: Path) -> None:
    _mount("-o", "remount,ro", str(disk))
    ready = api.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["detail"] == "not ready: blobs read-only"
    refused = api.put("/files/new.txt", content=b"x")
    assert refused.status_code == 503, refused.text
    assert refused.json()["title"] == "Storage read-only"


def test_a_job_that_failed_on_a_full_disk_retries_without_asking_its_provider_again(
    api: httpx.Client, disk: Path
) -> None:
    calls = tests.kinds.REPORT_CALLS
    calls.provider = 0
    (disk / "ballast").write_bytes(b"x" * (DISK_BYTES - 128 * 1024))
    params = tests.kinds.ArchiveParams(key="archive.bin", size=256 * 1024)
    job_id = asyncio.run(tests.kinds.archive.submit(params)).job.id
    failed = poll(api, job_id)
    assert failed["status"] == "failed", failed
    assert failed["error"]["type"] == "StorageFullError"
    assert calls.provider == 1

    (disk / "ballast").unlink()  # someone frees space
    retried = api.post(f"/jobs/{job_id}/retry")
    assert retried.status_code == 202, retried.text
    assert poll(api, job_id)["status"] == "succeeded"
    assert calls.provider == 1  # the provider's answer came from its checkpoint
    assert (disk / "blobs" / "archive.bin").stat().st_size == 256 * 1024
