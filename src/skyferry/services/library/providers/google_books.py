"""Google Books: ``volumes?q=isbn:…`` with a key, within 100 requests per 100 s and a daily quota.

Without a key Google answers 429 to everything, so the source is skipped and the status says
so. Each request waits for a turn of the shared ``google_books`` rate and takes one unit of the
shared daily quota (``quota.DailyQuota``) first; when the quota is used up — ours, or Google's
``quotaExceeded``/``dailyLimitExceeded`` — or the key is refused, the source stops being asked
for the rest of the job instead of failing every book. ``rateLimitExceeded`` (403 or 429) is
waited out. Documented at https://developers.google.com/books/docs/v1/using and
https://developers.google.com/books/docs/v1/reference/volumes/list.
"""

from __future__ import annotations

import re

import httpx

import skyferry
from skyferry.services.library.errors import ProviderError
from skyferry.services.library.exports import ExportBook
from skyferry.services.library.providers import NOT_FOUND, Facts, cover_url
from skyferry.services.library.providers.http import Verdict, get_json
from skyferry.services.library.quota import DailyQuota
from skyferry.services.library.settings import LibrarySettings

_YEAR = re.compile(r"^(\d{4})")
_QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"}
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "userRateLimitExceededUnreg"}
_KEY_REASONS = {"keyInvalid", "keyExpired", "accessNotConfigured", "forbidden", "ipRefererBlocked"}


class GoogleBooksSource:
    name = "google_books"

    def __init__(
        self,
        client: httpx.AsyncClient,
        rate: skyferry.SharedRate,
        quota: DailyQuota,
        settings: LibrarySettings,
    ) -> None:
        self.client = client
        self.settings = settings
        self.turns = _Turns(rate, quota)
        key = settings.google_books_api_key
        self.key = key.get_secret_value() if key else None

    def available(self) -> str | None:
        if not self.key:
            return "no API key (SKYFERRY_LIBRARY__GOOGLE_BOOKS_API_KEY); Google answers 429"
        return None

    async def lookup(self, book: ExportBook) -> Facts:
        if book.isbn13:
            query = f"isbn:{book.isbn13}"
        else:
            query = f'intitle:"{_quoted(book.lookup_title)}" inauthor:"{_quoted(book.author)}"'
        body = await get_json(
            self.client,
            f"{self.settings.google_books_base_url}/volumes",
            params={"q": query, "key": self.key or "", "maxResults": "1", "printType": "books"},
            turns=self.turns,
            settings=self.settings,
            provider=self.name,
            classify=_classify,
        )
        if body is None:
            return NOT_FOUND
        if not isinstance(body, dict):
            raise ProviderError("google_books: the answer was not a volumes list")
        items = body.get("items") or []
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            return NOT_FOUND
        info = items[0].get("volumeInfo")
        if not isinstance(info, dict):
            raise ProviderError("google_books: a volume without volumeInfo")
        images = info.get("imageLinks")
        images = images if isinstance(images, dict) else {}
        year = _YEAR.match(str(info.get("publishedDate") or ""))
        rating = info.get("averageRating")
        pages = info.get("pageCount")
        return Facts(
            found=True,
            genres=[c for c in info.get("categories") or [] if isinstance(c, str)][:20],
            thumbnail_url=cover_url(images.get("thumbnail")),
            small_thumbnail_url=cover_url(images.get("smallThumbnail")),
            num_pages=pages if isinstance(pages, int) and 0 < pages < 100_000 else None,
            publication_year=int(year.group(1)) if year else None,
            average_rating=float(rating) if isinstance(rating, int | float) else None,
            publisher=info.get("publisher") if isinstance(info.get("publisher"), str) else None,
        )


class _Turns:
    """A turn of the rate, then a unit of the day's quota: both limits for every request."""

    def __init__(self, rate: skyferry.SharedRate, quota: DailyQuota) -> None:
        self.rate = rate
        self.quota = quota

    async def wait(self) -> None:
        await self.rate.wait()
        await self.quota.take()


def _classify(response: httpx.Response) -> Verdict | None:
    try:
        errors = response.json()["error"].get("errors") or []
        reasons = {e.get("reason") for e in errors if isinstance(e, dict)}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if reasons & _QUOTA_REASONS or reasons & _KEY_REASONS:
        return "unavailable"
    if reasons & _RATE_REASONS:
        return "retry"
    return None


def _quoted(text: str) -> str:
    return text.replace('"', " ")[:200]
