"""Browser fixtures: Debian's Chromium driven by Playwright, and the library service to point
it at, enriching from the fake Open Library.

Playwright's own browser builds are never downloaded: the tests launch ``/usr/bin/chromium``
(``make install-dev`` installs Debian's package when it is missing). Without it the tests skip
locally and fail under ``CI=true``, like the Postgres tests.

The pages load nothing from the internet. Book covers are the one thing they may fetch from
another host: every such image request is answered here with a small PNG, and any other request
that leaves the app's own address is refused and recorded, so a test can assert there was none.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.fakes.open_library_server import FakeOpenLibrary, open_library_server
from tests.servers import free_port

CHROMIUM = os.environ.get("SKYFERRY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
ARTIFACTS = Path(__file__).parent / "artifacts"
FIXTURES = Path(__file__).parent / "fixtures"
# a 1x1 PNG: what every cover request from the pages gets
COVER_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


# Module-scoped, never session-scoped: while Playwright's sync API is started it leaves its
# event loop marked as running on this thread, and every later asyncio.run() in the same
# worker would fail with "cannot be called from a running event loop".
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is missing: `make install-dev` installs Debian's chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def open_library() -> Iterator[FakeOpenLibrary]:
    """The fake Open Library the service enriches from, so books get covers and genres; its
    limits raised, as this test is about the pages, not the rate limits."""
    with open_library_server(rate_per_second=100.0, identified_rate_per_second=100.0) as fake:
        yield fake


@contextmanager
def serve_library(folder: Path, *, api_key: str | None, open_library: str | None) -> Iterator[str]:
    """The library service under ``skyferry serve`` (SQLite), as a browser reaches it: enriched
    from ``open_library`` when given, else by the offline provider (no covers)."""
    settings = {"SKYFERRY_SERVICES": "library"}
    if api_key:
        settings["SKYFERRY_API_KEYS"] = api_key
    if open_library:
        settings |= {
            "SKYFERRY_LIBRARY__PROVIDERS": '["open_library"]',
            "SKYFERRY_LIBRARY__OPEN_LIBRARY_BASE_URL": open_library,
            "SKYFERRY_LIBRARY__OPEN_LIBRARY_REQUESTS_PER_SECOND": "50",
        }
    env = skyferry_env(folder, f"sqlite:///{folder}/skyferry.db", **settings)
    port = free_port()
    process = start(["serve", "--port", str(port)], env, folder / "serve.log", cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, process)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def shared_library_url(
    tmp_path_factory: pytest.TempPathFactory, open_library: FakeOpenLibrary
) -> Iterator[str]:
    """One app without API keys for the module's tests (each upload is a library of its own;
    starting ``skyferry serve`` takes a few seconds)."""
    folder = tmp_path_factory.mktemp("library")
    with serve_library(folder, api_key=None, open_library=open_library.url) as url:
        yield url


@pytest.fixture
def library_api_key() -> str | None:
    """The X-API-Key the app asks for; none by default (parametrize a test to set one)."""
    return None


@pytest.fixture
def library_url(
    request: pytest.FixtureRequest, tmp_path: Path, library_api_key: str | None
) -> Iterator[str]:
    """The shared app, or with ``library_api_key`` an app of the test's own that asks for it."""
    if library_api_key is None:
        yield request.getfixturevalue("shared_library_url")
        return
    with serve_library(tmp_path, api_key=library_api_key, open_library=None) as url:
        yield url


@dataclass
class PageRecord:
    """What a page did that a test may want to hold against it."""

    errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    local_requests: list[str] = field(default_factory=list)
    covers_served: list[str] = field(default_factory=list)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # reduced motion: Chart.js draws at once, so screenshots show finished charts
    made = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", reduced_motion="reduce"
    )
    yield made
    made.close()


@pytest.fixture
def record(context: BrowserContext) -> PageRecord:
    """Covers answered here, anything else off this machine refused; errors recorded."""
    seen = PageRecord()

    def off_site(route: Route) -> None:
        request = route.request
        if urlsplit(request.url).hostname in LOCAL_HOSTS:
            seen.local_requests.append(request.url)
            route.fallback()
        elif request.resource_type == "image":
            seen.covers_served.append(request.url)
            route.fulfill(status=200, content_type="image/png", body=COVER_PNG)
        else:
            seen.foreign_requests.append(request.url)
            route.abort()

    context.route("**/*", off_site)
    context.on("weberror", lambda error: seen.errors.append(str(error.error)))
    context.on(
        "console",
        lambda message: seen.errors.append(message.text) if message.type == "error" else None,
    )
    return seen


@pytest.fixture
def page(context: BrowserContext, record: PageRecord) -> Page:
    return context.new_page()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where a test's screenshots go: tests/browser/artifacts/<test name>/ (git ignores it)."""
    name: str = request.node.name
    folder = ARTIFACTS / name.replace("[", "-").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def goodreads_export() -> Path:
    """A Goodreads export of 30 books (the 31-column header), read 2021-2025, with the
    export's quirks: ISBNs as ="…", 0 for unrated, a reread, books without ISBN or pages."""
    return FIXTURES / "goodreads_library_export.csv"
