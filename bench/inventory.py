"""Inventory benchmark: item reads against a bare FastAPI app, and file download throughput.

Reads: `GET /inventory/{sku}` through `skyferry serve` (uvicorn, one process) against a bare
FastAPI app (in this file) doing the same SQL read on the same SQLite database, under uvicorn in
its own process. A third server, the inventory router alone on a plain FastAPI app, shows how
much of any difference is the inventory code and how much the platform around it. The servers
take turns (never two up at once, so they do not share the two cores) over interleaved rounds;
the load comes from another process, a small asyncio HTTP/1.1 keep-alive client (`wrk` is not
installed, and httpx would be the bottleneck) that times every request. Reported: the median
round's requests/s, the median p99, and ratios to the bare app (target: requests/s >= 0.9).
Each server runs on a core of its own and the load generator on the other, as one uvicorn
process on one vCPU would be deployed.

Download: a 200 MB file streamed from `GET /file/download/{name}` by the same raw client,
against reading the blob straight from the file:// store in-process.

    .venv/bin/python bench/inventory.py [--seconds 5] [--rounds 5] [--connections 32]
                                        [--download-mb 200] [--quick]

Writes bench/results/inventory.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import free_port, pin_to_core

from skyferry.services.inventory.models import Item
from skyferry.services.inventory.sql import SqlItemStore, items
from skyferry.storage import migrations
from skyferry.storage.blobs import open_blob_store
from skyferry.storage.sql import create_engine

SKYFERRY = str(Path(sys.executable).parent / "skyferry")
RESULTS = Path(__file__).parent / "results" / "inventory.json"
ITEMS = 1000
MIB = 1024 * 1024


# -- the baseline: a bare FastAPI app doing the same read ----------------------------------------


def bare_app(database_url: str) -> Any:
    """What one would write without skyferry: one route, the same table, the same engine.

    The read runs in a worker thread from an async route, which measured faster here than a
    sync route on FastAPI's thread pool; the baseline should be the best plain version.
    """
    from fastapi import FastAPI, HTTPException

    engine = create_engine(database_url)
    app = FastAPI()

    def read(sku: str) -> dict[str, Any] | None:
        with engine.connect() as connection:
            row = connection.execute(items.select().where(items.c.sku == sku)).first()
        if row is None:
            return None
        return {
            "sku": row.sku,
            "name": row.name,
            "quantity": row.quantity,
            "price": str(Decimal(row.price_cents).scaleb(-2)),
            "attributes": row.attributes,
            "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat(),
            "version": row.version,
        }

    @app.get("/inventory/{sku}")
    async def get_item(sku: str) -> dict[str, Any]:
        found = await asyncio.to_thread(read, sku)
        if found is None:
            raise HTTPException(404)
        return found

    return app


def router_app(database_url: str, blob_url: str) -> Any:
    """skyferry's inventory router alone on a plain FastAPI app: no platform middleware and no
    other service's routes, which tells the inventory code's cost from the platform's."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from skyferry.app import add_routes
    from skyferry.config import attach_services, load_settings
    from skyferry.http.problems import install_problem_handlers
    from skyferry.platform import build
    from skyferry.services.inventory.api import build_router
    from skyferry.services.inventory.service import service

    settings = load_settings(database_url=database_url, blob_url=blob_url)
    attach_services(settings, [service])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.skyferry = build(settings, [service])
        yield
        app.state.skyferry.database.dispose()

    app = FastAPI(lifespan=lifespan)
    add_routes(app, build_router(settings))
    install_problem_handlers(app)
    return app


def run_app(kind: str, database_url: str, blob_url: str, port: int) -> None:
    import uvicorn

    app = bare_app(database_url) if kind == "bare" else router_app(database_url, blob_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- the load generator (runs in its own process) ------------------------------------------------

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, chunk: int
) -> tuple[int, int]:
    """Send one request on a kept-alive connection; (status, body bytes) once it is all read."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = _LENGTH.search(head)
    remaining = int(match[1]) if match else 0
    received = remaining
    while remaining:
        remaining -= len(await reader.read(min(chunk, remaining)))
    return status, received


async def load(port: int, paths: list[str], seconds: float, warmup: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds

    async def connection(path: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        while (begun := time.perf_counter()) < stop_at:
            status, _ = await _exchange(reader, writer, request, 65536)
            if begun >= measure_from:
                latencies.append(time.perf_counter() - begun)
                statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    await asyncio.gather(*(connection(path) for path in paths))
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / seconds, 1),
        "latency_ms_p50": round(1000 * latencies[len(latencies) // 2], 2),
        "latency_ms_p99": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
        "statuses": statuses,
    }


async def download(port: int, path: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=4 * MIB)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    begun = time.perf_counter()
    status, size = await _exchange(reader, writer, request, 4 * MIB)
    elapsed = time.perf_counter() - begun
    writer.close()
    return {"status": status, "bytes": size, "seconds": elapsed}


def run_load(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="inventory.py load")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--paths", required=True, help="comma-separated, one per connection")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--download", action="store_true", help="fetch the one path, once")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the plain loop only makes the client slower
        pass
    paths = args.paths.split(",")
    if args.download:
        result = asyncio.run(download(args.port, paths[0]))
    else:
        result = asyncio.run(load(args.port, paths, args.seconds, args.warmup))
    print(json.dumps(result))


def generate_load(port: int, paths: list[str], *extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "load", "--port", str(port), "--paths", ",".join(paths)]
    client = subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, text=True)
    pin_to_core(client.pid, 1)
    stdout, _ = client.communicate()
    if client.returncode:
        raise RuntimeError(f"the load generator failed with exit code {client.returncode}")
    return dict(json.loads(stdout))


# -- servers -------------------------------------------------------------------------------------


def environment(database_url: str, blob_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFERRY_")}
    env.update(
        SKYFERRY_DATABASE_URL=database_url,
        SKYFERRY_BLOB_URL=blob_url,
        SKYFERRY_AUTO_MIGRATE="true",
        SKYFERRY_LOG_LEVEL="WARNING",
        SKYFERRY_SHUTDOWN_GRACE_SECONDS="0",
        SKYFERRY_INVENTORY__MAX_UPLOAD_BYTES=str(2**40),
    )
    return env


@contextmanager
def server(kind: str, database_url: str, blob_url: str, workdir: Path) -> Iterator[int]:
    port = free_port()
    if kind == "skyferry":
        # --no-workers: the HTTP path alone; no job queue polls the database meanwhile
        command = [SKYFERRY, "serve", "--no-workers", "--port", str(port)]
    else:
        app = "bare" if kind == "bare_fastapi" else "router"
        command = [sys.executable, __file__, app, database_url, blob_url, str(port)]
    log = (workdir / f"{kind}.log").open("ab")
    process = subprocess.Popen(
        command, env=environment(database_url, blob_url), stdout=log, stderr=subprocess.STDOUT
    )
    pin_to_core(process.pid, 0)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/inventory/SKU-0000", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not start; see {log.name}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# -- the benchmark -------------------------------------------------------------------------------


async def seed(database_url: str) -> None:
    from skyferry.services.inventory.service import service

    engine = create_engine(database_url)
    migrations.upgrade(engine, [service])
    store = SqlItemStore(engine)
    now = datetime.now(UTC)
    for n in range(ITEMS):
        await store.insert(
            Item(
                sku=f"SKU-{n:04d}",
                name=f"Item {n}",
                quantity=n,
                price=Decimal("19.99"),
                attributes={"colour": "red", "size": "M"},
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
    engine.dispose()


def reads(
    database_url: str, blob_url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    paths = [f"/inventory/SKU-{n * 31 % ITEMS:04d}" for n in range(args.connections)]
    rounds: dict[str, list[dict[str, Any]]] = {
        "skyferry": [],
        "inventory_router": [],
        "bare_fastapi": [],
    }
    for _ in range(args.rounds):
        for kind in rounds:
            with server(kind, database_url, blob_url, workdir) as port:
                result = generate_load(port, paths, "--seconds", str(args.seconds))
            if set(result["statuses"]) != {"200"}:  # JSON keys are strings
                raise RuntimeError(f"{kind} answered {result['statuses']}")
            rounds[kind].append(result)
            print(
                f"  {kind:13} {result['requests_per_second']:8.1f} req/s  "
                f"p99 {result['latency_ms_p99']:6.2f} ms",
                file=sys.stderr,
            )

    def median(kind: str) -> dict[str, Any]:
        chosen = sorted(rounds[kind], key=lambda r: r["requests_per_second"])[args.rounds // 2]
        return {
            "requests_per_second": chosen["requests_per_second"],
            "latency_ms_p50": chosen["latency_ms_p50"],
            "latency_ms_p99": statistics.median(r["latency_ms_p99"] for r in rounds[kind]),
            "rounds_requests_per_second": [r["requests_per_second"] for r in rounds[kind]],
        }

    found = {kind: median(kind) for kind in rounds}
    bare = found["bare_fastapi"]
    for kind in ("skyferry", "inventory_router"):
        found[kind]["ratio_requests_per_second"] = round(
            found[kind]["requests_per_second"] / bare["requests_per_second"], 3
        )
        found[kind]["ratio_latency_p99"] = round(
            found[kind]["latency_ms_p99"] / bare["latency_ms_p99"], 3
        )
    return {"connections": args.connections, "seconds_per_round": args.seconds, **found}


async def read_from_store(blob_url: str, key: str) -> float:
    store = open_blob_store(blob_url)
    begun = time.perf_counter()
    _, chunks = await store.get(key)
    async for _ in chunks:
        pass
    return time.perf_counter() - begun


async def write_file(blob_url: str, key: str, size: int) -> None:
    async def pieces() -> Any:
        block = os.urandom(MIB)
        for _ in range(size // MIB):
            yield block

    await open_blob_store(blob_url).put(key, pieces())


def downloads(database_url: str, blob_url: str, workdir: Path, size_mb: int) -> dict[str, Any]:
    size = size_mb * MIB
    asyncio.run(write_file(blob_url, "inventory/files/big.bin", size))
    direct = [asyncio.run(read_from_store(blob_url, "inventory/files/big.bin")) for _ in range(3)]
    over_http: list[float] = []
    with server("skyferry", database_url, blob_url, workdir) as port:
        for _ in range(3):
            result = generate_load(port, ["/file/download/big.bin"], "--download")
            if (result["status"], result["bytes"]) != (200, size):
                raise RuntimeError(f"download answered {result}")
            over_http.append(result["seconds"])
    http_mb_s = size_mb / statistics.median(over_http)
    store_mb_s = size_mb / statistics.median(direct)
    return {
        "megabytes": size_mb,
        "http_mb_per_second": round(http_mb_s, 1),
        "store_mb_per_second": round(store_mb_s, 1),
        "ratio": round(http_mb_s / store_mb_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--download-mb", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="short rounds, a 50 MB file")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.download_mb = 2.0, 1, 50

    with tempfile.TemporaryDirectory(prefix="skyferry-bench-") as tmp:
        workdir = Path(tmp)
        database_url = f"sqlite:///{workdir}/bench.db"
        blob_url = f"file://{workdir}/blobs"
        asyncio.run(seed(database_url))
        print("GET /inventory/{sku}:", file=sys.stderr)
        read_results = reads(database_url, blob_url, workdir, args)
        print(f"download of {args.download_mb} MB:", file=sys.stderr)
        download_results = downloads(database_url, blob_url, workdir, args.download_mb)

    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "read": read_results,
        "download": download_results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def table(results: dict[str, Any]) -> str:
    read, dl = results["read"], results["download"]
    ours, router, bare = read["skyferry"], read["inventory_router"], read["bare_fastapi"]
    what = f"`GET /inventory/{{sku}}`, SQLite, {read['connections']} connections"
    return "\n".join(
        [
            "| inventory | measured | baseline | ratio |",
            "|---|---|---|---|",
            f"| {what}: req/s, `skyferry serve` | {ours['requests_per_second']} "
            f"| {bare['requests_per_second']} (bare FastAPI) "
            f"| {ours['ratio_requests_per_second']} |",
            f"| {what}: p99 ms, `skyferry serve` | {ours['latency_ms_p99']} "
            f"| {bare['latency_ms_p99']} (bare FastAPI) | {ours['ratio_latency_p99']} |",
            f"| {what}: req/s, inventory router on plain FastAPI "
            f"| {router['requests_per_second']} | {bare['requests_per_second']} (bare FastAPI) "
            f"| {router['ratio_requests_per_second']} |",
            f"| download {dl['megabytes']} MB: MB/s over HTTP | {dl['http_mb_per_second']} "
            f"| {dl['store_mb_per_second']} (file:// store read) | {dl['ratio']} |",
        ]
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        run_load(sys.argv[2:])
    elif sys.argv[1:2] in (["bare"], ["router"]):
        run_app(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
