"""Library settings (``SKYFERRY_LIBRARY__<FIELD>``).

The limits default to what the providers publish: Open Library asks for at most 1 request a
second, or 3 from a client that identifies itself with a User-Agent naming an app and a contact;
Google Books allows 100 requests per 100 seconds per user and a daily quota per project (1,000
on a new project). They hold across every worker: each is a ``skyferry.SharedRate``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

ProviderName = Literal["offline", "open_library", "google_books"]
GoogleUse = Literal["fallback", "always"]


def _offline_only() -> list[ProviderName]:
    return ["offline"]


class LibrarySettings(BaseModel):
    providers: list[ProviderName] = Field(
        default_factory=_offline_only,
        description=(
            "Enrichment sources, in order: offline (no network), open_library, google_books. "
            'From the environment as JSON, e.g. ["open_library","google_books"].'
        ),
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0, le=1024 * 1024 * 1024)
    max_books: int = Field(default=50_000, ge=1, le=1_000_000)
    upload_prefix: str = Field(
        default="library/uploads/",
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$",
        description="On Lambda: an export created under this blob-store prefix (an S3 "
        "ObjectCreated notification) is imported like an upload.",
    )

    open_library_base_url: str = "https://openlibrary.org"
    open_library_user_agent: str | None = Field(
        default=None,
        max_length=300,
        description='Identifies you to Open Library ("AppName/1.0 (you@example.com)"): 3 req/s.',
    )
    open_library_requests_per_second: float | None = Field(
        default=None, gt=0, le=100, description="Unset: 3 with a User-Agent, else 1."
    )
    open_library_batch_size: int = Field(
        default=50, ge=1, le=200, description="ISBNs asked for in one /api/books request."
    )

    google_books_base_url: str = "https://www.googleapis.com/books/v1"
    google_books_api_key: SecretStr | None = Field(
        default=None, description="Without a key Google answers 429, so the provider is skipped."
    )
    google_books_requests: int = Field(default=100, ge=1, le=100_000)
    google_books_period_seconds: float = Field(default=100.0, gt=0, le=86_400)
    google_books_daily_quota: int = Field(default=1000, ge=0, le=10_000_000)
    google_books_use: GoogleUse = Field(
        default="fallback",
        description="fallback: only for books the sources before it left without genres.",
    )

    request_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=30)
    retry_initial_seconds: float = Field(default=0.5, ge=0, le=60)
    retry_max_wait_seconds: float = Field(default=120.0, ge=0, le=3600)
    rate_margin: float = Field(
        default=0.05, ge=0, lt=1, description="Each rate's window widened by this fraction."
    )
    concurrency: int = Field(
        default=100, ge=1, le=2000, description="Books being enriched at once, per job."
    )
    offline_seconds_per_book: float = Field(default=0.0, ge=0, le=60)

    @field_validator("open_library_base_url", "google_books_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @property
    def open_library_rate(self) -> float:
        if self.open_library_requests_per_second is not None:
            return self.open_library_requests_per_second
        return 3.0 if self.open_library_user_agent else 1.0
