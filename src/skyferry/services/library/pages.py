"""The library's web pages: an upload page with live progress, and the reading dashboard.

Both pages are fixed HTML files; their scripts read ``/status/{uuid}`` and ``/data/{uuid}``
like any other client of the API, so the pages show exactly what the API answers.

Every URL in the pages is relative (``upload``, ``../../data/…``, ``../static/…``): the
browser resolves them against the page's own address, so they keep working when the app is
mounted under a prefix, whether a proxy strips it (with or without telling the app through
``root_path``) or the app is mounted inside another ASGI app. The pages load nothing from another
origin but book covers; the Content-Security-Policy below makes the browser hold them to that.

The pages are not part of the API, so they stay out of the OpenAPI document.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

_HERE = FilePath(__file__).parent
STATIC_DIR = _HERE / "static"
TEMPLATES_DIR = _HERE / "templates"

# covers come from the book APIs (Google Books, Open Library) over https, and some of Google's
# thumbnail links are still plain http; everything else must come from this server
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' https: http: data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # a dashboard's address names its upload: never send it to the hosts serving the covers
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # the pages are tiny; a stale copy after an upgrade would run old scripts against a new API
    "Cache-Control": "no-cache",
}

UploadId = Annotated[str, Path(max_length=100, description="The uuid POST /upload answered.")]

router = APIRouter(tags=["library"], include_in_schema=False)


@cache
def _html(name: str) -> str:
    """A page's HTML, read once per process (a few KiB each)."""
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8")


def _page(name: str) -> HTMLResponse:
    return HTMLResponse(_html(name), headers=_PAGE_HEADERS)


@router.get("/library", response_class=HTMLResponse)
async def upload_page() -> HTMLResponse:
    """Choose or drop a Goodreads or StoryGraph export; shows progress, then the dashboard."""
    return _page("upload.html")


@router.get("/library/dashboard/{uuid}", response_class=HTMLResponse)
async def dashboard_page(uuid: UploadId) -> HTMLResponse:
    """The dashboard of one upload; its script takes the uuid from the page's address."""
    return _page("dashboard.html")


# StaticFiles resolves each path inside its directory and answers 404 for anything outside it
# (``..``, absolute paths, symlinks out), with ETag and Last-Modified for conditional requests
router.mount("/library/static", StaticFiles(directory=STATIC_DIR), name="library-static")
