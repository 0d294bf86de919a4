"""Start skyferry's own commands as subprocesses, the way a deployment runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

SKYFERRY = str(Path(sys.executable).parent / "skyferry")


def skyferry_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    env.update(
        SKYFERRY_DATABASE_URL=database_url,
        SKYFERRY_BLOB_URL=f"file://{tmp_path}/blobs",
        SKYFERRY_AUTO_MIGRATE="true",
        SKYFERRY_LOG_FORMAT="text",
        SKYFERRY_LOG_LEVEL="WARNING",
        SKYFERRY_HEARTBEAT_SECONDS="0.5",
        SKYFERRY_EXECUTOR_TIMEOUT_SECONDS="2",
        SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
    )
    env.update(extra)
    return env


def start(
    args: list[str], env: dict[str, str], log: Path, *, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [SKYFERRY, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before answering")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
