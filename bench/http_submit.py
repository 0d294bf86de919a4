"""HTTP submit benchmark: `POST /jobs/demo` through `skyferry serve --no-workers` against a bare
FastAPI route doing the same enqueue through DBOS's client, driven by wrk.

Both servers are one uvicorn process on the same fresh Postgres database, pinned to one core,
with wrk (a compiled load generator: Debian's `wrk` package, which `make bench` installs) on
the other core, 32 connections; they take turns, a round of each at a time. No worker runs, so
the queue only grows and the numbers are the submit path alone. A third case posts a JSON list
of 100 jobs per request to skyferry (one `submit_many` transaction each): its jobs/s.

    .venv/bin/python bench/http_submit.py [--rounds 5] [--seconds 10] [--quick]

Medians over the rounds; writes bench/results/http_submit.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import SKYFERRY, database, free_port, pin_to_core
from bench.jobs import environment

RESULTS = Path(__file__).parent / "results" / "http_submit.json"
CONNECTIONS = 32
BATCH = 100


# -- the baseline: a bare FastAPI route doing the same enqueue -----------------------------------


class Params(BaseModel):
    """The demo job's params, with its default bounds."""

    steps: int = Field(default=10, ge=0, le=10_000)
    seconds_per_step: float = Field(default=0.5, ge=0, le=5)
    parallel: int = Field(default=1, ge=1, le=1000)
    record_steps: bool = True


def bare_app(database_url: str) -> Any:
    """What a team would write by hand: validate the body, enqueue the workflow skyferry's
    demo kind is, answer 202 with the id. No idempotency, no job record, no error model."""
    import sqlalchemy as sa
    from dbos import DBOSClient
    from fastapi import FastAPI

    from skyferry import __version__

    clients: list[DBOSClient] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url.replace("postgresql://", "postgresql+psycopg://")
        engine = sa.create_engine(url, pool_size=5, max_overflow=0)
        clients.append(DBOSClient(system_database_engine=engine, application_name="skyferry"))
        yield
        clients[0].destroy()
        engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/jobs/demo", status_code=202)
    async def submit(params: Params) -> dict[str, str]:
        job_id = uuid.uuid4().hex
        await clients[0].enqueue_async(
            {
                "queue_name": "skyferry-jobs",
                "workflow_name": "skyferry:demo",
                "workflow_id": job_id,
                "workflow_timeout": 3600,
                "app_version": f"skyferry-{__version__}",
            },
            params.model_dump(mode="json"),
        )
        return {"id": job_id, "status": "queued"}

    return app


def run_bare(database_url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(database_url), host="127.0.0.1", port=port, log_level="warning")


# -- measuring -----------------------------------------------------------------------------------


@contextmanager
def server(kind: str, database_url: str, workdir: Path) -> Iterator[int]:
    port = free_port()
    if kind == "bare_fastapi":
        command = [sys.executable, __file__, "bare", database_url, str(port)]
    else:
        command = [SKYFERRY, "serve", "--no-workers", "--port", str(port)]
    env = environment(database_url, workdir)
    with (workdir / f"{kind}.log").open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    pin_to_core(process.pid, 0)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not start; see {workdir / kind}.log")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(port: int, body: str, seconds: float, workdir: Path) -> dict[str, float]:
    """One wrk run on core 1: requests/s and p99 in ms; any answer but 202 fails the run."""
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    cores = sorted(os.sched_getaffinity(0))
    command = [
        *["taskset", "-c", str(cores[1 % len(cores)]), "wrk", "-t1", f"-c{CONNECTIONS}"],
        *["--timeout", "10s"],
        *[f"-d{seconds:g}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}/jobs/demo"],
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    assert p99 is not None, output
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {"requests_per_second": rate, "latency_ms_p99": float(p99.group(1)) * scale}


def measure(rounds: int, seconds: float, workdir: Path) -> dict[str, Any]:
    one = json.dumps({"steps": 0})
    many = json.dumps([{"steps": 0}] * BATCH)
    runs: dict[str, list[dict[str, float]]] = {"skyferry": [], "bare_fastapi": [], "list": []}
    with database("postgres", workdir) as url:
        migrate(url, workdir)
        for _ in range(rounds):
            for kind in ("skyferry", "bare_fastapi"):
                with server(kind, url, workdir) as port:
                    wrk(port, one, 2, workdir)  # warm-up: pools, caches, prepared statements
                    runs[kind].append(wrk(port, one, seconds, workdir))
                    if kind == "skyferry":
                        runs["list"].append(wrk(port, many, seconds, workdir))
                print(json.dumps({kind: runs[kind][-1]}), flush=True)

    def median(kind: str) -> dict[str, float]:
        return {
            key: round(statistics.median(r[key] for r in runs[kind]), 1)
            for key in ("requests_per_second", "latency_ms_p99")
        }

    found: dict[str, Any] = {kind: median(kind) for kind in runs}
    found["list"]["jobs_per_second"] = round(found["list"]["requests_per_second"] * BATCH, 1)
    found["ratio_requests_per_second"] = round(
        found["skyferry"]["requests_per_second"] / found["bare_fastapi"]["requests_per_second"], 3
    )
    return found


def migrate(url: str, workdir: Path) -> None:
    """skyferry's and DBOS's tables, as `skyferry db upgrade` makes them for a deployment."""
    env = environment(url, workdir)
    subprocess.run([SKYFERRY, "db", "upgrade"], env=env, check=True, capture_output=True)


def table(found: dict[str, Any]) -> str:
    ours, bare, many = found["skyferry"], found["bare_fastapi"], found["list"]
    return "\n".join(
        [
            "| `POST /jobs/demo` | requests/s | p99 ms | jobs/s |",
            "|---|---|---|---|",
            f"| `skyferry serve --no-workers` | {ours['requests_per_second']} "
            f"| {ours['latency_ms_p99']} | {ours['requests_per_second']} |",
            f"| bare FastAPI + `DBOSClient.enqueue_async` | {bare['requests_per_second']} "
            f"| {bare['latency_ms_p99']} | {bare['requests_per_second']} |",
            f"| skyferry, a list of {BATCH} per request | {many['requests_per_second']} "
            f"| {many['latency_ms_p99']} | {many['jobs_per_second']} |",
            "",
            f"skyferry ÷ bare, requests/s: {found['ratio_requests_per_second']}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--quick", action="store_true", help="one round of 5 s per case")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    rounds, seconds = (1, 5.0) if args.quick else (args.rounds, args.seconds)
    with tempfile.TemporaryDirectory(prefix="skyferry-http-submit-") as tmp:
        found = measure(rounds, seconds, Path(tmp))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "rounds": rounds,
                "seconds": seconds,
                "connections": CONNECTIONS,
                **found,
            },
            indent=2,
        )
        + "\n"
    )
    print(table(found))


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        run_bare(sys.argv[2], int(sys.argv[3]))
    else:
        main()
