"""A long tours pipeline (30 minutes by default) across a kill -9 of its worker.

Both providers are the real ones against slow fake servers (tests/fakes): each Google Places
request takes 60 % of the run over its 11 requests, the model's ranking the other 40 %, so the
city-info stage takes about a minute and a half, the attractions stage about 15 minutes and the
ranking about 12. `skyferry serve --no-workers` takes the request; worker A is killed with
SIGKILL half way through the attractions stage; worker B, with another executor id, takes the
job over and finishes it. Reported: the wall time, the requests each provider got (the city's
details must not be asked again; the attractions stage, cut short, is redone from its start),
and whether every tour keeps its budget.

    .venv/bin/python bench/tours_kill.py [--minutes 30]

Not part of `make bench` (it takes the minutes it simulates). Writes
bench/results/tours_kill.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import SKYFERRY, free_port, wait_http
from tests.fakes import google_places_server as google
from tests.fakes import llm_filter_server as model

RESULTS = Path(__file__).parent / "results" / "tours_kill.json"
GOOGLE_KEY = "bench-google-key"
MODEL_KEY = "bench-model-key"
GOOGLE_REQUESTS = 11  # details, 4 nearby searches, 2 text queries x 3 pages


def run(minutes: float, workdir: Path) -> dict[str, Any]:
    seconds = minutes * 60
    google_delay = 0.6 * seconds / GOOGLE_REQUESTS
    model_delay = 0.4 * seconds
    log = workdir / "processes.log"
    with (
        google.serve_fake_google(GOOGLE_KEY, delay_seconds=google_delay) as places,
        model.serve_fake_model_api(MODEL_KEY, delay_seconds=model_delay) as models,
    ):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
        env.update(
            SKYFERRY_DATABASE_URL=f"sqlite:///{workdir}/db/skyferry.db",
            SKYFERRY_BLOB_URL=f"file://{workdir}/blobs",
            SKYFERRY_AUTO_MIGRATE="true",
            SKYFERRY_LOG_FORMAT="text",
            SKYFERRY_LOG_LEVEL="WARNING",
            SKYFERRY_HEARTBEAT_SECONDS="0.5",
            SKYFERRY_EXECUTOR_TIMEOUT_SECONDS="2",
            SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
            SKYFERRY_SERVICES="tours",
            SKYFERRY_TOURS__PLACES_PROVIDER="google",
            SKYFERRY_TOURS__GOOGLE_BASE_URL=places.url,
            SKYFERRY_TOURS__GOOGLE_API_KEY=GOOGLE_KEY,
            SKYFERRY_TOURS__FILTER_PROVIDER="perplexity",
            SKYFERRY_TOURS__PERPLEXITY_BASE_URL=models.url,
            SKYFERRY_TOURS__PERPLEXITY_API_KEY=MODEL_KEY,
            SKYFERRY_TOURS__REQUEST_TIMEOUT_SECONDS=str(max(60.0, 2 * model_delay)),
        )
        started: list[subprocess.Popen[bytes]] = []

        def launch(*args: str, **extra: str) -> subprocess.Popen[bytes]:
            with log.open("ab") as out:
                process = subprocess.Popen(
                    [SKYFERRY, *args], env={**env, **extra}, stdout=out, stderr=out
                )
            started.append(process)
            return process

        try:
            launch("serve", "--no-workers", "--port", str(port))
            wait_http(url)
            worker_a = launch("worker", SKYFERRY_EXECUTOR_ID="worker-a")
            with httpx.Client(base_url=url, timeout=30) as client:
                body = {"place_id": google.CITY_ID, "max_tours": 4, "minutes_per_tour": 180}
                t0 = time.monotonic()
                job_id = client.post("/api/generate-city", json=body).json()["id"]
                messages: list[str] = []
                killed_at = None
                while True:
                    job = client.get(f"/jobs/{job_id}").json()
                    if job["progress"]["message"] and job["progress"]["message"] not in messages:
                        messages.append(job["progress"]["message"])
                    searches = len(places.calls) - 1
                    if killed_at is None and searches >= 5:  # half way through the searches
                        worker_a.send_signal(signal.SIGKILL)
                        worker_a.wait()
                        killed_at = time.monotonic() - t0
                        counts_at_kill = dict(places.counts())
                        launch("worker", SKYFERRY_EXECUTOR_ID="worker-b")
                    if job["status"] in ("succeeded", "failed", "cancelled"):
                        break
                    time.sleep(1)
                elapsed = time.monotonic() - t0
                city = (
                    client.get(f"/cities/{job_id}").json() if job["status"] == "succeeded" else {}
                )
        finally:
            for process in started:
                if process.poll() is None:
                    process.terminate()
            for process in started:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        return {
            "minutes": minutes,
            "status": job["status"],
            "error": job.get("error"),
            "elapsed_seconds": round(elapsed, 1),
            "killed_at_seconds": round(killed_at, 1) if killed_at is not None else None,
            "stages_seen": messages,
            "google_requests_at_kill": counts_at_kill if killed_at is not None else None,
            "google_requests": dict(places.counts()),
            "model_requests": len(models.calls),
            "tours": [
                {"stops": len(t["stops"]), "total_minutes": t["total_minutes"]}
                for t in city.get("tours", [])
            ],
            "every_tour_within_budget": all(
                t["total_minutes"] <= 180 for t in city.get("tours", [])
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = run(args.minutes, Path(workdir))
    result["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
