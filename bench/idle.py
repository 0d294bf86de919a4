"""Idle cost: the CPU an idle process burns, and how soon a job submitted to idle workers starts.

Fresh processes, left alone: `skyferry serve` on the embedded SQLite default, `skyferry serve`
on Postgres, and `skyferry serve --no-workers` with one `skyferry worker` on Postgres. After a
settling time each process's CPU (user + system of its process tree, psutil) is read over the
same window. The baseline, in the same run, is the same processes with
``SKYFERRY_QUEUE_IDLE_POLLING_SECONDS`` at the busy interval (50 ms): an idle worker polling as
often as a busy one, what every worker did before submits woke them.

Then the latency: demo jobs of one instant step, submitted one at a time with the workers idle
in between (longer than their busy grace), from the API to a worker process on Postgres, and
inside `serve` on SQLite. Submit -> start is the job's own record: dequeued at minus created at.

    .venv/bin/python bench/idle.py [--seconds 60] [--jobs 20]

Writes bench/results/idle.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import SKYFERRY, database, free_port, wait_http

RESULTS = Path(__file__).parent / "results" / "idle.json"
BUSY_POLLING = "0.05"
SETTLE_SECONDS = 15.0
GAP_SECONDS = 1.5  # between submits: longer than a worker's busy grace (1 s), so each finds it idle


class Process:
    """One `skyferry` process of a kind, started now, stopped by the ExitStack."""

    def __init__(self, kind: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.kind = kind
        with log.open("ab") as out:
            self.popen = psutil.Popen([SKYFERRY, *command], env=env, stdout=out, stderr=out)

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in [self.popen, *self.popen.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except psutil.TimeoutExpired:
            self.popen.kill()


def environment(url: str, workdir: Path, idle_polling: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    env.update(
        SKYFERRY_DATABASE_URL=url,
        SKYFERRY_BLOB_URL=f"file://{workdir}/blobs",
        SKYFERRY_AUTO_MIGRATE="true",
        SKYFERRY_LOG_LEVEL="WARNING",
        SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
        SKYFERRY_SERVICES="demo",
    )
    if idle_polling is not None:
        env["SKYFERRY_QUEUE_IDLE_POLLING_SECONDS"] = idle_polling
    return env


def start_fleet(
    stack: ExitStack, workdir: Path, idle_polling: str | None
) -> tuple[list[Process], dict[str, tuple[str, str]]]:
    """Every kind of process, each on its own database; returns them and each case's API and
    database."""
    started: list[Process] = []
    apis: dict[str, tuple[str, str]] = {}
    log = workdir / "processes.log"
    cases = [("sqlite", "serve (SQLite)", False), ("postgres", "serve (Postgres)", False)]
    cases.append(("postgres", "api + worker (Postgres)", True))
    for backend, case, split in cases:
        run_dir = workdir / case.split()[0] / backend / ("split" if split else "one")
        run_dir.mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(database(backend, run_dir))
        env = environment(url, run_dir, idle_polling)
        port = free_port()
        apis[case] = (f"http://127.0.0.1:{port}", url)
        if split:
            api = Process(
                "api (Postgres)", ["serve", "--no-workers", "--port", str(port)], env, log
            )
            wait_http(apis[case][0])  # the API applies the migrations before the worker starts
            worker = Process("worker (Postgres)", ["worker"], env, log)
            started += [api, worker]
        else:
            started.append(Process(case, ["serve", "--port", str(port)], env, log))
    for process in started:
        stack.callback(process.stop)
    for address, _ in apis.values():
        wait_http(address)
    return started, apis


def idle_cpu(processes: list[Process], seconds: float) -> dict[str, float]:
    """Percent of one core each process used over the same ``seconds``."""
    time.sleep(SETTLE_SECONDS)
    before = {p.kind: p.cpu_seconds() for p in processes}
    time.sleep(seconds)
    return {p.kind: round(100 * (p.cpu_seconds() - before[p.kind]) / seconds, 2) for p in processes}


def start_latency(api: str, url: str, jobs: int) -> dict[str, float]:
    """Submit -> start of jobs submitted one at a time to idle workers, in milliseconds: from
    just before the POST to the row the job's first (instant) step writes (``p50_ms``...);
    on Postgres also the job's own record, enqueued -> dequeued (``dequeue_p50_ms``...)."""
    latencies: list[float] = []
    dequeues: list[float] = []
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    steps = sa.table("skyferry_demo_steps", sa.column("job_id"), sa.column("finished_at"))
    with httpx.Client(base_url=api, timeout=30) as client:
        for _ in range(jobs):
            time.sleep(GAP_SECONDS)
            submitted = time.time()
            body = {"steps": 1, "seconds_per_step": 0}
            job_id = client.post("/jobs/demo", json=body).json()["id"]
            deadline = time.monotonic() + 30
            while (job := client.get(f"/jobs/{job_id}").json())["status"] != "succeeded":
                if job["status"] in ("failed", "cancelled") or time.monotonic() > deadline:
                    raise RuntimeError(f"job {job_id}: {job}")
                time.sleep(0.02)
            with engine.connect() as connection:
                started = connection.execute(
                    sa.select(steps.c.finished_at).where(steps.c.job_id == job_id)
                ).scalar_one()
            latencies.append((started - submitted) * 1000)
            if engine.dialect.name == "postgresql":  # SQLite's records keep whole seconds
                created = datetime.fromisoformat(job["created_at"])
                dequeued = datetime.fromisoformat(job["started_at"])
                dequeues.append((dequeued - created).total_seconds() * 1000)
    engine.dispose()
    result = percentiles(latencies, "")
    if dequeues:
        result |= percentiles(dequeues, "dequeue_")
    return result


def percentiles(values: list[float], prefix: str) -> dict[str, float]:
    values = sorted(values)
    return {
        f"{prefix}p50_ms": round(statistics.median(values), 1),
        f"{prefix}p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))], 1),
        f"{prefix}max_ms": round(values[-1], 1),
    }


def run(idle_polling: str | None, seconds: float, jobs: int, workdir: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        processes, apis = start_fleet(stack, workdir, idle_polling)
        cpu = idle_cpu(processes, seconds)
        latency = {case: start_latency(api, url, jobs) for case, (api, url) in apis.items()}
    result = {"idle_polling_seconds": idle_polling or "default", "cpu_percent": cpu}
    result["submit_to_start"] = latency
    print(json.dumps(result), flush=True)
    return result


def markdown(woken: dict[str, Any], polling: dict[str, Any]) -> str:
    lines = [
        "| process (idle) | CPU, % of a core | polling every 50 ms, % | polling / woken |",
        "|---|---|---|---|",
    ]
    for kind, percent in woken["cpu_percent"].items():
        base = polling["cpu_percent"][kind]
        ratio = f"{base / percent:.1f}x" if percent > 0 else "-"
        lines.append(f"| {kind} | {percent:.2f} | {base:.2f} | {ratio} |")
    lines += [
        "",
        "| idle submit -> start, ms | p50 | p99 | max | polling every 50 ms: p50 / p99 |",
        "|---|---|---|---|---|",
    ]
    for case, got in woken["submit_to_start"].items():
        base = polling["submit_to_start"][case]
        for prefix, what in (("", "POST -> first step"), ("dequeue_", "enqueued -> dequeued")):
            if f"{prefix}p50_ms" in got:
                lines.append(
                    f"| {case}, {what} | {got[prefix + 'p50_ms']} | {got[prefix + 'p99_ms']} "
                    f"| {got[prefix + 'max_ms']} "
                    f"| {base[prefix + 'p50_ms']} / {base[prefix + 'p99_ms']} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        woken = run(None, args.seconds, args.jobs, Path(tmp) / "woken")
        polling = run(BUSY_POLLING, args.seconds, args.jobs, Path(tmp) / "polling")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "seconds": args.seconds,
                "settle_seconds": SETTLE_SECONDS,
                "jobs": args.jobs,
                "woken": woken,
                "polling": polling,
            },
            indent=2,
        )
        + "\n"
    )
    print(markdown(woken, polling))


if __name__ == "__main__":
    main()
