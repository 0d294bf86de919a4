"""SIGKILL the worker while it is ranking a city's attractions: another worker finishes the
city, and no finished stage asks its provider again.

Both providers are the real ones (``google`` and ``perplexity``), pointed at fake servers in
this test process, so their call counts survive the kill; the model fake holds the ranking
request open, so the kill lands inside that stage every time.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.fakes import google_places_server as google
from tests.fakes import llm_filter_server as model
from tests.polling import poll
from tests.servers import free_port

GOOGLE_KEY = "goog-e2e-secret-4242"
MODEL_KEY = "pplx-e2e-secret-4242"


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_a_killed_worker_resumes_at_the_stage_it_was_in(postgres_url: str, tmp_path: Path) -> None:
    """On Postgres, where a tours deployment runs separate workers; resuming a job on SQLite
    after a kill is the books and worker-kill tests' ground."""
    log = tmp_path / "processes.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    with (
        google.serve_fake_google(GOOGLE_KEY) as places,
        model.serve_fake_model_api(MODEL_KEY) as models,
    ):
        models.hold()
        env = skyferry_env(
            tmp_path,
            postgres_url,
            SKYFERRY_SERVICES="tours",
            SKYFERRY_TOURS__PLACES_PROVIDER="google",
            SKYFERRY_TOURS__GOOGLE_BASE_URL=places.url,
            SKYFERRY_TOURS__GOOGLE_API_KEY=GOOGLE_KEY,
            SKYFERRY_TOURS__FILTER_PROVIDER="perplexity",
            SKYFERRY_TOURS__PERPLEXITY_BASE_URL=models.url,
            SKYFERRY_TOURS__PERPLEXITY_API_KEY=MODEL_KEY,
            SKYFERRY_TOURS__SOLVER_ITERATIONS="500",
        )
        try:
            processes.append(start(["serve", "--no-workers", "--port", str(port)], env, log))
            wait_http(url, processes[0])
            first = start(["worker"], {**env, "SKYFERRY_EXECUTOR_ID": "worker-a"}, log)
            processes.append(first)
            with httpx.Client(base_url=url, timeout=10) as client:
                body = {"place_id": google.CITY_ID, "max_tours": 3, "minutes_per_tour": 120}
                response = client.post("/api/generate-city", json=body)
                assert response.status_code == 202, response.text
                job_id = response.json()["id"]

                assert models.held.wait(60), log.read_text()[-3000:]
                progress = client.get(f"/jobs/{job_id}").json()["progress"]
                assert progress["message"] == f"ranking {google.PLACES} attractions"
                before = places.counts()
                stop(first, signal.SIGKILL)
                models.release()  # the held request now answers a dead connection
                processes.append(
                    start(["worker"], {**env, "SKYFERRY_EXECUTOR_ID": "worker-b"}, log)
                )

                job = poll(client, job_id)
                assert job["status"] == "succeeded", (job, log.read_text()[-3000:])
                result = client.get(f"/jobs/{job_id}/result").json()["result"]
                assert result == {"success": True, "city_id": job_id, "tours": 3}
                city = client.get(f"/cities/{job_id}").json()
                assert all(t["total_minutes"] <= 120 for t in city["tours"])

            # the stages before the kill came back from their checkpoints
            assert places.counts() == before == {"details": 1, "searchNearby": 4, "searchText": 6}
            assert len(models.calls) == 2  # the ranking the kill cut short, and its redo
        finally:
            for process in reversed(processes):
                stop(process)
    text = log.read_text()
    assert GOOGLE_KEY not in text
    assert MODEL_KEY not in text
