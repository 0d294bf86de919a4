"""The relational port: one SQLAlchemy Core metadata, one engine factory for SQLite and Postgres."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from skyferry.storage.errors import StorageError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> sa.MetaData:
    """A service's own table metadata, with the naming convention every migration relies on."""
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


metadata = new_metadata()
"""The core's tables (jobs, progress, limits, workers); each service has its own metadata."""


def create_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Engine for ``sqlite:///`` or ``postgresql+psycopg://``; the dialects differ only here."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            # one connection per thread is plenty: SQLite has a single writer anyway
            pool_size=pool_size,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (status polls) run while a job writes; a generous busy timeout rides out
    # lock contention instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def is_unique_violation(exc: sa.exc.DBAPIError) -> bool:
    """True when a driver error is a unique/primary-key conflict, on either dialect."""
    code = getattr(exc.orig, "sqlstate", None)
    if code is not None:
        return bool(code == "23505")
    return "UNIQUE constraint failed" in str(exc.orig)


def check_database(engine: Engine) -> None:
    """Cheap reachability probe for /ready."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise StorageError(f"database unreachable: {type(cause).__name__}") from exc


def upsert(
    connection: sa.Connection, table: sa.Table, values: dict[str, Any], keys: list[str]
) -> None:
    """Insert a row or overwrite its non-key columns; both dialects speak ON CONFLICT."""
    statement = _insert(connection, table).values(**values)
    updates = {name: statement.excluded[name] for name in values if name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))


def insert_missing(connection: sa.Connection, table: sa.Table, row: dict[str, Any]) -> bool:
    """Insert the row unless its key is there already (ON CONFLICT DO NOTHING); True if it was.

    The answer tells a caller whether *it* created the row, which is how racing writers agree
    on one winner without a lock. It comes from RETURNING, not ``rowcount``, which psycopg
    leaves at -1 for these statements.
    """
    key = next(iter(table.primary_key.columns))
    statement = _insert(connection, table).values(**row).on_conflict_do_nothing().returning(key)
    return connection.execute(statement).first() is not None


def _insert(connection: sa.Connection, table: sa.Table) -> Any:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(table)
