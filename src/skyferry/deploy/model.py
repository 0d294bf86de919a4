"""What an app needs from a deployment, read once from its settings and services.

Every target renders the same ``AppModel``, so a setting changed in the environment that
``skyferry deploy`` runs in shows up in every artifact alike: the artifacts are generated,
never hand-edited.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from skyferry.app import Setup

DEFAULT_PYTHON = "3.12"

LambdaPackage = Literal["image", "zip"]

# what every target provides itself: where the database and blobs are, how the process runs
_TARGET_OWNED = frozenset(
    {
        "database_url",
        "system_database_url",
        "blob_url",
        "aws_endpoint_url",
        "services",
        "workers",
        "process_role",
        "executor_id",
        "api_keys",
    }
)


@dataclass(frozen=True)
class EnvVar:
    """One variable an artifact sets: a plain value, or a secret whose value is never copied."""

    name: str
    value: str | None
    secret: bool = False


@dataclass(frozen=True)
class MapModel:
    """A service's ``DistributedMap`` as its state machine is generated: ``key`` is
    ``<service>.<name>``, the mark its payloads carry."""

    service: str
    name: str
    max_concurrency: int
    batch_size: int
    tolerated_failure_percentage: float

    @property
    def key(self) -> str:
        return f"{self.service}.{self.name}"


@dataclass(frozen=True)
class UploadPrefix:
    """Keys under which a new object is a service's S3 event (``Service.events["s3"]``): a
    service says where with its settings' ``upload_prefix``, a blob key prefix (the bucket
    holds it under the blob store's own: ``AppModel.key``)."""

    service: str
    prefix: str


@dataclass(frozen=True)
class AppModel:
    """The app as a deployment sees it.

    - ``app_path``: a team's own app (``module:attribute``), None for skyferry's own.
    - ``services``: the services every process loads (web and workers must agree).
    - ``env``: settings changed from their defaults, passed on as they are.
    - ``secrets``: secret settings set where the artifacts were generated (their values are
      not copied: each target reads them from its secret store), ``SKYFERRY_API_KEYS`` first.
    - ``dynamodb_tables``: tables the enabled services keep items in (made by the service's
      own command, e.g. ``skyferry inventory create-table``; templates grant access to them).
    - ``dynamodb_region_env``: each such service's region variable left at its default, which
      an AWS template sets to the stack's region.
    - ``package``: how Lambda functions ship, a container image or a zip.
    - ``blob_bucket``: the bucket of an ``s3://`` ``SKYFERRY_BLOB_URL`` set where the artifacts
      were generated: one that exists already (a migrating team's), which templates then use
      and grant access to instead of making one. ``blob_prefix`` is that URL's prefix (empty:
      the bucket's root, as a migrating team's files may be), ``skyferry`` in a new bucket.
    - ``connections_per_process``: the README's budget, for sizing Postgres.
    - ``maps``: the enabled services' fan-outs that can run as Step Functions state machines.
    - ``upload_prefixes``: where the enabled services want S3 notifications of new objects.
    """

    name: str
    app_path: str | None
    services: tuple[str, ...]
    env: tuple[EnvVar, ...]
    secrets: tuple[EnvVar, ...]
    dynamodb_tables: tuple[str, ...]
    dynamodb_region_env: tuple[str, ...]
    blob_bucket: str | None
    blob_prefix: str
    connections_per_process: int
    shutdown_grace_seconds: int
    maps: tuple[MapModel, ...] = ()
    upload_prefixes: tuple[UploadPrefix, ...] = ()
    python_version: str = DEFAULT_PYTHON
    package: LambdaPackage = "image"
    port: int = 8000
    health_path: str = "/health"
    ready_path: str = "/ready"

    def serve_command(self, port: str) -> list[str]:
        """The web process: requests only, jobs left to workers."""
        app = [self.app_path] if self.app_path else []
        return ["skyferry", "serve", *app, "--no-workers", "--host", "0.0.0.0", "--port", port]  # noqa: S104

    def worker_command(self) -> list[str]:
        return ["skyferry", "worker", *([self.app_path] if self.app_path else [])]

    def migrate_command(self) -> list[str]:
        return ["skyferry", "db", "upgrade", *(["--app", self.app_path] if self.app_path else [])]

    def blob_url_in(self, bucket: str) -> str:
        """``SKYFERRY_BLOB_URL`` for the app's blob store in ``bucket``."""
        return f"s3://{bucket}/{self.blob_prefix}" if self.blob_prefix else f"s3://{bucket}"

    def key(self, path: str) -> str:
        """A blob key as the bucket holds it: under the blob store's prefix."""
        return f"{self.blob_prefix}/{path}" if self.blob_prefix else path

    @property
    def base_env(self) -> dict[str, str]:
        """What every process of every target sets: the services, and the changed settings."""
        values = {"SKYFERRY_SERVICES": ",".join(self.services)}
        values.update({var.name: var.value for var in self.env if var.value is not None})
        return values


def describe(
    setup: Setup,
    *,
    app_path: str | None = None,
    name: str = "skyferry",
    python_version: str = DEFAULT_PYTHON,
    package: LambdaPackage = "image",
) -> AppModel:
    """Read what ``setup`` (its settings and services) asks of a deployment."""
    settings = setup.settings
    env: list[EnvVar] = []
    secrets: list[EnvVar] = [EnvVar("SKYFERRY_API_KEYS", None, secret=True)]
    for field in sorted(settings.model_fields_set - _TARGET_OWNED):
        value = getattr(settings, field)
        _add(f"SKYFERRY_{field.upper()}", value, env, secrets)
    tables: list[str] = []
    regions: list[str] = []
    uploads: list[tuple[str, str]] = []
    for loaded in setup.services:
        if loaded.settings is None:
            continue
        own = settings.of(loaded.settings)
        upload_prefix = getattr(own, "upload_prefix", None)
        if "s3" in loaded.events and isinstance(upload_prefix, str):
            uploads.append((loaded.name, upload_prefix))
        for field in sorted(own.model_fields_set):
            variable = f"SKYFERRY_{loaded.name.upper()}__{field.upper()}"
            _add(variable, getattr(own, field), env, secrets)
        table = _dynamodb_table(own)
        if table is not None:
            tables.append(table)
            if "dynamodb_region" not in own.model_fields_set:
                regions.append(f"SKYFERRY_{loaded.name.upper()}__DYNAMODB_REGION")
    bucket: str | None = None
    blob_prefix = ""
    if settings.blob_url.startswith("s3://"):
        bucket, _, blob_prefix = settings.blob_url.removeprefix("s3://").partition("/")
    blob_prefix = blob_prefix.strip("/") if bucket else "skyferry"
    return AppModel(
        name=name,
        app_path=app_path,
        services=tuple(loaded.name for loaded in setup.services),
        env=tuple(env),
        secrets=tuple(secrets),
        dynamodb_tables=tuple(tables),
        dynamodb_region_env=tuple(regions),
        blob_bucket=bucket or None,
        blob_prefix=blob_prefix,
        connections_per_process=settings.database_pool_size
        + settings.system_database_pool_size
        + 1,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        maps=tuple(
            MapModel(
                service=loaded.name,
                name=declared.name,
                max_concurrency=declared.max_concurrency(settings),
                batch_size=declared.batch_size,
                tolerated_failure_percentage=declared.tolerated_failure_percentage,
            )
            for loaded in setup.services
            for declared in loaded.distributed_maps
        ),
        upload_prefixes=tuple(UploadPrefix(service, prefix) for service, prefix in uploads),
        python_version=python_version,
        package=package,
    )


def resource_name(text: str) -> str:
    """``text`` as a name every platform takes for apps, stacks, images and Kubernetes objects:
    lower-case letters, digits and single dashes, starting with a letter, at most 30."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    cleaned = re.sub(r"^[^a-z]+", "", cleaned)[:30].strip("-")
    return cleaned or "app"


def _add(variable: str, value: Any, env: list[EnvVar], secrets: list[EnvVar]) -> None:
    if isinstance(value, SecretStr):
        secrets.append(EnvVar(variable, None, secret=True))
    elif value is not None:
        env.append(EnvVar(variable, _as_env(value)))


def _as_env(value: Any) -> str:
    """A setting's value as its environment variable spells it (lists and dicts as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, default=str)


def _dynamodb_table(own: BaseModel) -> str | None:
    """A service keeping items in DynamoDB says so with ``backend`` and ``dynamodb_table``."""
    if getattr(own, "backend", None) != "dynamodb":
        return None
    table = getattr(own, "dynamodb_table", None)
    return table if isinstance(table, str) else None
