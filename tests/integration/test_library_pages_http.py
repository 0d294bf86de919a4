"""The library's pages over HTTP: what they are served with, what they load, and that the
static route never leaves its folder."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from skyferry.http.problems import install_problem_handlers
from skyferry.services.library import pages
from tests.servers import serve_in_thread

PAGES = ["/library", "/library/dashboard/0b6b3c1e-6f0e-4c55-9d35-1f7f4b8a2c11"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The pages router on an app with skyferry's error handlers, as the service mounts it."""
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(pages.router)
    with serve_in_thread(app) as url:
        yield url


@pytest.mark.parametrize("path", PAGES)
def test_a_page_loads_only_its_own_files_by_relative_urls(base_url: str, path: str) -> None:
    answer = httpx.get(base_url + path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert answer.headers["referrer-policy"] == "no-referrer"
    linked = re.findall(r'(?:src|href)="([^"]*)"', answer.text)
    assert linked
    for url in linked:
        # relative, so a path prefix in front of the app holds; no other host, so no CDN
        assert not url.startswith("/"), url
        assert "//" not in url, url
        if url.startswith("data:"):
            continue
        target = urlsplit(str(httpx.URL(base_url + path).join(url))).path
        assert httpx.get(base_url + target).status_code == 200, target


def test_the_vendored_chart_library_is_served_with_its_licence(base_url: str) -> None:
    script = httpx.get(f"{base_url}/library/static/vendor/chart.umd.min.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "Chart.js v4.6.1" in script.text[:200]
    etag = script.headers["etag"]
    again = httpx.get(
        f"{base_url}/library/static/vendor/chart.umd.min.js", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    licence = httpx.get(f"{base_url}/library/static/vendor/chart.js.LICENSE.md")
    assert "MIT License" in licence.text


@pytest.mark.parametrize(
    "path",
    [
        "/library/static/../pages.py",
        "/library/static/%2e%2e/pages.py",
        "/library/static/..%2fpages.py",
        "/library/static/vendor/../../templates/upload.html",
        "/library/static//etc/passwd",
        "/library/static/%2fetc%2fpasswd",
    ],
)
def test_static_files_never_leave_their_folder(base_url: str, path: str) -> None:
    # http.client sends the path exactly as written, where httpx would resolve the dots
    netloc = urlsplit(base_url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status == 404, body
    assert b"import" not in body
    assert b"root:" not in body


def test_a_dashboard_address_too_long_to_be_an_upload_is_refused(base_url: str) -> None:
    answer = httpx.get(f"{base_url}/library/dashboard/{'x' * 101}")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
