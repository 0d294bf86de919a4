"""What every benchmark needs: fresh databases, skyferry's own processes, free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

SKYFERRY = str(Path(sys.executable).parent / "skyferry")
POSTGRES_ADMIN = os.environ.get(
    "SKYFERRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """A new SQLite file, or a new Postgres database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/{uuid.uuid4().hex[:8]}/bench.db"
        return
    name = f"skyferry_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def processes(
    commands: list[list[str]], env: dict[str, str], log: Path, stagger_seconds: float = 0.0
) -> Iterator[None]:
    """Run ``skyferry <command>`` for each command; SIGTERM them all on the way out."""
    started = []
    with log.open("ab") as out:
        for command in commands:
            started.append(subprocess.Popen([SKYFERRY, *command], env=env, stdout=out, stderr=out))
            time.sleep(stagger_seconds)
    try:
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def pin_to_core(pid: int, core: int) -> None:
    """Keep a process (and the threads it starts later) on one core, where the machine has it.

    A server and the load generator pinned to cores of their own stop trading places on
    the same core, which otherwise moves a two-core machine's results by a fifth between runs.
    """
    available = sorted(os.sched_getaffinity(0))
    if len(available) > 1:
        os.sched_setaffinity(pid, {available[core % len(available)]})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(url)
