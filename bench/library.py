"""Library benchmark: a 1,000-book export enriched within the book APIs' real limits.

Real processes do the work: ``skyferry serve --no-workers`` takes the upload and two
``skyferry worker`` processes share the import's enrichment, on Postgres. The book APIs are the
fake servers of the tests, each answering after 100 ms and enforcing the published limits: Open
Library 3 requests/s for a client with an identifying User-Agent, Google Books 100 requests per
100 s and 1,000 a day. One in ten books has no ISBN, as in real exports.

The lower bound is what those limits alone impose on the calls the import made: under a
sliding window of N calls per W seconds, call k cannot go out before ``floor(k / N) * W``, so C
calls take at least ``floor((C - 1) / N) * W`` plus one answer's latency; the providers run side
by side, so the bound is the larger of the two. The efficiency is that bound over the wall time
(1.0 is as fast as the limits allow). The seed's promise was 1,000 books in about 60 s.

Also measured: the same library uploaded again (the lookup cache: no call at all), and the
``offline`` source end to end for 1,000 books on SQLite (target 10 s).

    .venv/bin/python bench/library.py

Writes bench/results/library.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import database, free_port, processes, wait_http
from tests.fakes.google_books_server import FakeGoogleBooks
from tests.fakes.open_library_server import FakeOpenLibrary
from tests.library_exports import goodreads_export

RESULTS = Path(__file__).parent / "results" / "library.json"
BOOKS = 1000
LATENCY = 0.1
OPEN_LIBRARY = (3, 1.0)  # calls per window (s), with an identifying User-Agent
GOOGLE = (100, 100.0)
SEED_TARGET_SECONDS = 60.0
OFFLINE_TARGET_SECONDS = 10.0


def env_for(tmp: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    env.update(
        SKYFERRY_DATABASE_URL=database_url,
        SKYFERRY_BLOB_URL=f"file://{tmp}/blobs",
        SKYFERRY_AUTO_MIGRATE="true",
        SKYFERRY_LOG_LEVEL="WARNING",
        SKYFERRY_SERVICES="library",
        **extra,
    )
    return env


def imported(url: str, export: bytes, name: str) -> tuple[float, dict[str, Any]]:
    """Upload, poll to the end: (seconds from the POST to "complete", the dashboard)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        response = client.post("/upload", files={"csv": (name, export, "text/csv")})
        response.raise_for_status()
        upload_id = response.json()["uuid"]
        while True:
            status = client.get(f"/status/{upload_id}").json()
            if status["status"] != "processing":
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if status["status"] != "complete":
            raise RuntimeError(f"import failed: {status}")
        return elapsed, client.get(f"/data/{upload_id}").json()


def lower_bound(calls: int, per_window: int, window: float) -> float:
    if calls == 0:
        return 0.0
    return ((calls - 1) // per_window) * window + LATENCY


def provider_run(tmp: Path) -> dict[str, Any]:
    export = goodreads_export(BOOKS, without_isbn_every=10)
    open_library = FakeOpenLibrary(
        identified_rate_per_second=OPEN_LIBRARY[0], latency=LATENCY, retry_after=True
    )
    google = FakeGoogleBooks(
        requests_per_window=GOOGLE[0], window_seconds=GOOGLE[1], latency=LATENCY
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open_library.serve(), google.serve(), database("postgres", tmp) as database_url:
        env = env_for(
            tmp,
            database_url,
            SKYFERRY_LIBRARY__PROVIDERS='["open_library","google_books"]',
            SKYFERRY_LIBRARY__OPEN_LIBRARY_BASE_URL=open_library.url,
            SKYFERRY_LIBRARY__OPEN_LIBRARY_USER_AGENT="skyferry-bench/1.0 (bench@example.com)",
            SKYFERRY_LIBRARY__GOOGLE_BOOKS_BASE_URL=f"{google.url}/books/v1",
            SKYFERRY_LIBRARY__GOOGLE_BOOKS_API_KEY=google.api_key,
        )
        commands = [["serve", "--no-workers", "--port", str(port)], ["worker"], ["worker"]]
        with processes(commands, env, tmp / "library.log"):
            wait_http(url)
            first, data = imported(url, export, "library.csv")
            calls = {"open_library": len(open_library.calls), "google_books": len(google.calls)}
            paths = Counter(call.path.split("/OL")[0] for call in open_library.calls)
            again, _ = imported(url, export, "library-again.csv")
            calls_again = len(open_library.calls) + len(google.calls) - sum(calls.values())
    bound = max(
        lower_bound(calls["open_library"], *OPEN_LIBRARY),
        lower_bound(calls["google_books"], *GOOGLE),
    )
    summary = data["summary"]
    return {
        "books": BOOKS,
        "seconds": round(first, 2),
        "lower_bound_seconds": round(bound, 2),
        "efficiency": round(bound / first, 3),
        "seed_target_seconds": SEED_TARGET_SECONDS,
        "calls": calls,
        "open_library_calls_by_path": dict(paths),
        "over_limit": {"open_library": open_library.over_limit, "google_books": google.over_limit},
        "genre_enrichment_rate": summary["genre_enrichment_rate"],
        "again_seconds": round(again, 2),
        "again_calls": calls_again,
    }


def offline_run(tmp: Path) -> dict[str, Any]:
    export = goodreads_export(BOOKS)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with database("sqlite", tmp) as database_url:
        env = env_for(tmp, database_url)
        with processes([["serve", "--port", str(port)]], env, tmp / "offline.log"):
            wait_http(url)
            seconds, data = imported(url, export, "offline.csv")
    return {
        "books": BOOKS,
        "seconds": round(seconds, 2),
        "target_seconds": OFFLINE_TARGET_SECONDS,
        "genre_enrichment_rate": data["summary"]["genre_enrichment_rate"],
    }


def markdown(providers: dict[str, Any], offline: dict[str, Any]) -> str:
    calls = providers["calls"]
    return "\n".join(
        [
            "| case | books | wall s | lower bound s | efficiency | calls (OL / Google) "
            "| over limit | target |",
            "|---|---|---|---|---|---|---|---|",
            f"| Open Library + Google fakes, 2 workers, Postgres | {providers['books']} "
            f"| {providers['seconds']} | {providers['lower_bound_seconds']} "
            f"| {providers['efficiency']} | {calls['open_library']} / {calls['google_books']} "
            f"| {sum(providers['over_limit'].values())} | ≥ 0.9 of the bound; seed 60 s |",
            f"| the same library again (cache) | {providers['books']} "
            f"| {providers['again_seconds']} | 0 | - | {providers['again_calls']} | 0 | 0 calls |",
            f"| offline source, embedded SQLite | {offline['books']} | {offline['seconds']} "
            f"| - | - | 0 | 0 | ≤ {offline['target_seconds']} s |",
        ]
    )


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory(prefix="skyferry-bench-") as tmp:
        offline = offline_run(Path(tmp))
        providers = provider_run(Path(tmp))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "latency_seconds": LATENCY,
                "providers": providers,
                "offline": offline,
            },
            indent=2,
        )
        + "\n"
    )
    print(markdown(providers, offline))


if __name__ == "__main__":
    main()
