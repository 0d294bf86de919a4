"""Books settings (``SKYFERRY_BOOKS__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class BooksSettings(BaseModel):
    provider: Literal["offline", "openai"] = "offline"
    openai_base_url: str = Field(
        default="https://api.openai.com/v1", description="Any OpenAI-compatible API."
    )
    openai_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr | None = None
    request_timeout_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    provider_concurrency: int = Field(
        default=20, ge=1, description="Provider calls in flight at once, across all workers."
    )
    offline_seconds_per_chapter: float = Field(default=4.0, ge=0, le=600)
    offline_seed: int = 0
