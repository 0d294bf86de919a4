"""The library's pages in a real browser: upload an export, watch its progress, read the
dashboard's charts, and use the pages at phone width under a path prefix."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageRecord
from tests.browser.prefix_proxy import prefix_proxy

# one xdist worker runs the module, so its module-scoped servers start once, not once per worker
pytestmark = pytest.mark.xdist_group("browser")

DASHBOARD_URL = re.compile(r".*/library/dashboard/[^/]+$")
API_KEY = "library-pages-test-key"

# installed before any page script runs: every value the progress bar shows, in order, kept in
# sessionStorage so it outlives the navigation to the dashboard
RECORD_PROGRESS = """
(() => {
  const seen = () => JSON.parse(sessionStorage.getItem("progress-seen") || "[]");
  const note = (bar) => {
    const values = seen();
    values.push(Number(bar.getAttribute("aria-valuenow")));
    sessionStorage.setItem("progress-seen", JSON.stringify(values));
  };
  document.addEventListener("DOMContentLoaded", () => {
    const bar = document.querySelector("[role=progressbar]");
    if (!bar) return;
    new MutationObserver(() => note(bar)).observe(bar, {attributes: true,
      attributeFilter: ["aria-valuenow"]});
  });
})();
"""

CHART_DATA = """
() => Object.fromEntries(Object.entries(window.dashboardCharts).map(([name, chart]) => [
  name,
  {labels: chart.data.labels, datasets: chart.data.datasets.map((d) => ({label: d.label,
   data: d.data}))},
]))
"""

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def expected_charts(data: dict[str, Any]) -> dict[str, Any]:
    """The charts' numbers, worked out here from GET /data/{uuid} independently of the page."""
    books = data["books"]
    per_year: Counter[int] = Counter()
    pages: Counter[int] = Counter()
    for book in books:
        if book["reading_status"] == "read" and book["reading_year"]:
            per_year[book["reading_year"]] += 1
            pages[book["reading_year"]] += book["num_pages"] or 0
    years = sorted(per_year)
    mine = [sum(1 for b in books if b["my_rating"] == star) for star in range(1, 6)]
    # the nearest star, halves up (Python's round() would take 4.5 to 4)
    averages = [
        min(5, max(1, int(b["average_rating"] + 0.5))) for b in books if b["average_rating"]
    ]
    top = data["summary"]["most_common_genres"][:10]
    return {
        "booksPerYear": [[str(y) for y in years], [[per_year[y] for y in years]]],
        "pagesPerYear": [[str(y) for y in years], [[pages[y] for y in years]]],
        "ratings": [
            [f"{star} ★" for star in range(1, 6)],
            [mine, [averages.count(star) for star in range(1, 6)]],
        ],
        "genres": [[g["genre"] for g in top], [[g["count"] for g in top]]],
    }


def drop_file(page: Page, selector: str, file: Path) -> None:
    """Drop ``file`` on an element, as dragging it from the desktop does."""
    transfer = page.evaluate_handle(
        """([name, text]) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([text], name, {type: "text/csv"}));
          return transfer;
        }""",
        [file.name, file.read_text(encoding="utf-8")],
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_an_upload_ends_on_a_dashboard_whose_charts_match_the_data(
    page: Page, library_url: str, goodreads_export: Path, record: PageRecord, artifacts: Path
) -> None:
    page.add_init_script(RECORD_PROGRESS)
    page.goto(f"{library_url}/library")
    page.screenshot(path=artifacts / "upload.png")
    page.set_input_files("#csv-input", goodreads_export)
    expect(page.locator("#file-name")).to_have_text(goodreads_export.name)
    page.screenshot(path=artifacts / "progress.png")
    page.wait_for_url(DASHBOARD_URL, timeout=30_000)
    expect(page.locator("body")).to_have_attribute("data-state", "ready", timeout=15_000)
    uuid = urlsplit(page.url).path.rsplit("/", 1)[1]

    progress = page.evaluate("() => JSON.parse(sessionStorage.getItem('progress-seen'))")
    assert progress[-1] == 100
    assert progress == sorted(progress), f"the bar went backwards: {progress}"

    data = httpx.get(f"{library_url}/data/{uuid}").raise_for_status().json()
    charts = page.evaluate(CHART_DATA)
    shown = {
        name: [chart["labels"], [d["data"] for d in chart["datasets"]]]
        for name, chart in charts.items()
    }
    assert shown == expected_charts(data)
    assert shown["booksPerYear"][0] == [str(y) for y in data["summary"]["reading_years"]]

    summary = data["summary"]
    stat = page.locator("[data-stat=total-books] dd")
    expect(stat).to_have_text(f"{summary['total_books']:,}")
    expect(page.locator("[data-stat=total-pages] dd")).to_have_text(f"{summary['total_pages']:,}")
    expect(page.locator("[data-stat=unique-authors] dd")).to_have_text(
        str(summary["unique_authors"])
    )

    books = data["books"]
    expect(page.locator("#books > li")).to_have_count(len(books))
    page.fill("#filter-text", "orwell")
    orwell = [b for b in books if "orwell" in f"{b['title']} {b['author']}".lower()]
    expect(page.locator("#books > li:visible")).to_have_count(len(orwell))
    page.fill("#filter-text", "")
    year = max(y for y in (b["reading_year"] for b in books) if y)
    page.select_option("#filter-year", str(year))
    in_year = [b for b in books if b["reading_year"] == year]
    expect(page.locator("#books > li:visible")).to_have_count(len(in_year))
    page.select_option("#filter-year", "")
    page.select_option("#filter-rating", "5")
    five = [b for b in books if b["my_rating"] == 5]
    expect(page.locator("#books > li:visible")).to_have_count(len(five))
    page.select_option("#filter-rating", "")

    without_cover = sum(1 for b in books if not (b["thumbnail_url"] or b["small_thumbnail_url"]))
    expect(page.locator("#books .cover.placeholder")).to_have_count(without_cover)
    expect(page.locator("#books img[loading=lazy]")).to_have_count(len(books) - without_cover)
    assert record.covers_served, "no cover was loaded"

    page.screenshot(path=artifacts / "dashboard.png", full_page=True)
    print(f"screenshots in {artifacts}")
    assert record.errors == []
    assert record.foreign_requests == []


def test_under_a_path_prefix_at_phone_width(
    page: Page, library_url: str, goodreads_export: Path, record: PageRecord, artifacts: Path
) -> None:
    """Behind a proxy that strips /books-app, the pages work, every request they make goes
    through the proxy, and neither page scrolls sideways on a 375 px screen; the export is
    dropped on the page this time."""
    page.set_viewport_size({"width": 375, "height": 812})
    with prefix_proxy(library_url, "/books-app") as base:
        page.goto(f"{base}/library")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        page.screenshot(path=artifacts / "upload-375.png", full_page=True)

        drop_file(page, "#drop-zone", goodreads_export)
        page.wait_for_url(
            re.compile(re.escape(base) + r"/library/dashboard/[^/]+$"), timeout=30_000
        )
        expect(page.locator("body")).to_have_attribute("data-state", "ready", timeout=15_000)
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        page.screenshot(path=artifacts / "dashboard-375.png", full_page=True)

    assert record.errors == []
    assert record.foreign_requests == []
    assert [url for url in record.local_requests if not url.startswith(base)] == []


def test_a_file_that_is_not_an_export_is_refused_with_the_apis_reason(
    page: Page, library_url: str, tmp_path: Path, record: PageRecord, artifacts: Path
) -> None:
    not_export = tmp_path / "shopping.csv"
    not_export.write_text("item,quantity\nmilk,2\n")
    answer = httpx.post(
        f"{library_url}/upload", files={"csv": (not_export.name, not_export.read_bytes())}
    )
    assert answer.status_code == 400
    reason = answer.json()["detail"]

    page.goto(f"{library_url}/library")
    page.set_input_files("#csv-input", not_export)
    expect(page.locator("#error")).to_have_text(reason)
    expect(page.locator("#progress-panel")).to_be_hidden()
    page.screenshot(path=artifacts / "refused.png")
    # the browser logs the 400 itself; nothing else may go wrong
    assert [e for e in record.errors if "400" not in e] == []


@pytest.mark.parametrize("library_api_key", [API_KEY], ids=["api-key"])
def test_with_api_keys_the_pages_send_the_key_a_person_enters(
    page: Page, library_url: str, goodreads_export: Path, record: PageRecord, artifacts: Path
) -> None:
    """The pages open without a key (a browser cannot send one to open a page); their calls to
    the API carry the key entered on the page, kept in localStorage."""
    opened = page.goto(f"{library_url}/library")
    assert opened is not None
    assert opened.status == 200
    page.set_input_files("#csv-input", goodreads_export)
    expect(page.locator("#error")).to_contain_text("X-API-Key")
    expect(page.locator("#api-key-panel")).to_have_attribute("open", "")
    page.screenshot(path=artifacts / "key-needed.png")

    page.fill("#api-key", API_KEY)
    page.click("#api-key-form button")
    page.set_input_files("#csv-input", goodreads_export)
    page.wait_for_url(DASHBOARD_URL, timeout=30_000)
    expect(page.locator("body")).to_have_attribute("data-state", "ready", timeout=15_000)
    expect(page.locator("#books > li")).not_to_have_count(0)
    uuid = urlsplit(page.url).path.rsplit("/", 1)[1]
    # the page is open; the data it shows is not
    assert httpx.get(f"{library_url}/data/{uuid}").status_code == 401
    key = {"X-API-Key": API_KEY}
    assert httpx.get(f"{library_url}/data/{uuid}", headers=key).status_code == 200
    # the browser logs the refused upload itself; nothing else may go wrong
    assert [e for e in record.errors if "401" not in e] == []


def odd_book(**fields: Any) -> dict[str, Any]:
    """A book of the dashboard JSON with nothing known but its title and author."""
    book: dict[str, Any] = {
        "title": "Untitled",
        "author": "Anonymous",
        "date_read": None,
        "reading_year": None,
        "my_rating": None,
        "average_rating": None,
        "is_rated": False,
        "num_pages": None,
        "reading_status": "to-read",
        "genres": [],
        "thumbnail_url": None,
        "small_thumbnail_url": None,
    }
    return book | fields


def test_a_dashboard_of_sparse_data_shows_text_as_text_and_empty_charts(
    page: Page, library_url: str, record: PageRecord
) -> None:
    """Nothing read, rated or enriched, and markup in a title: the page still draws, and the
    markup stays text (titles come from a file anyone can write)."""
    hostile = '<img src=x id="injected"> & <b>bold</b>'
    data = {
        "books": [odd_book(title=hostile), odd_book(author="")],
        "summary": {"total_books": 2, "most_common_genres": []},
        "metadata": {},
    }
    page.route("**/data/sparse", lambda route: route.fulfill(json=data))
    page.goto(f"{library_url}/library/dashboard/sparse")
    expect(page.locator("body")).to_have_attribute("data-state", "ready")

    charts = page.evaluate(CHART_DATA)
    assert charts["booksPerYear"]["labels"] == []
    assert charts["genres"]["labels"] == []
    assert [d["data"] for d in charts["ratings"]["datasets"]] == [[0] * 5, [0] * 5]
    expect(page.locator("#recent")).to_have_text("No books with a date read yet.")
    expect(page.locator("#books .book-title").first).to_have_text(hostile)
    expect(page.locator("#injected")).to_have_count(0)
    expect(page.locator("#books .cover.placeholder")).to_have_count(2)
    assert record.errors == []


def test_a_dashboard_of_an_unknown_upload_says_so(
    page: Page, library_url: str, record: PageRecord
) -> None:
    page.goto(f"{library_url}/library/dashboard/no-such-upload")
    expect(page.locator("body")).to_have_attribute("data-state", "error")
    expect(page.locator("#error")).to_contain_text("no library with this id")
    # the browser logs the 404 itself; nothing else may go wrong
    assert [e for e in record.errors if "404" not in e] == []
