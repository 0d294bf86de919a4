"""skyferry against the job queues a team would pick instead, on this machine, in one run.

The same workload for every peer: no-op jobs, two worker processes, one producer (this
process), the machine's Postgres (a private database per peer, dropped afterwards) and Redis
(a private database number, flushed before and after). Each round measures

- **enqueue**: the producer alone (no worker running) putting N jobs on the queue, in batches
  of ``--batch`` through the peer's batch API where it has one;
- **drain**: two workers started on that pre-filled queue; the rate between the 10th and the
  90th percentile of finish times, so the workers' start-up is left out;
- **end to end**: the producer enqueuing N more jobs while the (warm) workers run them, from
  the first submit to the last finish, with submit→done latency p50/p99 (mostly time spent
  in the queue, as every job is submitted at once).

Finish times are each peer's own records where it keeps them (DBOS's ``completed_at``,
procrastinate's events); Celery with results ignored records nothing, so its workers note
each task's finish in memory and push them to Redis every 20 ms in one round trip.

    .venv/bin/python bench/peers.py [--jobs 2000] [--rounds 3] [--batch 100] [--quick]
                                    [--peers skyferry,dbos,procrastinate,celery,celery-results]

The peers take turns, a round each at a time. Medians over the rounds; prints ratios against
skyferry and writes bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
import redis
import sqlalchemy as sa
from dbos import WorkflowHandle

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import peer_apps
from bench.harness import SKYFERRY, database
from bench.jobs import environment

from skyferry.app import load_setup, running
from skyferry.config import load_settings
from skyferry.services.demo.service import DemoParams, demo
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "peers.json"
WORKERS = 2
REDIS_URL = os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/13")
POLL_SECONDS = 0.1


class Peer(Protocol):
    """One queue under test: its workers, its producer, and where it records finished jobs."""

    name: str

    def worker_commands(self) -> list[list[str]]: ...

    def worker_env(self) -> dict[str, str]: ...

    async def submit(self, count: int) -> list[str]:
        """Enqueue ``count`` no-op jobs in one batch (one call where the peer has no batch)."""
        ...

    async def finished(self, job_ids: Sequence[str]) -> dict[str, float]:
        """The finish time (epoch seconds) of each of ``job_ids`` that has finished."""
        ...


@dataclass
class Round:
    enqueue_per_second: float
    drain_per_second: float
    end_to_end_per_second: float
    latency_ms_p50: float
    latency_ms_p99: float


@dataclass
class Outcome:
    peer: str
    rounds: list[Round] = field(default_factory=list)

    def median(self, name: str) -> float:
        return round(statistics.median(float(getattr(r, name)) for r in self.rounds), 1)

    def summary(self) -> dict[str, Any]:
        names = list(Round.__dataclass_fields__)
        return {"peer": self.peer, **{n: self.median(n) for n in names}, "rounds": len(self.rounds)}


# -- peers ---------------------------------------------------------------------------------------


class Skyferry:
    """Two ``skyferry worker`` processes with their defaults; the producer is
    ``JobKind.submit_many``."""

    name = "skyferry"

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.pg = PostgresProbe(url)

    def worker_commands(self) -> list[list[str]]:
        return [[SKYFERRY, "worker"] for _ in range(WORKERS)]

    def worker_env(self) -> dict[str, str]:
        return environment(self.url, self.workdir)

    async def submit(self, count: int) -> list[str]:
        submissions = await demo.submit_many([DemoParams(steps=0)] * count)
        return [s.job.id for s in submissions]

    async def finished(self, job_ids: Sequence[str]) -> dict[str, float]:
        return await self.pg.dbos_finished(job_ids)


class RawDbos:
    """DBOS's own queue with skyferry's queue settings (64 jobs per worker, polled every
    50 ms), an async no-op workflow; the producer enqueues a batch through ``DBOSClient``'s
    ``enqueue_in_transaction``, as skyferry does."""

    name = "dbos"

    def __init__(self, url: str) -> None:
        from dbos import DBOSClient

        self.url = url
        self.pg = PostgresProbe(url)
        self.engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        self.client = DBOSClient(
            system_database_engine=self.engine, application_name=peer_apps.DBOS_APP
        )

    def worker_commands(self) -> list[list[str]]:
        return [[sys.executable, str(ROOT / "bench" / "peer_apps.py"), "dbos"]] * WORKERS

    def worker_env(self) -> dict[str, str]:
        return {**os.environ, "PEERS_DATABASE_URL": self.url}

    async def submit(self, count: int) -> list[str]:
        return await asyncio.to_thread(self._submit, count)

    def _submit(self, count: int) -> list[str]:
        ids = []
        with self.engine.begin() as connection:
            for _ in range(count):
                handle: WorkflowHandle[None] = self.client.enqueue_in_transaction(
                    connection,
                    {
                        "queue_name": peer_apps.QUEUE,
                        "workflow_name": "noop",
                        "app_version": peer_apps.DBOS_VERSION,
                    },
                )
                ids.append(handle.workflow_id)
        return ids

    async def finished(self, job_ids: Sequence[str]) -> dict[str, float]:
        return await self.pg.dbos_finished(job_ids)


class Procrastinate:
    """procrastinate's worker with LISTEN/NOTIFY on (its default) and 8 concurrent jobs per
    worker; the producer uses ``batch_defer_async`` (one INSERT for the batch)."""

    name = "procrastinate"

    def __init__(self, url: str) -> None:
        self.url = url
        self.app = peer_apps.procrastinate_app(url)
        self.pg = PostgresProbe(url)

    def worker_commands(self) -> list[list[str]]:
        return [[sys.executable, str(ROOT / "bench" / "peer_apps.py"), "procrastinate"]] * WORKERS

    def worker_env(self) -> dict[str, str]:
        return {**os.environ, "PEERS_DATABASE_URL": self.url}

    async def submit(self, count: int) -> list[str]:
        ids = await self.app.tasks["noop"].batch_defer_async(*[{}] * count)
        return [str(i) for i in ids]

    async def finished(self, job_ids: Sequence[str]) -> dict[str, float]:
        rows = await self.pg.rows(
            "SELECT job_id::text, extract(epoch FROM at)::float8 FROM procrastinate_events "
            "WHERE type = 'succeeded' AND job_id = ANY(%s::bigint[])",
            list(job_ids),
        )
        return dict(rows)


class CeleryPeer:
    """Celery with a Redis broker: two ``--pool=solo`` workers (a no-op task gains nothing
    from prefork's hand-off), gossip, mingle and heartbeats off, task events off, prefetch
    multiplier 128 (the optimisation guide's advice for many short tasks); results ignored,
    or stored in Redis. The producer sends one message per task: Celery has no batch send."""

    def __init__(self, results: bool) -> None:
        self.results = results
        self.name = "celery-results" if results else "celery"
        self.app = peer_apps.make_celery(REDIS_URL, results)
        self.redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        self._read = 0
        self._done: dict[str, float] = {}

    def worker_commands(self) -> list[list[str]]:
        command = [
            *[sys.executable, "-m", "celery", "-A", "bench.peer_apps:celery_app", "worker"],
            *["--pool=solo", "-Q", peer_apps.QUEUE, "-l", "WARNING"],
            *["--without-gossip", "--without-mingle", "--without-heartbeat"],
        ]
        return [[*command, "-n", f"peer{n}@%h"] for n in range(WORKERS)]

    def worker_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PEERS_REDIS_URL": REDIS_URL,
            "PEERS_CELERY_RESULTS": "1" if self.results else "0",
            "PYTHONPATH": str(ROOT),
        }

    async def submit(self, count: int) -> list[str]:
        return await asyncio.to_thread(self._submit, count)

    def _submit(self, count: int) -> list[str]:
        return [self.app.send_task("noop", queue=peer_apps.QUEUE).id for _ in range(count)]

    async def finished(self, job_ids: Sequence[str]) -> dict[str, float]:
        # read only what was pushed since the last look: re-reading the whole list on every
        # poll would cost the producer's process more as the run goes on
        new = await asyncio.to_thread(self.redis.lrange, peer_apps.DONE_LIST, self._read, -1)
        self._read += len(new)
        for entry in new:
            task_id, at = str(entry).split()
            self._done[task_id] = float(at)
        return {task_id: self._done[task_id] for task_id in job_ids if task_id in self._done}


class PostgresProbe:
    """Reads finish times from the peer's tables over one connection of its own."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as connection:
            return list(await (await connection.execute(query, args)).fetchall())

    async def dbos_finished(self, job_ids: Sequence[str]) -> dict[str, float]:
        rows = await self.rows(
            "SELECT workflow_uuid, completed_at FROM dbos.workflow_status "
            "WHERE status = 'SUCCESS' AND workflow_uuid = ANY(%s)",
            list(job_ids),
        )
        return {str(job_id): float(completed) / 1000 for job_id, completed in rows}


# -- measuring -----------------------------------------------------------------------------------


@contextmanager
def workers(peer: Peer, log: Path) -> Iterator[None]:
    with log.open("ab") as out:
        started = [
            subprocess.Popen(command, env=peer.worker_env(), cwd=ROOT, stdout=out, stderr=out)
            for command in peer.worker_commands()
        ]
    try:
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def produce(peer: Peer, count: int, batch: int) -> tuple[list[str], dict[str, float]]:
    """Enqueue ``count`` jobs ``batch`` at a time; each job's submit time is its batch's start."""
    ids: list[str] = []
    submitted: dict[str, float] = {}
    while len(ids) < count:
        started = time.time()
        new = await peer.submit(min(batch, count - len(ids)))
        ids += new
        submitted.update((job_id, started) for job_id in new)
    return ids, submitted


async def wait_finished(peer: Peer, ids: list[str]) -> dict[str, float]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = await peer.finished(ids)
        if len(done) == len(ids):
            return done
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"{peer.name}: {len(done)} of {len(ids)} jobs finished")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def one_round(peer: Peer, count: int, batch: int, log: Path) -> Round:
    started = time.perf_counter()
    prefilled, _ = await produce(peer, count, batch)
    enqueue = count / (time.perf_counter() - started)
    with workers(peer, log):
        times = sorted((await wait_finished(peer, prefilled)).values())
        tenth, ninetieth = percentile(times, 0.1), percentile(times, 0.9)
        drain = 0.8 * count / max(ninetieth - tenth, 1e-6)
        ids, submitted = await produce(peer, count, batch)
        done = await wait_finished(peer, ids)
    latencies = [(done[i] - submitted[i]) * 1000 for i in ids]
    end_to_end = count / (max(done.values()) - min(submitted.values()))
    result = Round(
        enqueue_per_second=round(enqueue, 1),
        drain_per_second=round(drain, 1),
        end_to_end_per_second=round(end_to_end, 1),
        latency_ms_p50=round(percentile(latencies, 0.5), 1),
        latency_ms_p99=round(percentile(latencies, 0.99), 1),
    )
    print(json.dumps({"peer": peer.name, **result.__dict__}), flush=True)
    return result


@asynccontextmanager
async def opened(name: str, workdir: Path) -> AsyncIterator[Peer]:
    """The peer ``name`` on a database (or Redis database) of its own, ready to enqueue."""
    if name.startswith("celery"):
        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        try:
            yield CeleryPeer(results=name == "celery-results")
        finally:
            client.flushdb()
        return
    with database("postgres", workdir) as url:
        if name == "skyferry":
            settings = load_settings(
                database_url=url, blob_url=f"file://{workdir}/blobs", log_level="WARNING"
            )
            setup = load_setup(settings, default_services=["demo"], run_workers=False)
            engine = create_engine(settings.sqlalchemy_url)
            migrations.upgrade(engine, setup.services)
            engine.dispose()
            async with running(setup):
                yield Skyferry(url, workdir)
        elif name == "dbos":
            peer = RawDbos(url)
            await migrate_dbos(peer, workdir / "peers.log")
            try:
                yield peer
            finally:
                peer.client.destroy()
                peer.engine.dispose()
        elif name == "procrastinate":
            peer_p = Procrastinate(url)
            async with peer_p.app.open_async():
                await peer_p.app.schema_manager.apply_schema_async()
                yield peer_p
        else:
            raise SystemExit(f"unknown peer {name!r}")


async def migrate_dbos(peer: RawDbos, log: Path) -> None:
    """DBOS migrates its tables when a worker launches; the client does not."""
    with workers(peer, log):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                rows = await peer.pg.rows("SELECT name FROM dbos.queues")
            except psycopg.errors.UndefinedTable:
                rows = []
            if rows:
                return
            await asyncio.sleep(0.2)
    raise TimeoutError("the DBOS workers did not start")


async def measure(
    names: list[str], count: int, rounds: int, batch: int, workdir: Path
) -> list[Outcome]:
    """Every peer opened at once and measured a round at a time in turn, so a change in the
    machine's load during the run falls on all of them rather than on one."""
    outcomes = [Outcome(name) for name in names]
    async with AsyncExitStack() as stack:
        peers = [await stack.enter_async_context(opened(name, workdir)) for name in names]
        for _ in range(rounds):
            for peer, outcome in zip(peers, outcomes, strict=True):
                outcome.rounds.append(await one_round(peer, count, batch, workdir / "peers.log"))
    return outcomes


def markdown(summaries: list[dict[str, Any]]) -> str:
    base = next((s for s in summaries if s["peer"] == "skyferry"), summaries[0])
    columns = [
        ("enqueue_per_second", "enqueue jobs/s"),
        ("drain_per_second", "drain jobs/s"),
        ("end_to_end_per_second", "end to end jobs/s"),
    ]
    lines = [
        "| peer | " + " | ".join(title for _, title in columns) + " | p50 / p99 ms "
        "| skyferry ÷ peer, end to end |",
        "|---|" + "---|" * (len(columns) + 2),
    ]
    for s in summaries:
        cells = " | ".join(f"{s[key]}" for key, _ in columns)
        ratio = base["end_to_end_per_second"] / s["end_to_end_per_second"]
        lines.append(
            f"| {s['peer']} | {cells} | {s['latency_ms_p50']} / {s['latency_ms_p99']} "
            f"| {ratio:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--peers", default="skyferry,dbos,procrastinate,celery,celery-results")
    parser.add_argument("--quick", action="store_true", help="500 jobs, one round per peer")
    args = parser.parse_args()
    count, rounds = (500, 1) if args.quick else (args.jobs, args.rounds)
    with tempfile.TemporaryDirectory(prefix="skyferry-peers-") as tmp:
        outcomes = asyncio.run(measure(args.peers.split(","), count, rounds, args.batch, Path(tmp)))
        summaries = [outcome.summary() for outcome in outcomes]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "jobs": count,
                "rounds": rounds,
                "batch": args.batch,
                "workers": WORKERS,
                "peers": summaries,
            },
            indent=2,
        )
        + "\n"
    )
    print(markdown(summaries))


if __name__ == "__main__":
    main()
