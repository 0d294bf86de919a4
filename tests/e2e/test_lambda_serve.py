"""`skyferry lambda serve`: curl the Lambda handler locally; every request arrives as the event
API Gateway (REST, HTTP API) or an ALB sends, stage included."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.servers import free_port


# one format end to end (each costs a process start); tests/unit/test_lambda_http.py checks
# the events every format makes
@pytest.mark.parametrize(("event_format", "stage"), [("rest", "dev")])
def test_requests_reach_the_handler_as_events(
    tmp_path: Path, event_format: str, stage: str | None
) -> None:
    port = free_port()
    env = skyferry_env(
        tmp_path,
        f"sqlite:///{tmp_path}/app.db",
        SKYFERRY_SERVICES="inventory",
        SKYFERRY_MAX_BODY_BYTES="65536",
    )
    args = ["lambda", "serve", "--event-format", event_format, "--port", str(port)]
    if stage:
        args += ["--stage", stage]
    server = start(args, env, tmp_path / "serve.log")
    prefix = f"/{stage}" if stage else ""
    base = f"http://127.0.0.1:{port}{prefix}"
    try:
        wait_http(base, server)
        with httpx.Client(base_url=base) as client:
            put = client.put("/files/notes.txt", content=b"tide pools\n")
            assert put.status_code == 201, put.text
            assert put.headers["location"] == f"{prefix}/file/download/notes.txt"
            got = client.get(put.headers["location"].removeprefix(prefix))
            assert got.content == b"tide pools\n"
            assert got.headers["x-request-id"]
            missing = client.get("/inventory/NOPE")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.json()["instance"] == f"{prefix}/inventory/NOPE"
            listed = client.get("/inventory", params={"name_prefix": "a b", "limit": "5"})
            assert listed.status_code == 200, listed.text
            # Lambda takes events up to 6 MB: a body over it is refused unread, and so is one
            # whose event (base64, as binary bodies travel) would be over it
            for size in (6 * 1024 * 1024 + 1, 5 * 1024 * 1024):
                refused = client.put("/files/big.bin", content=b"\0" * size)
                assert refused.status_code == 413, size
                assert refused.json() == {"message": "Request Too Large"}
            assert client.get("/file/download/big.bin").status_code == 404
            # the app leaves a limit at or above Lambda's to Lambda; a lower one still answers
            over = client.post("/jobs/demo", json={"steps": 1, "note": "x" * 70_000})
            assert over.status_code == 413, over.text
            assert over.headers["content-type"] == "application/problem+json"
            assert "larger than this endpoint accepts" in over.json()["detail"]
    finally:
        stop(server)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
