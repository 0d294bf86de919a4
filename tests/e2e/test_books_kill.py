"""SIGKILL the worker while it is writing chapter 3: another worker finishes the book, and no
chapter (nor the outline) is requested from the provider twice, except the one in flight.

The provider is the ``openai`` one, pointed at a fake server in this test process, so the call
count survives the kill; the fake holds chapter 3's request open, so the kill lands inside the
provider call every time.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.fakes.openai_server import serve_fake_openai
from tests.servers import free_port

KEY = "sk-e2e-secret-4242"
CHAPTERS = 5
KILLED_AT = 3


def wait_final(client: httpx.Client, book_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    book: dict[str, Any] = {}
    while time.monotonic() < deadline:
        book = dict(client.get(f"/books/{book_id}").json())
        if book["status"] in ("succeeded", "failed", "cancelled"):
            return book
        time.sleep(0.1)
    raise TimeoutError(f"book {book_id} not finished: {book}")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_killed_worker_resumes_at_the_chapter_it_was_writing(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "processes.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    with serve_fake_openai(api_key=KEY) as fake:
        fake.hold(lambda call: call.chapter == KILLED_AT)
        env = skyferry_env(
            tmp_path,
            database_url,
            SKYFERRY_SERVICES="books",
            SKYFERRY_BOOKS__PROVIDER="openai",
            SKYFERRY_BOOKS__OPENAI_BASE_URL=fake.url,
            SKYFERRY_BOOKS__OPENAI_MODEL="gpt-test",
            SKYFERRY_BOOKS__OPENAI_API_KEY=KEY,
            SKYFERRY_BOOKS__PROVIDER_LEASE_SECONDS="3",
        )
        try:
            processes.append(start(["serve", "--no-workers", "--port", str(port)], env, log))
            wait_http(url, processes[0])
            first = start(["worker"], {**env, "SKYFERRY_EXECUTOR_ID": "worker-a"}, log)
            processes.append(first)
            with httpx.Client(base_url=url, timeout=10) as client:
                body = {"topic": "Tide pools", "chapters": CHAPTERS, "words_per_chapter": 100}
                response = client.post("/books", json=body)
                assert response.status_code == 202, response.text
                book_id = response.json()["id"]

                assert fake.wait_held(60), log.read_text()[-3000:]
                progress = client.get(f"/books/{book_id}").json()["progress"]
                assert progress["phase"] == f"chapter {KILLED_AT} of {CHAPTERS}"
                stop(first, signal.SIGKILL)
                fake.release()  # the held request now answers a dead connection
                # a new dyno, with a new executor id: it must notice the silent one and take over
                processes.append(
                    start(["worker"], {**env, "SKYFERRY_EXECUTOR_ID": "worker-b"}, log)
                )

                book = wait_final(client, book_id)
                assert book["status"] == "succeeded", (book, log.read_text()[-3000:])
                assert [c["number"] for c in book["book"]["chapters"]] == list(
                    range(1, CHAPTERS + 1)
                )
                assert book["book"]["provider"] == "openai"
                epub = client.get(f"/books/{book_id}/download", params={"format": "epub"})
                assert epub.status_code == 200

            calls = fake.chapter_calls()
            expected: dict[int | None, int] = {None: 1, **dict.fromkeys(range(1, CHAPTERS + 1), 1)}
            expected[KILLED_AT] = 2  # the call the kill cut short, and its one retry
            assert calls == expected
        finally:
            for process in reversed(processes):
                stop(process)
    assert KEY not in log.read_text()
