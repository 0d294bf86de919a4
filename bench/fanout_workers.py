"""One fan-out spread over four worker processes on Postgres: efficiency against the ideal, and
a global rate limit held across the processes.

Run A: one job fans out 10,000 items of 100 ms simulated I/O at concurrency 500 over 4
workers (``ctx.fan_out(..., across_workers=True)``); ideal = items x seconds / concurrency.
The same job without ``across_workers`` (every item in the one worker that runs the job) is
measured in the same run, as the baseline.
Run B: a fan-out under a rate limit of R calls per second across the 4 workers; each item
records its start, and the most starts in any one-second window are compared with R.

    .venv/bin/python bench/fanout_workers.py [--quick]

Writes bench/results/fanout_workers.json. The app is tests/e2e/fanout_app.py (its job, its
item function), which the e2e test drives too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database, free_port, processes, wait_http
from tests.e2e.fanout_app import RUNS_TABLE

from skyferry.config import load_settings

ROOT = Path(__file__).resolve().parents[1]

RESULTS = Path(__file__).parent / "results" / "fanout_workers.json"
APP = "tests.e2e.fanout_app:app"
WORKERS = 4


def most_in_one_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    most, first = 0, 0
    for last, at in enumerate(starts):
        while at - starts[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def run_job(api: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Submit → succeeded, seconds as the client sees them, and the job's result."""
    with httpx.Client(base_url=api, timeout=30) as client:
        started = time.perf_counter()
        job_id = client.post("/spread", json=body).json()["id"]
        while True:
            job = client.get(f"/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        if job["status"] != "succeeded":
            raise RuntimeError(f"job {job_id} {job['status']}: {job.get('error')}")
        result: dict[str, Any] = client.get(f"/jobs/{job_id}/result").json()["result"]
    if result["succeeded"] != body["items"] or not result["in_order"]:
        raise RuntimeError(f"outcomes missing or out of order: {result}")
    return wall, result


def bench(quick: bool, workdir: Path) -> dict[str, Any]:
    items, seconds, concurrency = (2000, 0.1, 100) if quick else (10_000, 0.1, 500)
    rate, rate_items = (100, 300) if quick else (200, 2000)
    with database("postgres", workdir) as url:
        engine = sa.create_engine(load_settings(database_url=url).sqlalchemy_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
        env.update(
            PYTHONPATH=str(ROOT),
            SKYFERRY_DATABASE_URL=url,
            SKYFERRY_BLOB_URL=f"file://{workdir}/blobs",
            SKYFERRY_AUTO_MIGRATE="true",
            SKYFERRY_LOG_LEVEL="WARNING",
            SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
        )
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        commands = [["serve", "--no-workers", "--port", str(port), APP]]
        commands += [["worker", APP]] * WORKERS
        with processes(commands, env, workdir / "bench.log", stagger_seconds=0.3):
            wait_http(api)
            deadline = time.monotonic() + 60
            while True:
                with engine.connect() as connection:
                    live = connection.execute(sa.text("SELECT count(*) FROM skyferry_workers"))
                    if live.scalar_one() >= WORKERS:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError("the workers did not start")
                time.sleep(0.1)
            with engine.begin() as connection:
                connection.execute(sa.text(RUNS_TABLE))
            body = {
                "items": items,
                "seconds": seconds,
                "concurrency": concurrency,
                "chunk_size": 100,
                "record": False,
            }
            spread_wall, spread = run_job(api, body)
            one_wall, _ = run_job(api, {**body, "across_workers": False})
            rate_body = {
                "items": rate_items,
                "seconds": 0,
                "concurrency": 50,
                "chunk_size": 20,
                "calls_per_second": rate,
            }
            rate_wall, rated = run_job(api, rate_body)
            with engine.connect() as connection:
                starts = list(connection.execute(sa.text("SELECT started FROM fanout_runs")))
        engine.dispose()
    ideal = items * seconds / concurrency
    times = sorted(started for (started,) in starts)
    most = most_in_one_window(times, 1.0)
    steady = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "workers": WORKERS,
        "items": items,
        "item_seconds": seconds,
        "concurrency": concurrency,
        "ideal_seconds": round(ideal, 3),
        "spread_seconds": round(spread_wall, 3),
        "spread_efficiency": round(ideal / spread_wall, 3),
        "spread_fan_out_seconds": round(spread["seconds"], 3),  # inside the job
        "spread_items_per_process": sorted(spread["items_per_process"].values()),
        "one_worker_seconds": round(one_wall, 3),
        "one_worker_efficiency": round(ideal / one_wall, 3),
        "rate_limit_per_second": rate,
        "rate_items": rate_items,
        "rate_most_in_any_second": most,
        "rate_over_limit": round(most / rate - 1, 4),
        "rate_achieved_per_second": round(steady, 1),
        "rate_items_per_process": sorted(rated["items_per_process"].values()),
        "rate_seconds": round(rate_wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 items at concurrency 100")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = bench(args.quick, Path(workdir))
    print(json.dumps(result, indent=2))
    print(
        f"spread over {WORKERS} workers: {result['spread_efficiency']:.2f} of ideal "
        f"({result['spread_seconds']} s for {result['ideal_seconds']} s); one worker: "
        f"{result['one_worker_efficiency']:.2f}; rate: {result['rate_most_in_any_second']} in "
        f"the busiest second for a limit of {result['rate_limit_per_second']}"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "quick": args.quick,
                "result": result,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
