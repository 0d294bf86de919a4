"""Applying the Alembic migrations: the core's, shipped in the package, and each service's.

Each service keeps its migrations in a folder of its own package, as a branch off the core's
first revision; Alembic finds them all through ``version_locations``, and its target metadata is
every loaded service's tables beside the core's, so autogenerate sees the whole schema.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from skyferry.service import Service

# any constant works; it only has to be the same in every skyferry process
_LOCK_KEY = 0x5C7F_E777
_CORE_VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"


def config(engine: Engine, services: Sequence[Service[Any]]) -> Config:
    """The Alembic configuration for the core plus ``services``.

    Alembic must know every revision a database may already hold, so the versions of every
    installed service are in ``version_locations``, loaded or not (a service dropped from
    ``SKYFERRY_SERVICES`` keeps its tables and its row in ``alembic_version``); the target
    metadata is the core's and the loaded services' tables.
    """
    from skyferry import service
    from skyferry.jobs import tables  # noqa: F401  (the core's tables, on the core metadata)
    from skyferry.storage.sql import metadata

    loaded = {s.name for s in services}
    others = service.load([name for name in service.installed() if name not in loaded])
    alembic = Config()
    alembic.set_main_option("script_location", "skyferry:migrations")
    locations = [str(_CORE_VERSIONS)]
    locations += [str(s.migrations) for s in [*services, *others] if s.migrations is not None]
    # the separator must be one that cannot appear in a path on this system
    alembic.set_main_option("path_separator", "newline")
    alembic.set_main_option("version_locations", "\n".join(locations))
    alembic.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    declared = [s.metadata() for s in services]
    alembic.attributes["target_metadata"] = [metadata, *(m for m in declared if m is not None)]
    return alembic


def upgrade(engine: Engine, services: Sequence[Service[Any]], revision: str = "heads") -> None:
    """Bring the schema to ``revision``; processes starting together migrate one at a time.

    ``heads`` means the core's head and each loaded service's branch head (``<name>@head``):
    services that are installed but not loaded get no tables.
    """
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # a migration may rightly run longer than the statement timeout requests get
            connection.execute(sa.text("SET LOCAL statement_timeout = 0"))
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            # the driver runs DDL outside any transaction, so two processes migrating one fresh
            # file both create the same tables ("table ... already exists"); a write
            # transaction makes the others wait (busy timeout) until the first commits, and
            # rolls a failed migration back whole
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        alembic = config(engine, services)
        alembic.attributes["connection"] = connection
        for target in _targets(alembic, services) if revision == "heads" else [revision]:
            command.upgrade(alembic, target)


def _targets(alembic: Config, services: Sequence[Service[Any]]) -> list[str]:
    """The core's head revision, then ``<service>@head`` for each loaded service with tables."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic)
    core = [
        head.revision
        for head in script.get_revisions("heads")
        if head is not None and Path(head.path).parent == _CORE_VERSIONS
    ]
    return [*core, *(f"{s.name}@head" for s in services if s.migrations is not None)]


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """On SQLite, hold an exclusive lock on a file beside the database while migrating.

    The write transaction alone is not enough for a fresh file: the first connection of each
    process switches it to WAL, and SQLite fails a second switch at the same moment with
    "database is locked" without waiting. Taken before connecting, this lock puts those first
    connections in a row too. POSIX only; elsewhere the write transaction serialises alone.
    """
    database = engine.url.database
    if (
        engine.dialect.name != "sqlite"
        or sys.platform == "win32"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or not Path(database).parent.is_dir()  # SQLite itself reports the missing directory
    ):
        yield
        return
    import fcntl

    with Path(f"{database}-migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def current(engine: Engine) -> tuple[str, ...]:
    """The revisions applied: one per branch (the core and each service with tables)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())
