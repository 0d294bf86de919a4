"""Fan-out memory at scale: one fan-out of 100,000 no-op items, checkpointed on a SQLite file.

Prints the run time, the growth of the process's RSS and tracemalloc's peak (a second run with
tracemalloc on: it slows Python down), and the time to load every checkpoint again on a resume.
The outcomes themselves are part of the figure: 100,000 of them take ~12 MB.

    .venv/bin/python bench/fanout_memory.py [--items 100000] [--concurrency 10]

Writes bench/results/fanout_memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from skyferry.jobs.fanout import run_fan_out
from skyferry.jobs.retry import Retry
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

RESULTS = Path(__file__).parent / "results" / "fanout_memory.json"


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6


async def noop(_: int) -> None:
    await asyncio.sleep(0)


def fan_out(engine: sa.Engine, job_id: str, items: int, concurrency: int) -> float:
    started = time.monotonic()
    asyncio.run(
        run_fan_out(
            engine,
            job_id,
            "bench",
            range(items),
            noop,
            concurrency=concurrency,
            rate_limit=None,
            retry=Retry(attempts=1),
            on_progress=None,
        )
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/bench.db")
        migrations.upgrade(engine, [])
        before = rss_mb()
        seconds = fan_out(engine, "plain", args.items, args.concurrency)
        rss_growth = rss_mb() - before
        resume = fan_out(engine, "plain", args.items, args.concurrency)
        tracemalloc.start()
        fan_out(engine, "traced", args.items, args.concurrency)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        engine.dispose()
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "items": args.items,
        "concurrency": args.concurrency,
        "run_seconds": round(seconds, 2),
        "rss_growth_mb": round(rss_growth, 1),
        "tracemalloc_peak_mb": round(peak, 1),
        "resume_seconds": round(resume, 2),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
