"""``skyferry.testing``: a team's routes and jobs unit-tested with no database engine running,
against the same public API they use in production."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

import skyferry
from skyferry.config import load_settings
from skyferry.services.books import workflows
from skyferry.services.books.models import BookRequest
from skyferry.services.books.providers.offline import OfflineProvider
from skyferry.services.books.resources import Books, books
from skyferry.services.books.settings import BooksSettings
from skyferry.services.books.store import BookStore
from skyferry.services.books.tables import metadata as books_tables
from skyferry.storage.blobs import open_blob_store
from skyferry.storage.sql import create_engine
from skyferry.storage.sql import metadata as core_tables
from skyferry.testing import Call, in_memory_jobs

pytestmark = pytest.mark.anyio


class Greeting(BaseModel):
    name: str


@skyferry.step
async def compose(name: str) -> str:
    return f"hello, {name}"


@skyferry.job("testing.greet", params=Greeting)
async def greet(ctx: skyferry.JobContext, params: Greeting) -> dict[str, str]:
    await ctx.progress(1, 1, "composed")
    return {"text": await compose(params.name)}


def team_app() -> FastAPI:
    app = FastAPI()
    skyferry.install(app, load_settings(log_format="text"))

    @app.post("/greetings")
    async def start(params: Greeting) -> object:
        return skyferry.accepted(await greet.submit(params, idempotency_key="k"))

    return app


async def test_a_route_submits_and_the_job_runs_when_told() -> None:
    transport = httpx.ASGITransport(app=team_app())
    with in_memory_jobs() as jobs:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await client.post("/greetings", json={"name": "Ada"})
            again = await client.post("/greetings", json={"name": "Ada"})
            assert (first.status_code, again.status_code) == (202, 200)
            job_id = first.json()["id"]
            assert first.headers["location"] == f"/jobs/{job_id}"
            assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "queued"

            finished = await jobs.run(job_id)
            shown = (await client.get(f"/jobs/{job_id}")).json()
            result = (await client.get(f"/jobs/{job_id}/result")).json()
    assert finished.status is skyferry.JobStatus.SUCCEEDED
    assert shown["progress"] == {"done": 1, "total": 1, "message": "composed"}
    assert result["result"] == {"text": "hello, Ada"}
    assert jobs.calls[:2] == [Call("submit", "testing.greet"), Call("submit", "testing.greet")]


async def test_a_service_job_runs_with_the_resources_a_test_hands_in(tmp_path: Path) -> None:
    database = create_engine(f"sqlite:///{tmp_path}/books.db")
    core_tables.create_all(database)
    books_tables.create_all(database)
    settings = BooksSettings(offline_seconds_per_chapter=0)
    fake = Books(
        settings=settings,
        store=BookStore(database, open_blob_store("memory://")),
        provider=OfflineProvider(settings),
        limit=skyferry.SharedLimit(database, "books.provider", 2),
    )
    with in_memory_jobs({books: fake}) as jobs:
        submission = await workflows.generate_book.submit(BookRequest(topic="Kites", chapters=2))
        job = await jobs.run(submission.job.id)
    assert job.status is skyferry.JobStatus.SUCCEEDED, job.error
    row = await fake.store.get(job.id)
    assert row is not None
    assert set(row.blobs) == {"json", "md", "txt", "epub"}
    assert job.progress.message == "done"
    database.dispose()


class Attempts(BaseModel):
    succeed_on: int


ATTEMPTS: list[int] = []


@skyferry.job("testing.flaky", params=Attempts)
async def flaky(ctx: skyferry.JobContext, params: Attempts) -> int:
    ATTEMPTS.append(len(ATTEMPTS) + 1)
    if len(ATTEMPTS) < params.succeed_on:
        raise RuntimeError("not yet")
    return len(ATTEMPTS)


async def test_a_failed_job_can_be_retried_as_on_the_engine() -> None:
    ATTEMPTS.clear()
    with in_memory_jobs() as jobs:
        job, _ = await flaky.submit(Attempts(succeed_on=2))
        assert (await jobs.run(job.id)).status is skyferry.JobStatus.FAILED
        retried = await jobs.retry(job.id)
        assert retried.status is skyferry.JobStatus.QUEUED
        assert retried.error is None
        assert (await jobs.run(job.id)).status is skyferry.JobStatus.SUCCEEDED
        with pytest.raises(skyferry.SkyferryError) as refused:
            await jobs.retry(job.id)
        assert refused.value.status == 409
        assert Call("retry", job.id) in jobs.calls


async def test_a_batch_submits_as_on_the_engine() -> None:
    with in_memory_jobs() as jobs:
        ada, bob = Greeting(name="Ada"), Greeting(name="Bob")
        first = await greet.submit_many([ada, bob, ada], ["a", None, "a"])
        assert [s.created for s in first] == [True, True, False]
        assert first[2].job.id == first[0].job.id
        with pytest.raises(skyferry.SkyferryError, match="Idempotency-Key"):
            await greet.submit_many([bob, bob], ["b", "a"])
        assert (await greet.submit_many([bob], ["b"]))[0].created  # the failed batch made none
        assert jobs.calls[0] == Call("submit_many", "testing.greet")
        assert (await jobs.run(first[1].job.id)).status is skyferry.JobStatus.SUCCEEDED
