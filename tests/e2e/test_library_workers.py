"""Two libraries imported by two worker processes at once against a fake Open Library that
enforces its published kind of limit, and the worker of one SIGKILLed mid-enrichment (a third,
idle worker takes over): both imports complete, no request went over the limit (the rate is
shared across processes), no book finished before the kill is looked up again, and progress
never goes backwards."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from skyferry.jobs.tables import fanout_items
from skyferry.jobs.tables import workers as workers_table
from skyferry.services.library.exports import parse_export
from skyferry.services.library.workflows import ENRICHING
from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.fakes.open_library_server import FakeOpenLibrary
from tests.library_exports import goodreads_export
from tests.servers import free_port

RATE = 30
BOOKS = 80


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_two_workers_share_the_limit_and_a_killed_one_loses_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "processes.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exports = [goodreads_export(BOOKS, first=1), goodreads_export(BOOKS, first=5000)]
    processes: list[subprocess.Popen[bytes]] = []
    fake = FakeOpenLibrary(identified_rate_per_second=RATE, latency=0.05)
    with fake.serve():
        env = skyferry_env(
            tmp_path,
            postgres_url,
            SKYFERRY_SERVICES="library",
            SKYFERRY_WORKER_CONCURRENCY="1",
            SKYFERRY_LIBRARY__PROVIDERS='["open_library"]',
            SKYFERRY_LIBRARY__OPEN_LIBRARY_BASE_URL=fake.url,
            SKYFERRY_LIBRARY__OPEN_LIBRARY_USER_AGENT="skyferry-e2e/1.0 (e2e@example.com)",
            SKYFERRY_LIBRARY__OPEN_LIBRARY_REQUESTS_PER_SECOND=str(RATE),
            SKYFERRY_LIBRARY__OPEN_LIBRARY_BATCH_SIZE="10",
            SKYFERRY_LIBRARY__CONCURRENCY="20",
            # a request reaches the fake some time after its turn, and the fake stamps it when
            # its own process next runs; on this 2-core machine under a parallel test suite
            # both vary by several hundred milliseconds, so the window is widened by 0.9 s
            # (two workers each keeping the rate alone would send twice the limit)
            SKYFERRY_LIBRARY__RATE_MARGIN="0.9",
        )
        try:
            processes.append(start(["serve", "--no-workers", "--port", str(port)], env, log))
            wait_http(url, processes[0])
            # concurrency 1: each import gets a worker of its own, the third stands by
            workers = {
                name: start(["worker"], {**env, "SKYFERRY_EXECUTOR_ID": name}, log)
                for name in ("worker-a", "worker-b", "worker-c")
            }
            processes += workers.values()
            _wait_for_workers(postgres_url, len(workers))
            with httpx.Client(base_url=url, timeout=10) as client:
                ids = []
                for n, export in enumerate(exports):
                    files = {"csv": (f"library-{n}.csv", export, "text/csv")}
                    response = client.post("/upload", files=files)
                    assert response.status_code == 200, response.text
                    ids.append(response.json()["uuid"])
                seen: dict[str, list[float]] = {upload_id: [] for upload_id in ids}

                def poll() -> list[dict[str, Any]]:
                    statuses = [client.get(f"/status/{upload_id}").json() for upload_id in ids]
                    for status in statuses:
                        seen[str(status["uuid"])].append(status["progress"]["percent_complete"])
                    return statuses

                deadline = time.monotonic() + 60
                while not all(s["progress"]["percent_complete"] > 0 for s in poll()):
                    assert time.monotonic() < deadline, log.read_text()[-3000:]
                    time.sleep(0.1)
                while min(s["progress"]["percent_complete"] for s in poll()) < 30:
                    assert time.monotonic() < deadline, log.read_text()[-3000:]
                    time.sleep(0.1)
                stop(workers[_executor_of(postgres_url, ids[0])], signal.SIGKILL)
                finished_before_kill = _finished_items(postgres_url, ids)
                deadline = time.monotonic() + 120
                while any(s["status"] == "processing" for s in poll()):
                    assert time.monotonic() < deadline, log.read_text()[-3000:]
                    time.sleep(0.2)
                statuses = poll()
                assert [s["status"] for s in statuses] == ["complete", "complete"], statuses
                for upload_id in ids:
                    data = client.get(f"/data/{upload_id}").json()
                    assert data["summary"]["total_books"] == BOOKS
                    assert data["summary"]["genre_enrichment_rate"] == 100.0
        finally:
            for process in reversed(processes):
                stop(process)

        assert fake.over_limit == 0, fake.over_limit_reasons
        for upload_id, percents in seen.items():
            assert percents == sorted(percents), f"{upload_id} went backwards: {percents}"
        asked = Counter(
            isbn for call in fake.calls if call.path == "/api/books" for isbn in call.isbns
        )
        for upload_id, export in zip(ids, exports, strict=True):
            books = parse_export(export).books
            done = [books[i] for i in finished_before_kill[upload_id]]
            assert done, "the kill came after some books were finished"
            for book in done:
                if book.isbn13:
                    assert asked[book.isbn13] == 1, f"{book.title} was looked up again"


def _query(database_url: str, query: sa.Executable) -> list[sa.Row[Any]]:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return list(connection.execute(query).all())
    finally:
        engine.dispose()


def _wait_for_workers(database_url: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(_query(database_url, sa.select(workers_table.c.executor_id))) < count:
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.2)


def _executor_of(database_url: str, job_id: str) -> str:
    """The worker running a job, from DBOS's own record of it."""
    query = sa.text("SELECT executor_id FROM dbos.workflow_status WHERE workflow_uuid = :id")
    return str(_query(database_url, query.bindparams(id=job_id))[0][0])


def _finished_items(database_url: str, job_ids: list[str]) -> dict[str, list[int]]:
    rows = _query(
        database_url,
        sa.select(fanout_items.c.job_id, fanout_items.c.item).where(
            fanout_items.c.job_id.in_(job_ids), fanout_items.c.fanout == ENRICHING
        ),
    )
    found: dict[str, list[int]] = {job_id: [] for job_id in job_ids}
    for row in rows:
        found[row.job_id].append(row.item)
    return found
