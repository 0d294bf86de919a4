"""Datasets benchmark: streamed downloads against DuckDB writing the same query to a file.

In one run, on the demo dataset (1M rows, made by `skyferry datasets demo`) served by a
`skyferry serve` subprocess from a local file store:

  (a) throughput: a filtered CSV download over HTTP, against DuckDB's own
      ``COPY (query) TO 'file.csv'`` of the same query on the same Parquet file, in this process;
      ratio = COPY seconds / HTTP seconds (target >= 0.7). The unfiltered download too.
  (b) time to first byte of a filtered CSV download (target <= 100 ms).
  (c) growth of the server's resident memory (/proc/PID/status VmRSS, sampled every 10 ms)
      while it streams the whole dataset, per format (target <= 100 MB).

    .venv/bin/python bench/datasets.py [--rows 1000000] [--rounds 3]

Writes bench/results/datasets.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import free_port

SKYFERRY = str(Path(sys.executable).parent / "skyferry")
RESULTS = Path(__file__).parent / "results" / "datasets.json"
FILTER_ORGANISATIONS = [600000, 600001, 600002, 600003, 600004, 600005, 600006, 600007]
TARGETS = {"throughput_ratio": 0.7, "ttfb_ms": 100, "rss_growth_mb": 100}


def environment(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    env.update(
        SKYFERRY_DATABASE_URL=f"sqlite:///{workdir}/db/skyferry.db",
        SKYFERRY_BLOB_URL=f"file://{workdir}/blobs",
        SKYFERRY_AUTO_MIGRATE="true",
        SKYFERRY_LOG_LEVEL="WARNING",
        SKYFERRY_LOG_FORMAT="text",
        SKYFERRY_SERVICES="datasets",
        SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
        HOME=str(workdir),  # DuckDB would put downloaded extensions here: there must be none
    )
    return env


@contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [SKYFERRY, "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"skyferry serve did not start; see {log}")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def download(client: httpx.Client, path: str, params: dict[str, Any]) -> tuple[int, float, float]:
    """Bytes, seconds to the first body byte, seconds in all; the body is counted, not kept."""
    size = 0
    started = time.perf_counter()
    first = 0.0
    with client.stream("GET", path, params=params) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1024 * 1024):
            if not size:
                first = time.perf_counter() - started
            size += len(chunk)
    return size, first, time.perf_counter() - started


def duckdb_copy(parquet: Path, where: str, target: Path) -> float:
    """DuckDB alone: the same query written straight to a CSV file."""
    connection = duckdb.connect(config={"threads": 2})
    try:
        started = time.perf_counter()
        # ``where`` and ``target`` are this script's own constants and temporary path
        sql = f"COPY (SELECT * FROM read_parquet(?) {where}) TO '{target}' (HEADER)"  # noqa: S608
        connection.execute(sql, [str(parquet)])
        return time.perf_counter() - started
    finally:
        connection.close()


def throughput(
    client: httpx.Client, parquet: Path, workdir: Path, rounds: int, filtered: bool
) -> dict[str, Any]:
    orgs = ", ".join(str(org) for org in FILTER_ORGANISATIONS)
    where = f'WHERE "organisation-entity" IN ({orgs})' if filtered else ""
    params = {"organisation-entity": FILTER_ORGANISATIONS} if filtered else {}
    connection = duckdb.connect()
    count = f"SELECT count(*) FROM read_parquet(?) {where}"  # noqa: S608 - constants
    (rows,) = connection.sql(count, params=[str(parquet)]).fetchall()[0]
    connection.close()
    copy_seconds = min(duckdb_copy(parquet, where, workdir / "copy.csv") for _ in range(rounds))
    copy_bytes = (workdir / "copy.csv").stat().st_size
    runs = [download(client, "/entity.csv", params) for _ in range(rounds)]
    http_bytes, _, http_seconds = min(runs, key=lambda run: run[2])
    return {
        "query": "organisation-entity IN 8 organisations" if filtered else "all rows",
        "rows": rows,
        "duckdb_copy_seconds": round(copy_seconds, 3),
        "duckdb_copy_mb": round(copy_bytes / 1e6, 1),
        "http_seconds": round(http_seconds, 3),
        "http_mb": round(http_bytes / 1e6, 1),
        "http_rows_per_second": round(rows / http_seconds),
        "http_mb_per_second": round(http_bytes / 1e6 / http_seconds, 1),
        "throughput_ratio": round(copy_seconds / http_seconds, 2),
    }


def time_to_first_byte(client: httpx.Client, rounds: int) -> dict[str, Any]:
    params = {"organisation-entity": FILTER_ORGANISATIONS[-1]}
    samples = [download(client, "/entity.csv", params)[1] * 1000 for _ in range(rounds)]
    return {
        "query": f"organisation-entity={FILTER_ORGANISATIONS[-1]}",
        "rounds": rounds,
        "ttfb_ms_p50": round(statistics.median(samples), 1),
        "ttfb_ms_max": round(max(samples), 1),
    }


def memory_growth(client: httpx.Client, pid: int, fmt: str) -> dict[str, Any]:
    download(client, f"/entity.{fmt}", {"limit": 10})  # warm: code paths and caches loaded
    baseline = rss_bytes(pid)
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        size, _, seconds = download(client, f"/entity.{fmt}", {})
    finally:
        done.set()
        sampler.join()
    return {
        "format": fmt,
        "download_mb": round(size / 1e6, 1),
        "seconds": round(seconds, 2),
        "rss_baseline_mb": round(baseline / 1e6, 1),
        "rss_peak_mb": round(peak / 1e6, 1),
        "rss_growth_mb": round((peak - baseline) / 1e6, 1),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Demo dataset: {result['rows']:,} rows; server: `skyferry serve`, local file store, "
        f"{result['machine']['cpus']} CPUs shared with the client and DuckDB's COPY.",
        "",
        "| (a) CSV download | rows | DuckDB COPY s | HTTP s | HTTP MB/s | ratio (target ≥ 0.7) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["throughput"]:
        lines.append(
            f"| {r['query']} | {r['rows']:,} | {r['duckdb_copy_seconds']} | "
            f"{r['http_seconds']} | {r['http_mb_per_second']} | **{r['throughput_ratio']}** |"
        )
    t = result["ttfb"]
    lines += [
        "",
        "| (b) time to first byte | rounds | p50 ms | max ms (target ≤ 100) |",
        "|---|---|---|---|",
        f"| CSV, {t['query']} | {t['rounds']} | {t['ttfb_ms_p50']} | **{t['ttfb_ms_max']}** |",
        "",
        "| (c) whole dataset | MB sent | s | RSS before MB | RSS growth MB (target ≤ 100) |",
        "|---|---|---|---|---|",
    ]
    for m in result["memory"]:
        lines.append(
            f"| {m['format']} | {m['download_mb']} | {m['seconds']} | {m['rss_baseline_mb']} | "
            f"**{m['rss_growth_mb']}** |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="skyferry-bench-datasets-") as tmp:
        workdir = Path(tmp)
        env = environment(workdir)
        started = time.perf_counter()
        subprocess.run(
            [SKYFERRY, "datasets", "demo", "--rows", str(args.rows)],
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        demo_seconds = time.perf_counter() - started
        (parquet,) = (workdir / "blobs").rglob("*.parquet")
        with (
            server(env, workdir / "serve.log") as (url, pid),
            httpx.Client(base_url=url, timeout=300) as client,
        ):
            result: dict[str, Any] = {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "rows": args.rows,
                "demo_seconds": round(demo_seconds, 1),
                "parquet_mb": round(parquet.stat().st_size / 1e6, 1),
                "targets": TARGETS,
                "throughput": [
                    throughput(client, parquet, workdir, args.rounds, filtered=True),
                    throughput(client, parquet, workdir, args.rounds, filtered=False),
                ],
                "ttfb": time_to_first_byte(client, max(10, args.rounds * 5)),
                "memory": [
                    memory_growth(client, pid, fmt) for fmt in ("csv", "json", "ndjson", "parquet")
                ],
            }
        result["extensions_downloaded"] = (workdir / ".duckdb").exists()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
