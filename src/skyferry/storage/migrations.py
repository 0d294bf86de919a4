"""Applying the Alembic migrations shipped inside the package."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

# any constant works; it only has to be the same in every skyferry process
_LOCK_KEY = 0x5C7F_E777


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "skyferry:migrations")
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to ``revision``; processes starting together migrate one at a time.

    Each service's migrations are a branch of their own off the core's, hence ``heads``.
    """
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            # the driver runs DDL outside any transaction, so two processes migrating one fresh
            # file both create the same tables ("table ... already exists"); a write
            # transaction makes the others wait (busy timeout) until the first commits, and
            # rolls a failed migration back whole
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config = _config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


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
