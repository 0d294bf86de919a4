"""Job engine benchmark: no-op throughput and latency, and fan-out efficiency.

Every number comes from real processes: `skyferry worker` subprocesses run the jobs, and jobs
are submitted either through Python (a JobEngine that runs no workers) or through HTTP
(`skyferry serve --no-workers`). Latency is submit→done as the client sees it, timed by a
poller that sweeps unfinished jobs every 10-30 ms (DBOS keeps SQLite timestamps in whole
seconds on Python 3.11, too coarse to use). Fan-out efficiency is
ideal / actual run time of one job fanning 1000 items of 100 ms out at concurrency 50.

    .venv/bin/python bench/jobs.py [--jobs 1000] [--backends sqlite,postgres] [--quick]

Writes bench/results/jobs.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database, processes, wait_http

from skyferry.app import Setup, load_setup, running
from skyferry.config import Settings, load_settings
from skyferry.jobs.engine import JobEngine
from skyferry.jobs.models import Job
from skyferry.services.demo.service import DemoParams, demo
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

RESULTS = Path(__file__).parent / "results" / "jobs.json"


def environment(database_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    env.update(
        SKYFERRY_DATABASE_URL=database_url,
        SKYFERRY_BLOB_URL=f"file://{workdir}/blobs",
        SKYFERRY_AUTO_MIGRATE="true",
        SKYFERRY_LOG_LEVEL="WARNING",
        SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
    )
    return env


def wait_for_workers(settings: Settings, count: int, timeout: float = 60) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(settings.sqlalchemy_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as connection:
                    seen = connection.execute(sa.text("SELECT COUNT(*) FROM skyferry_workers"))
                    if seen.scalar_one() >= count:
                        time.sleep(1.0)  # let each worker's queue thread make its first poll
                        return
            except sa.exc.OperationalError:
                pass  # tables not migrated yet
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise TimeoutError(f"{count} workers did not start")


def stats(submitted: dict[str, float], finished: dict[str, float], failed: int) -> dict[str, Any]:
    latencies = sorted((finished[job_id] - submitted[job_id]) * 1000 for job_id in submitted)
    span = max(finished.values()) - min(submitted.values())
    return {
        "jobs": len(submitted),
        "failed": failed,
        "jobs_per_second": round(len(submitted) / span, 1),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
    }


async def run_noop_jobs(
    engine: JobEngine, count: int, http_url: str | None, in_flight: int
) -> dict[str, Any]:
    """Submit ``count`` no-op jobs, ``in_flight`` at a time, noting when each one finishes.

    With many in flight the workers are saturated and latency is mostly time in the queue;
    one at a time measures the latency of an idle system.

    Times are taken here, not from the database: DBOS stores SQLite timestamps in whole seconds
    on Python 3.11. The poller sweeps every unfinished job about every 10-30 ms.
    """
    submitted: dict[str, float] = {}
    finished: dict[str, float] = {}
    done_events: dict[str, asyncio.Event] = {}
    failed = 0
    semaphore = asyncio.Semaphore(in_flight)
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=http_url or "", limits=limits, timeout=60) as client:

        async def submit_one() -> None:
            async with semaphore:
                started = time.perf_counter()
                if http_url:
                    response = await client.post("/jobs/demo", json={"steps": 0})
                    response.raise_for_status()
                    job_id = str(response.json()["id"])
                else:
                    job_id = (await demo.submit(DemoParams(steps=0))).job.id
                submitted[job_id] = started
                if in_flight == 1:  # wait for it, so the next starts on an idle system
                    await done_events.setdefault(job_id, asyncio.Event()).wait()

        async def poll() -> None:
            nonlocal failed
            while len(finished) < count:
                pending = [job_id for job_id in submitted if job_id not in finished]
                if pending:
                    for job in await engine.get_many(pending):
                        if job.status.is_final:
                            finished[job.id] = time.perf_counter()
                            done_events.setdefault(job.id, asyncio.Event()).set()
                            failed += job.status.value != "succeeded"
                await asyncio.sleep(0.01)

        poller = asyncio.create_task(poll())
        await asyncio.gather(*(submit_one() for _ in range(count)))
        await asyncio.wait_for(poller, timeout=600)
    return stats(submitted, finished, failed)


@contextmanager
def cluster(
    backend: str, workdir: Path, workers: int, api_port: int | None = None
) -> Iterator[Setup]:
    """A fresh, migrated database and ``workers`` worker processes (and an API process when
    ``api_port`` is given); yields the setup of an engine that submits and watches only."""
    with database(backend, workdir) as url:
        env = environment(url, workdir)
        settings = load_settings(database_url=url, blob_url=f"file://{workdir}/blobs")
        setup = load_setup(settings, default_services=["demo"], run_workers=False)
        engine = create_engine(settings.sqlalchemy_url)
        migrations.upgrade(engine, setup.services)
        engine.dispose()
        commands = [["worker"] for _ in range(workers)]
        if api_port is not None:
            commands.append(["serve", "--no-workers", "--port", str(api_port)])
        with processes(commands, env, workdir / "bench.log"):
            wait_for_workers(settings, workers)
            if api_port is not None:
                wait_http(f"http://127.0.0.1:{api_port}")
            yield setup


def noop_run(
    backend: str, worker_count: int, via: str, count: int, workdir: Path
) -> dict[str, Any]:
    port = 18000 + os.getpid() % 1000 if via == "http" else None
    http_url = f"http://127.0.0.1:{port}" if port else None

    async def measure(setup: Setup) -> tuple[dict[str, Any], dict[str, Any]]:
        async with running(setup) as (_, engine):
            assert isinstance(engine, JobEngine)  # get_many: the real engine's
            loaded = await run_noop_jobs(engine, count, http_url, in_flight=32)
            idle = await run_noop_jobs(engine, 50, http_url, in_flight=1)
        return loaded, idle

    with cluster(backend, workdir, worker_count, api_port=port) as setup:
        loaded, idle = asyncio.run(measure(setup))
    result = {
        "backend": backend,
        "workers": worker_count,
        "via": via,
        **loaded,
        "idle_latency_ms_p50": idle["latency_ms_p50"],
        "idle_latency_ms_p99": idle["latency_ms_p99"],
    }
    print(json.dumps(result), flush=True)
    return result


def fanout_run(
    backend: str, workdir: Path, items: int, concurrency: int, seconds: float
) -> dict[str, Any]:
    params = DemoParams(
        steps=items, seconds_per_step=seconds, parallel=concurrency, record_steps=False
    )

    async def measure(setup: Setup) -> tuple[Job, float]:
        async with running(setup):
            return await timed_job(params)

    with cluster(backend, workdir, 1) as setup:
        job, actual = asyncio.run(measure(setup))
    assert job.status.value == "succeeded", job
    ideal = items * seconds / concurrency
    result = {
        "backend": backend,
        "items": items,
        "concurrency": concurrency,
        "item_seconds": seconds,
        "ideal_seconds": round(ideal, 3),
        "actual_seconds": round(actual, 3),
        "efficiency": round(ideal / actual, 3),
    }
    print(json.dumps(result), flush=True)
    return result


async def timed_job(params: DemoParams) -> tuple[Job, float]:
    """Submit→done as the client sees it: queue pick-up and result polling included."""
    started = time.perf_counter()
    job = (await demo.submit(params)).job
    while not job.status.is_final:
        await asyncio.sleep(0.01)
        job = await demo.get(job.id)
    return job, time.perf_counter() - started


def markdown(noop: list[dict[str, Any]], fanout: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | workers | submitted via | jobs | jobs/s | loaded p50 / p99 ms "
        "| idle p50 / p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in noop:
        lines.append(
            f"| {r['backend']} | {r['workers']} | {r['via']} | {r['jobs']} | "
            f"{r['jobs_per_second']} | {r['latency_ms_p50']} / {r['latency_ms_p99']} | "
            f"{r['idle_latency_ms_p50']} / {r['idle_latency_ms_p99']} |"
        )
    lines += [
        "",
        "| backend | items | concurrency | ideal s | actual s | efficiency |",
        "|---|---|---|---|---|---|",
    ]
    for r in fanout:
        lines.append(
            f"| {r['backend']} | {r['items']} | {r['concurrency']} | {r['ideal_seconds']} | "
            f"{r['actual_seconds']} | {r['efficiency']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="200 jobs, one round per case")
    args = parser.parse_args()
    count = 200 if args.quick else args.jobs
    backends = args.backends.split(",")
    noop: list[dict[str, Any]] = []
    fanout: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="skyferry-bench-") as tmp:
        workdir = Path(tmp)
        for backend in backends:
            fanout.append(fanout_run(backend, workdir, 1000, 50, 0.1))
            for workers in (1, 2):
                for via in ("python", "http"):
                    noop.append(noop_run(backend, workers, via, count, workdir))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "noop": noop,
                "fanout": fanout,
            },
            indent=2,
        )
        + "\n"
    )
    print(markdown(noop, fanout))


if __name__ == "__main__":
    main()
