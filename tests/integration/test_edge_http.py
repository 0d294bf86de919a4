"""What every answer does to its connection, over real HTTP: one http.client connection, as a
client with keep-alive reuses it."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI

import skyferry
from skyferry.config import load_settings
from tests.servers import serve_in_thread


def test_after_a_500_the_same_connection_answers_the_next_request(tmp_path: Path) -> None:
    app = FastAPI()
    skyferry.install(
        app, load_settings(database_url=f"sqlite:///{tmp_path}/app.db", log_format="text")
    )

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug in a route")

    @app.get("/fine")
    async def fine() -> dict[str, str]:
        return {"status": "fine"}

    with serve_in_thread(app) as url:
        connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
        try:
            connection.request("GET", "/boom")
            failed = connection.getresponse()
            problem = json.loads(failed.read())
            connection.request("GET", "/fine")  # the same socket, if the server kept it
            after = connection.getresponse()
            body = json.loads(after.read())
        finally:
            connection.close()
    assert failed.status == 500
    assert failed.getheader("content-type") == "application/problem+json"
    assert problem["title"] == "Internal Server Error"
    assert "bug" not in json.dumps(problem)  # the trace stays in the log
    assert after.status == 200
    assert body == {"status": "fine"}
