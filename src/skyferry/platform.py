"""The platform: what the core opens once per process for every service and job.

Settings, the database engine, the blob store and each enabled service's resources. DBOS runs
one engine per process, so there is one platform per process too: opening a second one while
the first is open is an error, not a silent share.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from skyferry.config import Settings
from skyferry.resources import Resource
from skyferry.service import Service
from skyferry.storage.blobs import BlobStore

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

T = TypeVar("T")


class PlatformError(RuntimeError):
    """The platform is used where it is not open, or opened twice in one process."""


@dataclass
class Platform:
    """What a process opened; the database engine and the blob store are built on first use
    (their libraries are imported then), from any thread."""

    settings: Settings
    services: Sequence[Service[Any]]
    _resources: dict[str, Any] = field(default_factory=dict)
    _database: Engine | None = None
    _blobs: BlobStore | None = None
    _opening: threading.Lock = field(default_factory=threading.Lock)

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            with self._opening:
                if self._blobs is None:
                    from skyferry.storage.blobs import open_blob_store

                    self._blobs = open_blob_store(
                        self.settings.blob_url,
                        endpoint_url=self.settings.aws_endpoint_url,
                        min_free_bytes=self.settings.blob_min_free_bytes,
                    )
        return self._blobs

    @property
    def database(self) -> Engine:
        if self._database is None:
            with self._opening:
                if self._database is None:
                    from skyferry.storage.sql import open_database

                    self._database = open_database(self.settings)
        return self._database

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()

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
    return Platform(settings=settings, services=services)


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
        if not settings.defer_connections:
            # a missing database is one line saying how to create it, also under a team's own
            # server (skyferry's commands check before they start one, so no traceback is
            # logged)
            from skyferry.storage.preflight import require_databases

            await asyncio.to_thread(require_databases, settings)
            # built now, so that a bad URL stops the start
            platform.database  # noqa: B018
            platform.blobs  # noqa: B018
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
        platform.close()
