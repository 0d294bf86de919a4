"""A client that asks for a download and stops reading gets cut off after the send timeout,
and the memory its download held goes to the others: `skyferry serve` in a subprocess."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.servers import free_port

SEND_TIMEOUT = 1.0


def test_a_client_that_stops_reading_gives_its_download_memory_back(tmp_path: Path) -> None:
    env = skyferry_env(
        tmp_path,
        f"sqlite:///{tmp_path}/db/skyferry.db",
        HOME=str(tmp_path),
        SKYFERRY_SERVICES="datasets",
        SKYFERRY_SEND_TIMEOUT_SECONDS=str(SEND_TIMEOUT),
        # less than any download needs, so one download holds it all; no waiting, so a
        # download that cannot start says so at once
        SKYFERRY_DATASETS__DOWNLOAD_MEMORY_BUDGET="1MiB",
        SKYFERRY_DATASETS__DOWNLOAD_QUEUE_SECONDS="0",
    )
    subprocess.run(
        [SKYFERRY, "datasets", "demo", "--rows", "100000"], env=env, check=True, timeout=300
    )
    port = free_port()
    process = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, process)
        # ~33 MB of JSON, far more than the sockets buffer with a receive buffer of 64 KiB
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(b"GET /entity.json HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)

        busy = httpx.get(f"{url}/entity.csv", params={"limit": "1"}, timeout=10)
        assert busy.status_code == 503, "the stalled download should hold the memory"
        assert busy.json()["title"] == "Too many downloads"

        started = time.monotonic()
        while (answer := httpx.get(f"{url}/entity.csv", params={"limit": "1"})).status_code == 503:
            assert time.monotonic() - started < 20, "the stalled client kept the memory"
            time.sleep(0.1)
        assert answer.status_code == 200
        assert time.monotonic() - started < SEND_TIMEOUT + 10

        # the server aborted the stalled connection: what is left to read ends short
        stalled.settimeout(10)
        received = b""
        try:
            while chunk := stalled.recv(1 << 20):
                received += chunk
        except ConnectionResetError:
            pass
        stalled.close()
        assert not received.rstrip().endswith(b"0\r\n\r\n"), "the whole download was sent"
    finally:
        assert stop(process) in (0, -signal.SIGTERM)
