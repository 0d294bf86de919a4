"""Each service's HTTP flow through `skyferry lambda serve`: every request arrives at the Lambda
handler as the event API Gateway (REST API on stage ``dev``, HTTP API) or an ALB sends, and
jobs run on a `skyferry worker` beside it, as a worker function would run them.

One flow per service (books submit → poll → download; a streamed dataset download; a library
export upload, base64 in the event; a tours generation), on one database the processes share.
tests/e2e/test_lambda_serve.py covers the inventory's flows.
"""

from __future__ import annotations

import csv
import io
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.polling import poll
from tests.servers import free_port

# one xdist worker runs the module, so its module-scoped servers start once, not once per worker
pytestmark = pytest.mark.xdist_group("lambda-services")

FORMATS = {"rest": "dev", "http": None, "alb": None}  # event format → stage
EXPORT = Path(__file__).parents[1] / "fixtures" / "library" / "goodreads_2026.csv"
DEMO_ROWS = 2_000
PARIS = "ChIJD7fiBh9u5kcRYJSMaMOCCwQ"


@pytest.fixture(scope="module")
def lambda_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A `lambda serve` per event format and one worker, all services, one SQLite database."""
    tmp = tmp_path_factory.mktemp("lambda-services")
    env = skyferry_env(
        tmp,
        f"sqlite:///{tmp}/app.db",
        SKYFERRY_SERVICES="books,datasets,library,tours",
        SKYFERRY_NOTIFICATION_POLLING_SECONDS="0.05",
        SKYFERRY_BOOKS__OFFLINE_SECONDS_PER_CHAPTER="0.02",
        SKYFERRY_TOURS__SOLVER_ITERATIONS="500",
    )
    subprocess.run(
        [SKYFERRY, "datasets", "demo", "--rows", str(DEMO_ROWS)],
        env=env,
        cwd=tmp,
        check=True,
        capture_output=True,
        timeout=120,
    )
    processes = [start(["worker"], env, tmp / "worker.log", cwd=tmp)]
    urls: dict[str, str] = {}
    try:
        servers = []  # all started, then each waited for: they start side by side
        for event_format, stage in FORMATS.items():
            port = free_port()
            args = ["lambda", "serve", "--event-format", event_format, "--port", str(port)]
            args += ["--stage", stage] if stage else []
            server = start(args, env, tmp / f"serve-{event_format}.log", cwd=tmp)
            processes.append(server)
            urls[event_format] = f"http://127.0.0.1:{port}" + (f"/{stage}" if stage else "")
            servers.append((urls[event_format], server))
        for url, server in servers:
            wait_http(url, server)
        yield urls
    finally:
        for process in processes:  # all stop at once, then each is waited for
            process.send_signal(signal.SIGTERM)
        for process in processes:
            stop(process)
    for log in tmp.glob("*.log"):
        assert "Traceback" not in log.read_text(), log.name


def client(lambda_urls: dict[str, str], event_format: str) -> httpx.Client:
    return httpx.Client(base_url=lambda_urls[event_format], timeout=30)


def prefix(event_format: str) -> str:
    stage = FORMATS[event_format]
    return f"/{stage}" if stage else ""


@pytest.mark.parametrize("event_format", list(FORMATS))
def test_a_book_is_written_and_downloaded(lambda_urls: dict[str, str], event_format: str) -> None:
    with client(lambda_urls, event_format) as api:
        response = api.post("/books", json={"topic": "Tide pools", "chapters": 2})
        assert response.status_code == 202, response.text
        book_id = response.json()["id"]
        assert response.headers["location"] == f"{prefix(event_format)}/books/{book_id}"
        assert poll(api, book_id)["status"] == "succeeded"
        book = api.get(f"/books/{book_id}").json()
        markdown = api.get(book["links"]["download_md"].removeprefix(prefix(event_format)))
        assert markdown.status_code == 200
        assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
        assert markdown.text.startswith(f"# {book['book']['title']}\n")
        epub = api.get(f"/books/{book_id}/download", params={"format": "epub"})
        assert epub.headers["content-type"] == "application/epub+zip"
        assert epub.content.startswith(b"PK")  # a binary answer, base64 in the event


def test_a_dataset_download_streams_whole_within_the_payload_limit(
    lambda_urls: dict[str, str],
) -> None:
    with client(lambda_urls, "http") as api:
        catalog = api.get("/datasets").json()
        csv_path = catalog["items"][0]["downloads"]["csv"]
        download = api.get(csv_path)
        assert download.status_code == 200, download.text
        assert download.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(download.text)))
        assert len(rows) == DEMO_ROWS + 1  # the header row and every record
        assert len(download.content) < 6 * 1024 * 1024


@pytest.mark.parametrize("event_format", list(FORMATS))
def test_a_library_export_is_uploaded_and_read(
    lambda_urls: dict[str, str], event_format: str
) -> None:
    with client(lambda_urls, event_format) as api:
        files = {"csv": ("goodreads.csv", EXPORT.read_bytes(), "text/csv")}
        response = api.post("/upload", files=files)
        assert response.status_code == 200, response.text  # the original contract's answer
        upload_id = response.json()["uuid"]
        assert response.headers["location"] == f"{prefix(event_format)}/jobs/{upload_id}"
        assert poll(api, upload_id)["status"] == "succeeded"
        status = api.get(f"/status/{upload_id}").json()
        assert status["status"] == "complete", status
        assert status["file_size"] == len(EXPORT.read_bytes())  # the body came through whole
        data = api.get(f"/data/{upload_id}").json()
        assert data["export_id"] == upload_id
        assert data["summary"]["total_books"] > 0


def test_a_city_is_generated(lambda_urls: dict[str, str]) -> None:
    with client(lambda_urls, "rest") as api:
        response = api.post(
            "/api/generate-city", json={"place_id": PARIS, "max_tours": 2, "minutes_per_tour": 90}
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        assert response.headers["location"] == f"/dev/jobs/{job_id}"
        assert poll(api, job_id)["status"] == "succeeded"
        city = api.get(f"/cities/{job_id}").json()
        assert (city["name"], city["tour_count"]) == ("Paris", 2)
        gpx = api.get(f"/cities/{job_id}/tours/1.gpx")
        assert gpx.headers["content-type"].startswith("application/gpx+xml")
