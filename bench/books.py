"""Books benchmark: 20 books x 10 chapters submitted at once, against the ideal wall time.

The offline provider takes 200 ms per chapter and ``provider_concurrency`` is 20, so the ideal is
20 x 10 x 0.2 / 20 = 2 s of chapter writing. Real processes do the work: `skyferry serve
--no-workers` takes the 20 POSTs, one or two `skyferry worker` processes write the books, and
the wall time runs from the first POST to the moment the client sees the last book succeed.
The baseline, measured in the same run, is the same 200 provider calls under an in-process
semaphore with nothing durable: what the books would cost with no job engine at all. The
overlap of provider calls (from each chapter's recorded start and duration) shows whether the
shared limit held across workers. A second case sets the limit to 5, so calls queue for slots.
Where a book's time goes, from the chapters' records and the books' rows: from the first
POST to its first chapter, its ten chapters, and its assembly after the last. Last, the lease's
own cost, uncontended, in milliseconds: a slot taken from the database and given back, and one
kept by the process for its next holder.

    .venv/bin/python bench/books.py [--backends sqlite,postgres]

Writes bench/results/books.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database, processes

from skyferry.config import load_settings
from skyferry.jobs.limits import SharedLimit
from skyferry.services.books.models import BookRequest
from skyferry.services.books.providers.offline import OfflineProvider
from skyferry.services.books.settings import BooksSettings
from skyferry.services.books.tables import books as books_table
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

RESULTS = Path(__file__).parent / "results" / "books.json"

BOOKS = 20
CHAPTERS = 10
SECONDS_PER_CHAPTER = 0.2
WORDS = 300
POLL_SECONDS = 0.05


def wait_until_ready(url: str, workers: int, timeout: float = 90) -> None:
    """The API answers and every worker has heartbeated (its queue is being polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    time.sleep(2.0 + workers)  # worker start-up: DBOS launch and the first queue poll
    if time.monotonic() > deadline:
        raise TimeoutError(url)


async def submit_and_wait(url: str) -> tuple[float, float, list[str]]:
    """The wall time from the first POST to the last book seen succeeded, the clock time of
    that first POST, and the books' ids.

    The client watches the books as a dashboard would, one ``GET /books`` every
    ``POLL_SECONDS``: polling each of 20 books every 20 ms (1,000 requests a second) took a
    third of a core from the two the job engine and Postgres share, which measured the client
    more than the engine.
    """
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        body = {"topic": "urban beekeeping", "chapters": CHAPTERS, "words_per_chapter": WORDS}
        submitted_at = time.time()
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.post("/books", json={**body, "title": f"Book {n}"}) for n in range(BOOKS))
        )
        ids = [response.json()["id"] for response in responses]
        while True:
            page = (await client.get("/books", params={"limit": 200})).json()
            status = {book["id"]: book for book in page["items"]}
            for book_id in ids:
                if status[book_id]["status"] in ("failed", "cancelled"):
                    book = status[book_id]
                    raise RuntimeError(f"book {book_id} {book['status']}: {book['error']}")
            if all(status[book_id]["status"] == "succeeded" for book_id in ids):
                return time.perf_counter() - started, submitted_at, ids
            await asyncio.sleep(POLL_SECONDS)


def finish_times(database_url: str) -> dict[str, float]:
    """When each book's row was marked succeeded: its assembly's commit point, on the same
    clock as the chapters' records (the worker's)."""
    engine = create_engine(load_settings(database_url=database_url).sqlalchemy_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(books_table.c.id, books_table.c.finished_at))
            return {str(book_id): float(finished) for book_id, finished in rows}
    finally:
        engine.dispose()


def chapter_timings(
    blobs: Path, ids: list[str], submitted_at: float, finished: dict[str, float]
) -> dict[str, Any]:
    """From each chapter's recorded start and duration: the most provider calls in flight at
    once; the median gap between one chapter's end and the next one's start in a book (the
    engine's per-step overhead: checkpoint, progress, slot, blob writes); and where a book's
    time goes (medians): from the first POST to its first chapter (submit, dequeue, outline),
    its chapters, and from its last chapter's end to its row marked succeeded (the assembly)."""
    events: list[tuple[float, int]] = []
    gaps: list[float] = []
    to_first: list[float] = []
    spans: list[float] = []
    assembly: list[float] = []
    for book_id in ids:
        paths = (blobs / "books" / book_id / "chapters").glob("*.json")
        chapters = sorted(
            (json.loads(path.read_text()) for path in paths), key=lambda c: c["number"]
        )
        for chapter in chapters:
            # a chapter records its seconds to the millisecond: taken as up to 0.5 ms shorter,
            # a call is not counted in flight with the next holder of its slot, who starts
            # within microseconds of its end
            end = chapter["started_at"] + chapter["seconds"] - 0.0005
            events += [(chapter["started_at"], 1), (end, -1)]
        gaps += [
            later["started_at"] - (earlier["started_at"] + earlier["seconds"])
            for earlier, later in itertools.pairwise(chapters)
        ]
        first, last = chapters[0], chapters[-1]
        last_end = last["started_at"] + last["seconds"]
        to_first.append(first["started_at"] - submitted_at)
        spans.append(last_end - first["started_at"])
        assembly.append(finished[book_id] - last_end)
    most = current = 0
    for _, change in sorted(events):
        current += change
        most = max(most, current)
    return {
        "max_calls_in_flight": most,
        "chapter_gap_ms_p50": round(statistics.median(gaps) * 1000, 1),
        "to_first_chapter_s_p50": round(statistics.median(to_first), 3),
        "chapters_s_p50": round(statistics.median(spans), 3),
        "assembly_s_p50": round(statistics.median(assembly), 3),
    }


def books_run(backend: str, workers: int, concurrency: int, workdir: Path) -> dict[str, Any]:
    run_dir = workdir / uuid.uuid4().hex[:8]
    with database(backend, run_dir) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
        env.update(
            SKYFERRY_DATABASE_URL=url,
            SKYFERRY_BLOB_URL=f"file://{run_dir}/blobs",
            SKYFERRY_AUTO_MIGRATE="true",
            SKYFERRY_LOG_LEVEL="WARNING",
            SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
            SKYFERRY_SERVICES="books",
            SKYFERRY_BOOKS__OFFLINE_SECONDS_PER_CHAPTER=str(SECONDS_PER_CHAPTER),
            SKYFERRY_BOOKS__PROVIDER_CONCURRENCY=str(concurrency),
        )
        port = 18000 + os.getpid() % 1000
        commands = [["serve", "--no-workers", "--port", str(port)]] + [["worker"]] * workers
        with processes(commands, env, workdir / "bench.log", stagger_seconds=0.5):
            api = f"http://127.0.0.1:{port}"
            wait_until_ready(api, workers)
            wall, submitted_at, ids = asyncio.run(submit_and_wait(api))
        finished = finish_times(url)
        timings = chapter_timings(run_dir / "blobs", ids, submitted_at, finished)
    ideal = BOOKS * CHAPTERS * SECONDS_PER_CHAPTER / concurrency
    result = {
        "backend": backend,
        "workers": workers,
        "provider_concurrency": concurrency,
        "ideal_seconds": round(ideal, 3),
        "actual_seconds": round(wall, 3),
        "efficiency": round(ideal / wall, 3),
        **timings,
    }
    print(json.dumps(result), flush=True)
    return result


async def baseline(concurrency: int) -> float:
    """The same provider calls, in one process, under a plain semaphore: no durability at all."""
    provider = OfflineProvider(BooksSettings(offline_seconds_per_chapter=SECONDS_PER_CHAPTER))
    semaphore = asyncio.Semaphore(concurrency)
    request = BookRequest(topic="urban beekeeping", chapters=CHAPTERS, words_per_chapter=WORDS)

    async def book() -> None:
        async with semaphore:
            outline = await provider.outline(request)
        for number in range(1, CHAPTERS + 1):
            async with semaphore:
                await provider.chapter(request, outline, number)

    started = time.perf_counter()
    await asyncio.gather(*(book() for _ in range(BOOKS)))
    return time.perf_counter() - started


def lease_cost(backend: str, workdir: Path, rounds: int = 200) -> dict[str, Any]:
    """Milliseconds one uncontended provider call spends taking and returning its slot: from
    the database each time (``keep_seconds=0``), and kept by the process between calls."""
    with database(backend, workdir / uuid.uuid4().hex[:8]) as url:
        settings = load_settings(database_url=url)
        settings.ensure_local_dirs()
        engine = create_engine(settings.sqlalchemy_url)
        migrations.upgrade(engine, [])

        async def holds(limit: SharedLimit) -> float:
            async with limit.hold():
                pass  # the first hold creates the slot rows
            started = time.perf_counter()
            for _ in range(rounds):
                async with limit.hold():
                    pass
            seconds = time.perf_counter() - started
            await limit.close()
            return seconds

        from_database = asyncio.run(holds(SharedLimit(engine, "bench", 20, keep_seconds=0)))
        kept = asyncio.run(holds(SharedLimit(engine, "bench", 20)))
        engine.dispose()
    result = {
        "backend": backend,
        "lease_ms": round(from_database / rounds * 1000, 2),
        "kept_lease_ms": round(kept / rounds * 1000, 3),
    }
    print(json.dumps(result), flush=True)
    return result


def markdown(runs: list[dict[str, Any]], baselines: dict[int, float]) -> str:
    lines = [
        "| backend | workers | provider concurrency | ideal s | in-process baseline s "
        "| actual s | ideal / actual | baseline / actual | most calls in flight "
        "| gap between chapters, ms p50 | to first chapter s | chapters s | assembly s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        base = baselines[r["provider_concurrency"]]
        lines.append(
            f"| {r['backend']} | {r['workers']} | {r['provider_concurrency']} | "
            f"{r['ideal_seconds']} | {base:.3f} | {r['actual_seconds']} | {r['efficiency']} | "
            f"{base / r['actual_seconds']:.3f} | {r['max_calls_in_flight']} | "
            f"{r['chapter_gap_ms_p50']} | {r['to_first_chapter_s_p50']} | "
            f"{r['chapters_s_p50']} | {r['assembly_s_p50']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    cases = [(1, 20), (2, 20), (2, 5)]  # (workers, provider_concurrency)
    baselines = {c: asyncio.run(baseline(c)) for c in sorted({c for _, c in cases})}
    runs: list[dict[str, Any]] = []
    leases: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="skyferry-bench-") as tmp:
        for backend in args.backends.split(","):
            leases.append(lease_cost(backend, Path(tmp)))
            for workers, concurrency in cases:
                runs.append(books_run(backend, workers, concurrency, Path(tmp)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "books": BOOKS,
                "chapters": CHAPTERS,
                "seconds_per_chapter": SECONDS_PER_CHAPTER,
                "baseline_seconds": {str(c): round(s, 3) for c, s in baselines.items()},
                "runs": runs,
                "lease": leases,
            },
            indent=2,
        )
        + "\n"
    )
    print(markdown(runs, baselines))
    print()
    print("| backend | slot from the database and back, ms | slot kept by the process, ms |")
    print("|---|---|---|")
    for lease in leases:
        print(f"| {lease['backend']} | {lease['lease_ms']} | {lease['kept_lease_ms']} |")


if __name__ == "__main__":
    main()
