"""Downloads under load: a crowd of filtered CSV downloads, and clients that never read.

In one run, on the demo dataset (1M rows, made by `skyferry datasets demo`) served by a
`skyferry serve` subprocess from a local file store, pinned to one core (the clients to the
other), each scenario against two servers:

- ``fixed-8`` is the baseline: what admission was before, 8 downloads at a time and a 503 for
  the ninth (a memory budget of 8 downloads' worth with no wait), and no send timeout;
- ``budget`` is the default: a 256 MiB memory budget, a 60 s wait for room, a 30 s send
  timeout;
- ``budget-20s`` is the same with a 20 s wait, as one would set it behind Heroku's router.

Scenarios:

  (a) crowd: 200 clients at once, client i downloading organisation 600000+i as CSV (from
      49,657 rows down to a few hundred; 707,333 rows, ~130 MB, in all). Target: no 503, and the
      server's resident memory (VmRSS, sampled every 20 ms) bounded by the budget, not the crowd.
  (b) stalled: 8 connections ask for the whole dataset as CSV and never read; then 20 clients
      download an organisation each. Target: none of the 20 refused; the stalled connections
      cut off after the send timeout.

    .venv/bin/python bench/downloads.py [--rows 1000000] [--clients 200]

Writes bench/results/downloads.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import environment, rss_bytes, server
from bench.harness import SKYFERRY, pin_to_core

RESULTS = Path(__file__).parent / "results" / "downloads.json"
FIRST_ORGANISATION = 600000
STALLED = 8
AFTER_STALL = 20
STALLED_CONFIGS = ("fixed-8", "budget")
"""(b) does not depend on the wait; it runs on these two."""
TARGETS = {"refused": 0, "rss_growth_mb": 256 + 100}
"""The budget, plus DuckDB's own working set and the allocator's slack."""

CONFIGS: dict[str, dict[str, str]] = {
    # 8 downloads of the demo's 12 columns as CSV take 8 x 16.5 MiB by the service's estimate
    "fixed-8": {
        "SKYFERRY_DATASETS__DOWNLOAD_MEMORY_BUDGET": str(132 * 1024 * 1024),
        "SKYFERRY_DATASETS__DOWNLOAD_QUEUE_SECONDS": "0",
        "SKYFERRY_SEND_TIMEOUT_SECONDS": "3600",
    },
    "budget": {},
    "budget-20s": {"SKYFERRY_DATASETS__DOWNLOAD_QUEUE_SECONDS": "20"},
}


@contextmanager
def rss_sampler(pid: int) -> Iterator[dict[str, int]]:
    """The server's VmRSS before and at its peak while the block runs."""
    seen = {"baseline": rss_bytes(pid), "peak": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen["peak"] = max(seen["peak"], rss_bytes(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join()


async def downloads(url: str, organisations: list[int]) -> list[dict[str, Any]]:
    """One CSV download per organisation, all at once; status, bytes, first byte and total."""
    limits = httpx.Limits(max_connections=len(organisations), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def one(organisation: int) -> dict[str, Any]:
            started = time.perf_counter()
            first = None
            size = 0
            try:
                params = {"organisation-entity": organisation}
                async with client.stream("GET", "/entity.csv", params=params) as response:
                    async for chunk in response.aiter_raw():
                        if first is None:
                            first = time.perf_counter() - started
                        size += len(chunk)
                    status: int | str = response.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            return {
                "status": status,
                "bytes": size,
                "ttfb": first or 0.0,
                "seconds": time.perf_counter() - started,
            }

        return await asyncio.gather(*(one(org) for org in organisations))


def summary(results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    statuses = Counter(str(result["status"]) for result in results)
    served = [result for result in results if result["status"] == 200]
    latencies = sorted(result["seconds"] for result in served) or [0.0]
    ttfbs = sorted(result["ttfb"] for result in served) or [0.0]
    return {
        "clients": len(results),
        "statuses": dict(sorted(statuses.items())),
        "refused": len(results) - len(served),
        "refused_percent": round(100 * (len(results) - len(served)) / len(results), 1),
        "wall_seconds": round(seconds, 2),
        "mb_sent": round(sum(result["bytes"] for result in served) / 1e6, 1),
        "latency_p50_s": round(statistics.median(latencies), 2),
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "latency_max_s": round(latencies[-1], 2),
        "ttfb_p50_s": round(statistics.median(ttfbs), 2),
        "ttfb_max_s": round(ttfbs[-1], 2),
    }


def crowd(url: str, pid: int, clients: int) -> dict[str, Any]:
    organisations = [FIRST_ORGANISATION + n for n in range(clients)]
    asyncio.run(downloads(url, organisations[:2]))  # warm: code paths and caches loaded
    with rss_sampler(pid) as rss:
        started = time.perf_counter()
        results = asyncio.run(downloads(url, organisations))
        seconds = time.perf_counter() - started
    return {
        **summary(results, seconds),
        "rss_baseline_mb": round(rss["baseline"] / 1e6, 1),
        "rss_peak_mb": round(rss["peak"] / 1e6, 1),
        "rss_growth_mb": round((rss["peak"] - rss["baseline"]) / 1e6, 1),
    }


def _tcp_state(sock: socket.socket) -> int:
    """Linux's tcpi_state: 1 while established, 7 once the peer reset the connection."""
    return int(struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0])


def stalled(url: str, port: int) -> dict[str, Any]:
    sockets = []
    for _ in range(STALLED):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /entity.csv HTTP/1.1\r\nHost: bench\r\n\r\n")
        sockets.append(sock)
    stalled_at = time.monotonic()
    time.sleep(1.0)  # they hold their downloads now
    started = time.perf_counter()
    results = asyncio.run(
        downloads(url, [FIRST_ORGANISATION + 100 + n for n in range(AFTER_STALL)])
    )
    result = summary(results, time.perf_counter() - started)
    # when did the server cut the stalled ones off (if it did within 45 s)?
    deadline = stalled_at + 45
    while time.monotonic() < deadline and any(_tcp_state(s) == 1 for s in sockets):
        time.sleep(0.1)
    open_left = sum(_tcp_state(s) == 1 for s in sockets)
    result["stalled"] = STALLED
    result["stalled_still_open_after_45_s"] = open_left
    result["stalled_cut_off_after_s"] = (
        None if open_left else round(time.monotonic() - stalled_at, 1)
    )
    for sock in sockets:
        sock.close()
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Demo dataset: {result['rows']:,} rows; server: `skyferry serve` pinned to one core, "
        f"the clients to the other ({result['machine']['cpus']} CPUs, load average "
        f"{result['machine']['load_average']} at the start: the machine is shared).",
        "",
        f"| (a) {result['crowd']['budget']['clients']} filtered CSV downloads at once | "
        "refused (target 0) | wall s | p50 s | p95 s | MB sent | RSS peak MB | "
        f"RSS growth MB (target ≤ {TARGETS['rss_growth_mb']}) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["crowd"].items():
        lines.append(
            f"| {name} | **{r['refused']}** ({r['refused_percent']} %) | {r['wall_seconds']} | "
            f"{r['latency_p50_s']} | {r['latency_p95_s']} | {r['mb_sent']} | "
            f"{r['rss_peak_mb']} | **{r['rss_growth_mb']}** |"
        )
    lines += [
        "",
        f"| (b) {STALLED} clients that never read, then {AFTER_STALL} downloads | "
        "refused (target 0) | p50 s | max s | stalled cut off after s |",
        "|---|---|---|---|---|",
    ]
    for name, r in result["stalled"].items():
        cut = r["stalled_cut_off_after_s"]
        lines.append(
            f"| {name} | **{r['refused']}** of {r['clients']} | {r['latency_p50_s']} | "
            f"{r['latency_max_s']} | {cut if cut is not None else 'never (45 s watched)'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()
    load_average = round(os.getloadavg()[0], 1)
    with tempfile.TemporaryDirectory(prefix="skyferry-bench-downloads-") as tmp:
        workdir = Path(tmp)
        env = environment(workdir)
        subprocess.run(
            [SKYFERRY, "datasets", "demo", "--rows", str(args.rows)],
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        result: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average": load_average,
            },
            "rows": args.rows,
            "targets": TARGETS,
            "configs": CONFIGS,
            "crowd": {},
            "stalled": {},
        }
        for name, extra in CONFIGS.items():
            with server({**env, **extra}, workdir / f"serve-{name}.log") as (url, pid):
                pin_to_core(pid, 0)
                pin_to_core(os.getpid(), 1)
                result["crowd"][name] = crowd(url, pid, args.clients)
                if name in STALLED_CONFIGS:
                    result["stalled"][name] = stalled(url, int(url.rsplit(":", 1)[1]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
