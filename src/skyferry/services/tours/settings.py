"""Tours settings (``SKYFERRY_TOURS__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

PlacesProviderName = Literal["offline", "google"]
FilterProviderName = Literal["offline", "openai", "perplexity"]


class ToursSettings(BaseModel):
    database_url: str | None = Field(
        default=None,
        description="Keep cities and tours in this database (postgresql://…, e.g. Supabase) "
        "instead of the app's; its own migrations run there on start-up.",
    )
    database_pooler: Literal["none", "transaction"] = Field(
        default="none",
        description="transaction behind PgBouncer/Supavisor in transaction mode (Supabase's "
        "pooler on port 6543): no prepared statements.",
    )
    places_provider: PlacesProviderName = Field(
        default="offline", description="offline needs no network or key; google calls Places."
    )
    google_base_url: str = Field(default="https://places.googleapis.com/v1")
    google_api_key: SecretStr | None = Field(default=None, description="Sent as X-Goog-Api-Key.")
    search_radius_metres: float = Field(default=5000.0, gt=0, le=50000)
    text_search_pages: int = Field(
        default=3, ge=1, le=10, description="Pages of Text Search (20 places each) per query."
    )
    filter_provider: FilterProviderName = Field(
        default="offline", description="offline ranks by rules; openai and perplexity ask a model."
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1",
        description="Any OpenAI-compatible API; /chat/completions is appended.",
    )
    openai_model: str = Field(default="gpt-4o-mini", min_length=1, max_length=200)
    openai_api_key: SecretStr | None = None
    perplexity_base_url: str = Field(
        default="https://api.perplexity.ai",
        description="Perplexity's Agent API; /v1/agent is appended.",
    )
    perplexity_model: str = Field(default="perplexity/sonar", min_length=1, max_length=200)
    perplexity_api_key: SecretStr | None = None
    request_timeout_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="Longest one provider request may take."
    )
    max_attempts: int = Field(default=5, ge=1, le=20, description="Tries per provider call.")
    retry_initial_seconds: float = Field(default=0.5, ge=0, le=60)
    retry_max_wait_seconds: float = Field(default=30.0, ge=0, le=600)
    default_max_attractions: int = Field(default=40, ge=1, le=300)
    walking_speed_kmh: float = Field(default=4.5, gt=0, le=20)
    detour_factor: float = Field(
        default=1.3, ge=1, le=3, description="Street distance over great-circle distance."
    )
    solver_iterations: int = Field(
        default=3000, ge=1, le=10_000_000, description="Deterministic for a seed below the cap."
    )
    solver_max_seconds: float = Field(default=10.0, gt=0, le=600)
    solver_seed: int = 0
    offline_seconds_per_stage: float = Field(
        default=0.0, ge=0, le=3600, description="Make the offline providers slow (demos, tests)."
    )

    @field_validator("google_base_url", "openai_base_url", "perplexity_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if not value.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("expected sqlite:///path or postgresql://user@host:port/db")
        return value
