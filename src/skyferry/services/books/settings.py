"""Books settings (``SKYFERRY_BOOKS__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

ProviderName = Literal["offline", "openai"]


class BooksSettings(BaseModel):
    provider: ProviderName = Field(
        default="offline", description="offline needs no network or key; openai calls an API."
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1",
        description="Any OpenAI-compatible API; /chat/completions is appended.",
    )
    openai_model: str = Field(default="gpt-4o-mini", min_length=1, max_length=200)
    openai_api_key: SecretStr | None = Field(
        default=None, description="Sent as a bearer token; unset for servers that want none."
    )
    request_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Longest one provider request may take."
    )
    max_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries per provider call, the first included."
    )
    retry_initial_seconds: float = Field(
        default=0.5, ge=0, le=60, description="First backoff after a 5xx or a timeout."
    )
    retry_max_wait_seconds: float = Field(
        default=60.0, ge=0, le=3600, description="Longest wait between tries, Retry-After too."
    )
    provider_concurrency: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Provider calls in flight at once, across all workers.",
    )
    provider_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="A killed worker's provider slot frees itself after this long.",
    )
    offline_seconds_per_chapter: float = Field(default=4.0, ge=0, le=600)
    offline_seed: int = 0

    @field_validator("openai_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL, e.g. https://api.openai.com/v1")
        return value.rstrip("/")
