"""Settings: the only code that reads the environment (prefix ``SKYFERRY_``, ``.env`` too)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

if TYPE_CHECKING:
    from skyferry.service import Service

M = TypeVar("M", bound=BaseModel)

LogFormat = Literal["json", "text"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
DatabasePooler = Literal["none", "transaction"]
ProcessRole = Literal["serve", "api", "worker"]

DEFAULT_HOME = Path(".skyferry")


class ConfigurationError(Exception):
    """A setting has a value skyferry cannot use; the message names the variable."""


def _split_csv(value: object) -> object:
    """Accept ``a,b`` as well as a JSON list, because that is what people type into env files."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            import json

            return json.loads(stripped)
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return value


class OriginalNames(PydanticBaseSettingsSource):
    """The variables the services skyferry replaces were configured with, read as fallbacks
    below every ``SKYFERRY_`` variable and ``.env`` entry, so a migrating team's environment
    works as it is (docs/deploy.md, "Moving onto skyferry"):

    - ``S3_BUCKET`` (the files service's bucket) or ``DATASET_BUCKET`` (the datasets
      service's): ``SKYFERRY_BLOB_URL=s3://<bucket>``; two different buckets are refused, since
      skyferry keeps one blob store (set ``SKYFERRY_BLOB_URL`` then).
    - ``TABLE_NAME`` (the inventory's DynamoDB table): ``SKYFERRY_INVENTORY__DYNAMODB_TABLE``.
    - ``AWS_ENDPOINT_URL``: ``SKYFERRY_AWS_ENDPOINT_URL`` (an alias of the field, which reads
      both, ours first).

    Only the process environment is read for them, not ``.env``.
    """

    def __init__(self, settings_cls: type[BaseSettings], service: str | None) -> None:
        super().__init__(settings_cls)
        self._service = service

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # the whole mapping comes from __call__

    def __call__(self) -> dict[str, Any]:
        if self._service == "inventory" and os.environ.get("TABLE_NAME"):
            return {"inventory": {"dynamodb_table": os.environ["TABLE_NAME"]}}
        if self._service is not None or "blob_url" in self.current_state:
            return {}  # the sources before this one (ours) set it: the original names lose
        buckets = {
            name: os.environ[name]
            for name in ("S3_BUCKET", "DATASET_BUCKET")
            if os.environ.get(name)
        }
        if len(set(buckets.values())) > 1:
            raise ConfigurationError(
                "S3_BUCKET and DATASET_BUCKET name different buckets and skyferry keeps one "
                "blob store: set SKYFERRY_BLOB_URL=s3://<bucket>/<prefix> (docs/deploy.md)"
            )
        return {"blob_url": f"s3://{next(iter(buckets.values()))}"} if buckets else {}


def _sources(
    settings_cls: type[BaseSettings],
    service: str | None,
    *sources: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """pydantic-settings' own sources first, the original names last (they lose)."""
    return (*sources, OriginalNames(settings_cls, service))


class Settings(BaseSettings):
    """Everything skyferry can be told, each field read from ``SKYFERRY_<FIELD>``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return _sources(
            settings_cls, None, init_settings, env_settings, dotenv_settings, file_secret_settings
        )

    model_config = SettingsConfigDict(
        env_prefix="SKYFERRY_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_HOME}/skyferry.db",
        description="SQLAlchemy URL of the application database: sqlite:///path or postgresql://…",
    )
    system_database_url: str | None = Field(
        default=None,
        description="URL of the DBOS system database; derived from database_url when unset.",
    )
    database_pool_size: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Connections each process keeps to the application database (no overflow).",
    )
    system_database_pool_size: int = Field(
        default=8,
        ge=2,
        le=1000,
        description="Connections DBOS keeps per process to its system database, plus one it "
        "holds for LISTEN.",
    )
    database_connect_timeout_seconds: int = Field(
        default=2,
        ge=2,
        le=300,
        description="Give up a database connect after this long (libpq's minimum is 2 s).",
    )
    database_statement_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Postgres cancels a statement of ours running longer; 0 means no limit.",
    )
    database_pooler: DatabasePooler = Field(
        default="none",
        description="`transaction` behind PgBouncer/Supavisor in transaction mode: no prepared "
        "statements or session settings.",
    )
    database_outage_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Job code waits this long for an unreachable database before it fails.",
    )
    process_role: ProcessRole | None = Field(
        default=None,
        description="What this process does, for application_name; `skyferry worker` sets it.",
    )
    blob_url: str = Field(
        default=f"file://./{DEFAULT_HOME}/blobs",
        description="Blob store: file://path, memory://, or s3://bucket/prefix.",
    )
    blob_min_free_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="/ready reports a file:// blob store with less free space than this as "
        "full (503); uploads that meet a full disk answer 507.",
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SKYFERRY_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
        description="S3-compatible endpoint (MinIO, moto); AWS_ENDPOINT_URL too, as AWS tools "
        "read it (SKYFERRY_AWS_ENDPOINT_URL wins).",
    )
    lambda_base_path: str = Field(
        default="",
        pattern=r"^(/[A-Za-z0-9._~-]+)*$",
        description="On Lambda: the custom domain's base path (API mapping) in front of the "
        "API, e.g. /v1; stripped for routing and kept as the ASGI root_path.",
    )
    lambda_wake_queue_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="On Lambda: an SQS queue URL (an event source of the worker function) sent "
        "a message for each job submitted, so a worker starts at once, not on its schedule.",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Accepted X-API-Key values; when set, every route but /health and /ready "
        "needs one. Empty means open.",
    )
    api_keys_guard_docs: bool = Field(
        default=False, description="With API keys set, also guard /docs and /openapi.json."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "json"
    services: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description=(
            "Services to load, comma-separated: their routes, jobs and tables. Unset means every "
            "installed service for skyferry's own app, none for a team's app (install)."
        ),
    )
    app: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="A team's own app, module:attribute, that called skyferry.install: what the "
        "CLI's APP argument and the Lambda handlers start instead of skyferry's own.",
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    workers: bool = Field(default=True, description="Run job workers inside `serve`.")
    defer_connections: bool = Field(
        default=False,
        description="Open the database, and a process's job engine when it runs no workers, "
        "on first use rather than at start-up, skipping the start-up check that the databases "
        "exist: set by the Lambda API handler, so an event that needs neither (GET /health, "
        "a DynamoDB read) never pays for them.",
    )
    auto_migrate: bool | None = Field(
        default=None,
        description="Apply schema migrations at start-up; unset means only on SQLite.",
    )
    worker_concurrency: int = Field(default=64, gt=0, le=10_000)
    queue_polling_seconds: float = Field(
        default=0.05,
        gt=0,
        le=60,
        description="How often a worker running jobs polls the queue for more.",
    )
    queue_idle_polling_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often an idle worker polls the queue: submits wake it sooner (on "
        "SQLite a change of its files sooner); the fallback for anything else.",
    )
    notification_polling_seconds: float = Field(
        default=1.0,
        ge=0.001,
        le=60,
        description="How often DBOS's notification listener wakes (it also waits this long "
        "to stop); lower in tests, where every app start and stop pays it.",
    )
    queue_metric_namespace: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._/#:-]{1,255}$",
        description="Workers put the number of queued jobs (QueuedJobs) into this CloudWatch "
        "namespace, for scaling workers on queue depth; unset: no metric.",
    )
    queue_metric_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="How often workers put QueuedJobs."
    )
    heartbeat_seconds: float = Field(default=2.0, gt=0, le=300)
    executor_timeout_seconds: float = Field(
        default=15.0, gt=0, description="A worker silent this long is dead; its jobs move on."
    )
    default_job_timeout_seconds: float = Field(default=3600.0, gt=0)
    shutdown_grace_seconds: int = Field(default=20, ge=0)
    executor_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    app_version: str | None = Field(
        default=None,
        max_length=100,
        description="Jobs resume only on workers of the same version; defaults to skyferry's.",
    )

    @field_validator("api_keys", "cors_origins", "services", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    _services: dict[type[BaseModel], BaseModel] = PrivateAttr(default_factory=dict)
    _overrides: dict[str, Any] = PrivateAttr(default_factory=dict)

    def of(self, model: type[M]) -> M:
        """A loaded service's own settings, by their model (``settings.of(BooksSettings)``)."""
        try:
            found = self._services[model]
        except KeyError:
            raise ConfigurationError(
                f"no settings of type {model.__name__} are loaded: is its service in "
                "SKYFERRY_SERVICES?"
            ) from None
        assert isinstance(found, model)
        return found

    @field_validator("database_url", "system_database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgres://"):
            # Heroku, Render and others set DATABASE_URL with the short scheme, which
            # SQLAlchemy 1.4+ no longer accepts
            value = "postgresql://" + value.removeprefix("postgres://")
        if not value.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            # the message never repeats the value: a URL may carry a password
            raise ValueError("expected sqlite:///path or postgresql://user@host:port/db")
        return value

    @field_validator("blob_url")
    @classmethod
    def _known_blob_store(cls, value: str) -> str:
        if not value.startswith(("file://", "memory://", "s3://")):
            raise ValueError("expected file://path, memory:// or s3://bucket/prefix")
        return value

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def role(self) -> ProcessRole:
        """``serve`` runs requests and jobs, ``api`` only requests, ``worker`` only jobs."""
        if self.process_role is not None:
            return self.process_role
        return "serve" if self.workers else "api"

    def application_name(self, part: str | None = None) -> str:
        """How this process's connections are named in ``pg_stat_activity``: one role, one
        prefix, so a connection budget can be checked per kind of process."""
        return f"skyferry-{self.role}" + (f"-{part}" if part else "")

    @property
    def uses_own_system_database(self) -> bool:
        """True when DBOS's tables live in a database other than the application's."""
        return self.dbos_system_url != self.database_url.replace(
            "postgresql+psycopg://", "postgresql://"
        )

    @property
    def migrate_on_start(self) -> bool:
        return self.auto_migrate if self.auto_migrate is not None else not self.is_postgres

    @property
    def sqlalchemy_url(self) -> str:
        """The application URL with the psycopg 3 driver named, which SQLAlchemy needs."""
        return _with_psycopg(self.database_url)

    @property
    def system_sqlalchemy_url(self) -> str:
        """The DBOS system database URL with the psycopg 3 driver named, for our own engines."""
        return _with_psycopg(self.dbos_system_url)

    @property
    def dbos_system_url(self) -> str:
        """On SQLite the system tables get their own file: two engines never fight for one lock."""
        if self.system_database_url:
            return self.system_database_url.replace("postgresql+psycopg://", "postgresql://")
        if self.is_postgres:
            return self.database_url.replace("postgresql+psycopg://", "postgresql://")
        path = Path(self.database_url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.with_name(path.stem + '.dbos' + (path.suffix or '.db'))}"

    def ensure_local_dirs(self) -> None:
        """Create the directories an embedded SQLite database or file blob store lives in."""
        for url in (self.database_url, self.dbos_system_url):
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def _with_psycopg(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


_SECRET_FIELDS = {"api_keys"}
_SECRET_WORDS = ("key", "secret", "password", "token")

_URL_PASSWORD = re.compile(r"(?P<keep>[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:'\"]*:)[^\s'\"]*@")
"""``scheme://user:password@``: the password part of any URL, wherever it sits in a value. It
runs to the last ``@`` of the URL, so a password holding an unescaped ``@`` or ``/`` is masked
whole (and at worst a little more than the password)."""

_QUERY_SECRET = re.compile(
    r"(?P<keep>[?&;](?:password|passwd|pwd|secret|token|sslpassword)=)[^&;#\s'\"]*", re.IGNORECASE
)
"""``?password=…``: libpq and most drivers also take the password as a query parameter."""


def _shown(value: object) -> str:
    """How a refused value appears in the error: its repr with every URL password masked.

    The repr comes first so that masking also reaches URLs inside lists and dicts.
    """
    text = repr(value)
    text = _URL_PASSWORD.sub(r"\g<keep>***@", text)
    return _QUERY_SECRET.sub(r"\g<keep>***", text)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; a bad value raises one message naming each variable.

    An override named after a service (``books={...}``) is kept for that service's settings,
    which ``attach_services`` reads once the services are known.
    """
    known = set(Settings.model_fields) | {
        str(alias)
        for field in Settings.model_fields.values()
        if field.validation_alias
        for alias in (
            field.validation_alias.choices
            if isinstance(field.validation_alias, AliasChoices)
            else [field.validation_alias]
        )
    }
    own = {
        name: overrides.pop(name)
        for name in list(overrides)
        if name not in known and not name.startswith("_")
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise _configuration_error(exc) from None
    settings._overrides = own
    return settings


def attach_services(settings: Settings, services: Sequence[Service[Any]]) -> None:
    """Read each service's own settings (``SKYFERRY_<NAME>__<FIELD>``) into ``settings``."""
    for service in services:
        if service.settings is not None and service.settings not in settings._services:
            override = settings._overrides.get(service.name)
            value = _load_service_settings(service.name, service.settings, override)
            settings._services[service.settings] = value


class _ServiceEnvironment(BaseSettings):
    """The base of a service's settings wrapper: the core's config, set on the class so that
    it holds (``extra="ignore"`` above all: a ``.env`` file also carries the core's settings,
    which a wrapper given the config after its creation refused as extra inputs)."""

    model_config = Settings.model_config

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        service = next(iter(settings_cls.model_fields))  # the wrapper's one field
        return _sources(
            settings_cls,
            service,
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
        )


def _load_service_settings(name: str, model: type[M], override: Any) -> M:
    """Read ``model`` from ``SKYFERRY_<NAME>__<FIELD>`` (and ``.env``), as nested core fields are.

    The model is wrapped in a one-field settings class named after the service, so nesting,
    ``.env`` files and error messages work exactly as they do for the core's own settings.
    """
    from pydantic import create_model

    wrapper = create_model(  # type: ignore[call-overload]
        f"{model.__name__}Environment",
        __base__=_ServiceEnvironment,
        **{name: (model, Field(default_factory=model))},
    )
    try:
        loaded = wrapper(**({name: override} if override is not None else {}))
    except ValidationError as exc:
        raise _configuration_error(exc) from None
    value: M = getattr(loaded, name)
    return value


def _configuration_error(exc: ValidationError) -> ConfigurationError:
    lines = []
    for error in exc.errors():
        path = [str(part) for part in error["loc"]] or ["?"]
        if path[0] in ("AWS_ENDPOINT_URL", "SKYFERRY_AWS_ENDPOINT_URL"):
            variable = path[0]
        else:
            variable = "SKYFERRY_" + "__".join(part.upper() for part in path)
        secret = path[0] in _SECRET_FIELDS or any(w in path[-1].lower() for w in _SECRET_WORDS)
        shown = "" if secret else f" (got {_shown(error.get('input'))})"
        lines.append(f"{variable}: {error['msg']}{shown}")
    return ConfigurationError("invalid settings:\n  " + "\n  ".join(lines))
