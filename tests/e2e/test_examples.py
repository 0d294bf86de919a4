"""The examples run as a user runs them: the README's snippet served with ``skyferry serve
app:app`` from its folder (jobs in the same process on SQLite; separate web and worker
processes on Postgres), and the converted BackgroundTasks app surviving a ``kill -9`` of its
worker mid-story with no section lost and none written twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.polling import poll
from tests.servers import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextmanager
def serving(
    example: str, env: dict[str, str], log: Path, *, workers: bool
) -> Iterator[httpx.Client]:
    port = free_port()
    args = ["serve", "app:app", "--port", str(port)]
    web = start(args if workers else [*args, "--no-workers"], env, log, cwd=EXAMPLES / example)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url, web)
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        stop(web)


def count_to_three(client: httpx.Client) -> None:
    response = client.post("/count", json={"n": 3})
    assert response.status_code == 202
    location = response.headers["location"]
    assert location == f"/jobs/{response.json()['id']}"
    job = poll(client, response.json()["id"])
    assert job["status"] == "succeeded"
    assert job["progress"] == {"done": 3, "total": 3, "message": ""}
    assert client.get(f"{location}/result").json()["result"] == {"n": 3}
    refused = client.post("/count", json={"n": "three"})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"


def test_the_readme_snippet_runs_in_one_process_on_sqlite(tmp_path: Path) -> None:
    env = skyferry_env(tmp_path, f"sqlite:///{tmp_path}/db/app.db")
    with serving("quickstart", env, tmp_path / "serve.log", workers=True) as client:
        count_to_three(client)


@pytest.mark.postgres
def test_the_readme_snippet_runs_with_separate_workers_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    env = skyferry_env(tmp_path, postgres_url)
    with ExitStack() as stack:
        worker = start(
            ["worker", "app:app"], env, tmp_path / "worker.log", cwd=EXAMPLES / "quickstart"
        )
        stack.callback(stop, worker)
        client = stack.enter_context(
            serving("quickstart", env, tmp_path / "web.log", workers=False)
        )
        count_to_three(client)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_story_survives_its_worker_being_killed(tmp_path: Path, postgres_url: str) -> None:
    env = skyferry_env(tmp_path, postgres_url, STORY_SECONDS_PER_SECTION="0.3")
    folder = EXAMPLES / "stories"
    with ExitStack() as stack:
        first = start(["worker", "app:app"], env, tmp_path / "worker-1.log", cwd=folder)
        stack.callback(stop, first)
        client = stack.enter_context(serving("stories", env, tmp_path / "web.log", workers=False))
        response = client.post("/stories", json={"topic": "lighthouses", "sections": 10})
        assert response.status_code == 202
        story_id = response.json()["id"]
        assert response.headers["location"] == f"/stories/{story_id}"

        def written(at_least: int) -> dict[str, Any]:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                story = dict(client.get(f"/stories/{story_id}").json())
                if story["progress"]["done"] >= at_least:
                    return story
                time.sleep(0.05)
            raise TimeoutError(f"story {story_id} stalled")

        done_before_kill = written(3)["progress"]["done"]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = start(["worker", "app:app"], env, tmp_path / "worker-2.log", cwd=folder)
        stack.callback(stop, second)

        deadline = time.monotonic() + 90
        story = dict(client.get(f"/stories/{story_id}").json())
        while story["status"] != "succeeded" and time.monotonic() < deadline:
            assert story["status"] in ("queued", "running"), story
            time.sleep(0.1)
            story = dict(client.get(f"/stories/{story_id}").json())

    assert story["status"] == "succeeded"
    sections = story["sections"]
    assert [s["n"] for s in sections] == list(range(1, 11))
    # sections finished before the kill came back from their checkpoints, not written again
    assert {s["pid"] for s in sections[:done_before_kill]} == {first.pid}
    assert {s["pid"] for s in sections[-1:]} == {second.pid}
