"""Lambda benchmark: cold start and warm throughput of the handler against a bare FastAPI app
behind plain Mangum, measured side by side in the same run.

Cold start: a fresh Python process per run (as a new Lambda instance is), timed from spawn to
the first event's answer: imports, the app's start-up in the init phase (for skyferry: the
inventory service on Postgres, the schema already applied, as a deployment has it; the API
function defers its database and job engine to first use) and one `GET /health` event (API
Gateway HTTP API payload). The peers take turns over interleaved rounds; reported is the
median. What the deferral moves is measured too: skyferry's first `GET /jobs` event, after
the warm events, which imports DBOS and SQLAlchemy and launches the job engine.

The best round and the CPU time the process used until that answer (``time.process_time()``)
are reported beside the median wall time, and warm events per CPU second beside events per
second: on a shared machine they depend far less on what else runs.

Warm: in each process, after the first event, `--events` more `GET /health` events through the
handler, one after another (Lambda gives an instance one event at a time); events per second,
the median over rounds.

    .venv/bin/python bench/lambda.py [--rounds 5] [--events 2000] [--quick]

Needs the PostgreSQL server of the tests (SKYFERRY_TEST_POSTGRES_URL or 127.0.0.1:5432).
Writes bench/results/lambda.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "lambda.json"
SKYFERRY = str(Path(sys.executable).parent / "skyferry")
ADMIN_URL = os.environ.get(
    "SKYFERRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/health",
    "rawQueryString": "",
    "headers": {"host": "abc.execute-api.eu-west-1.amazonaws.com", "accept": "*/*"},
    "requestContext": {
        "http": {"method": "GET", "path": "/health", "sourceIp": "203.0.113.9"},
        "requestId": "bench",
        "stage": "$default",
    },
    "isBase64Encoded": False,
}

# each peer: the code a Lambda instance runs, timed by the process itself after its start
BARE = """
import json, sys, time
from types import SimpleNamespace
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()

@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": "0"}

handler = Mangum(app, lifespan="off")
"""
SKYFERRY_APP = """
import json, sys, time
from types import SimpleNamespace
from skyferry.runtimes.aws_lambda import handler
"""
DRIVER = """
event = json.loads(sys.argv[1])
events = int(sys.argv[2])
context = SimpleNamespace(aws_request_id="bench", function_name="bench")
first = handler(event, context)
assert first["statusCode"] == 200, first
cold = time.perf_counter()
cold_cpu = time.process_time()
start, start_cpu = time.perf_counter(), time.process_time()
for _ in range(events):
    handler(event, context)
warm = events / (time.perf_counter() - start)
warm_cpu = events / (time.process_time() - start_cpu)
first_job = None
if len(sys.argv) > 3:  # skyferry: the first job route, which launches the deferred job engine
    jobs = json.loads(sys.argv[3])
    start = time.perf_counter()
    answer = handler(jobs, context)
    assert answer["statusCode"] == 200, answer
    first_job = time.perf_counter() - start
print(json.dumps({
    "first_answer_at": cold,
    "cold_cpu": cold_cpu,
    "warm_per_second": warm,
    "warm_per_cpu_second": warm_cpu,
    "first_job": first_job,
}))
import os
os._exit(0)  # what Lambda does to an instance: no shutdown
"""


JOBS_EVENT = {
    **EVENT,
    "rawPath": "/jobs",
    "requestContext": {**EVENT["requestContext"], "http": {"method": "GET", "path": "/jobs"}},
}


def run(code: str, env: dict[str, str], events: int, *extra: str) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + DRIVER, json.dumps(EVENT), str(events), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ended = time.perf_counter()
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    # the child's perf_counter shares this clock (CLOCK_MONOTONIC), so the cold start runs
    # from the spawn here to the first answer there
    sample = {
        "cold_seconds": measured["first_answer_at"] - started,
        "cold_cpu_seconds": measured["cold_cpu"],
        "warm_per_second": measured["warm_per_second"],
        "warm_per_cpu_second": measured["warm_per_cpu_second"],
        "process_seconds": ended - started,
    }
    if measured["first_job"] is not None:
        sample["first_job_seconds"] = measured["first_job"]
    return sample


def database(admin_url: str) -> tuple[str, sa.Engine]:
    name = f"bench_lambda_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin_url.rsplit("/", 1)[0] + f"/{name}", admin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 300 events")
    args = parser.parse_args()
    rounds, events = (2, 300) if args.quick else (args.rounds, args.events)

    url, admin = database(ADMIN_URL)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-lambda-{uuid.uuid4().hex[:8]}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    env = {
        **base,
        "SKYFERRY_DATABASE_URL": url,
        "SKYFERRY_BLOB_URL": f"file://{tmp}/blobs",
        "SKYFERRY_SERVICES": "inventory",
        "SKYFERRY_LOG_LEVEL": "WARNING",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "_HANDLER": "skyferry.runtimes.aws_lambda.handler",
    }
    try:
        subprocess.run([SKYFERRY, "db", "upgrade"], env=env, check=True, capture_output=True)
        samples: dict[str, list[dict[str, float]]] = {"bare": [], "skyferry": []}
        for _ in range(rounds):
            samples["bare"].append(run(BARE, base, events))
            samples["skyferry"].append(run(SKYFERRY_APP, env, events, json.dumps(JOBS_EVENT)))
    finally:
        with admin.connect() as connection:
            name = url.rsplit("/", 1)[1]
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def median(peer: str, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[peer])

    def best(peer: str, key: str) -> float:
        return min(sample[key] for sample in samples[peer])

    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "rounds": rounds,
        "events": events,
        "cold_seconds": {p: round(median(p, "cold_seconds"), 3) for p in samples},
        "cold_cpu_seconds": {p: round(median(p, "cold_cpu_seconds"), 3) for p in samples},
        "cold_best_seconds": {p: round(best(p, "cold_seconds"), 3) for p in samples},
        "warm_per_second": {p: round(median(p, "warm_per_second"), 1) for p in samples},
        "warm_per_cpu_second": {p: round(median(p, "warm_per_cpu_second"), 1) for p in samples},
        "first_job_seconds": round(median("skyferry", "first_job_seconds"), 3),
        "samples": samples,
    }
    result["cold_ratio"] = round(
        result["cold_seconds"]["skyferry"] / result["cold_seconds"]["bare"], 3
    )
    result["cold_best_ratio"] = round(
        result["cold_best_seconds"]["skyferry"] / result["cold_best_seconds"]["bare"], 3
    )
    result["cold_cpu_ratio"] = round(
        result["cold_cpu_seconds"]["skyferry"] / result["cold_cpu_seconds"]["bare"], 3
    )
    result["warm_ratio"] = round(
        result["warm_per_second"]["skyferry"] / result["warm_per_second"]["bare"], 3
    )
    result["warm_cpu_ratio"] = round(
        result["warm_per_cpu_second"]["skyferry"] / result["warm_per_cpu_second"]["bare"], 3
    )
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    cold, warm = result["cold_seconds"], result["warm_per_second"]
    rows = [
        ("cold start to first answer, s", cold, result["cold_ratio"]),
        ("the same, best round, s", result["cold_best_seconds"], result["cold_best_ratio"]),
        ("CPU time to first answer, s", result["cold_cpu_seconds"], result["cold_cpu_ratio"]),
        ("warm `GET /health` events/s", warm, result["warm_ratio"]),
        ("the same, per CPU second", result["warm_per_cpu_second"], result["warm_cpu_ratio"]),
    ]
    print("| lambda | skyferry | bare FastAPI + Mangum | ratio |")
    print("|---|---|---|---|")
    for label, values, ratio in rows:
        print(f"| {label} | {values['skyferry']} | {values['bare']} | {ratio} |")
    print(f"| then the first job route (`GET /jobs`), s | {result['first_job_seconds']} | | |")


if __name__ == "__main__":
    main()
