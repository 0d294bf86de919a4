"""The platform: what the core opens once per process for every service and job.

Settings, the database engine, the blob store and each enabled service's resources. DBOS runs
one engine per process, so there is one platform per process too: opening a second one while
the first is open is an error, not a silent share.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from skyferry.config import Settings
from skyferry.resources import Resource
from skyferry.service import Service
from skyferry.storage.blobs import BlobStore, open_blob_store
from skyferry.storage.preflight import require_databases
from skyferry.storage.sql import open_database

T = TypeVar("T")


class PlatformError(RuntimeError):
    """The platform is used where it is not open, or opened twice in one process."""


@dataclass
class Platform:
    settings: Settings
    database: Engine
    blobs: BlobStore
    services: Sequence[Service[Any]]
    _resources: dict[str, Any] = field(default_factory=dict)

    def resource(self, resource: Resource[T]) -> T:
        try:
            value: T = self._resources[resource.name]
        except KeyError:
            raise PlatformError(
                f"resource {resource.name!r} is not open: is its service enabled "
                "(SKYFERRY_SERVICES)?"
            ) from None
        return value


_current: Platform | None = None


def current() -> Platform:
    """The platform of this process; an error outside a started app, worker or CLI."""
    if _current is None:
        raise PlatformError("skyferry is not started in this process (no app, worker or CLI)")
    return _current


def build(settings: Settings, services: Sequence[Service[Any]]) -> Platform:
    """The platform's parts, not yet connected (engines connect on first use)."""
    settings.ensure_local_dirs()
    database = open_database(settings)
    blobs = open_blob_store(
        settings.blob_url,
        endpoint_url=settings.aws_endpoint_url,
        min_free_bytes=settings.blob_min_free_bytes,
    )
    return Platform(settings=settings, database=database, blobs=blobs, services=services)


@asynccontextmanager
async def open_platform(
    settings: Settings, services: Sequence[Service[Any]], *, migrate: bool | None = None
) -> AsyncIterator[Platform]:
    """Open the platform for this process: migrate (``SKYFERRY_AUTO_MIGRATE`` unless told),
    open the services' resources, and make it this process's current platform."""
    global _current
    if _current is not None:
        raise PlatformError(
            "skyferry is already started in this process: DBOS runs one engine per process, "
            "so build one app (or worker) per process"
        )
    platform = build(settings, services)
    _current = platform
    try:
        # a missing database is one line saying how to create it, also under a team's own
        # server (skyferry's commands check before they start one, so no traceback is logged)
        await asyncio.to_thread(require_databases, settings)
        if settings.migrate_on_start if migrate is None else migrate:
            # imported here: Alembic costs a Lambda cold start a tenth of a second, and only
            # processes that migrate (SQLite at start-up, `skyferry db upgrade`) need it
            from skyferry.storage import migrations

            await asyncio.to_thread(migrations.upgrade, platform.database, services)
        async with AsyncExitStack() as stack:
            for service in services:
                for resource in service.resources:
                    platform._resources[resource.name] = await stack.enter_async_context(
                        resource.opener(platform)
                    )
            yield platform
    finally:
        _current = None
        platform.database.dispose()
