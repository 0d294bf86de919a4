"""The relational port: one SQLAlchemy Core metadata, one engine factory for SQLite and Postgres.

Besides creating engines, the dialects differ in how they fail; this module also says which
failures mean "the database is unreachable for now" (wait and try again, or answer 503) rather
than "this statement is wrong" (fail).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    stop_never,
    wait_exponential_jitter,
)

from skyferry.storage.errors import StorageError

if TYPE_CHECKING:
    from skyferry.config import DatabasePooler, Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

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


def create_engine(
    url: str,
    *,
    pool_size: int = 5,
    application_name: str = "skyferry",
    connect_timeout_seconds: int = 2,
    statement_timeout_seconds: float = 0,
    pooler: DatabasePooler = "none",
) -> Engine:
    """Engine for ``sqlite:///`` or ``postgresql+psycopg://``; the dialects differ only here.

    On Postgres the pool never grows past ``pool_size`` (no overflow), so a deployment's
    connection count is a sum of settings, not of load. ``application_name`` names the process
    in ``pg_stat_activity``. The timeouts bound how long a caller can wait: a connect to a host
    that is down or unreachable, or a statement stuck behind a lock.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            # one connection per thread is plenty: SQLite has a single writer anyway
            pool_size=pool_size,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        # a request waits this long for a free connection, then answers 503 (pool exhausted)
        pool_timeout=10,
        pool_pre_ping=True,
        connect_args=postgres_connect_args(
            application_name=application_name,
            connect_timeout_seconds=connect_timeout_seconds,
            statement_timeout_seconds=statement_timeout_seconds,
            pooler=pooler,
        ),
    )


def postgres_connect_args(
    *,
    application_name: str,
    connect_timeout_seconds: int,
    statement_timeout_seconds: float = 0,
    pooler: DatabasePooler = "none",
) -> dict[str, Any]:
    """psycopg connection arguments, for our engine and for DBOS's.

    Behind a transaction-mode pooler (PgBouncer, Supavisor) consecutive transactions may run on
    different server connections, so nothing may live in the session: psycopg's server-side
    prepared statements (made after ``prepare_threshold`` uses of a query) would be missing on
    the next server ("prepared statement "_pg3_0" does not exist"), and PgBouncer refuses the
    ``options`` startup parameter that carries the statement timeout; set that on the pooler
    (``query_timeout``) or the role (``ALTER ROLE … SET statement_timeout``) instead.
    """
    args: dict[str, Any] = {
        "application_name": application_name,
        # libpq counts at least 2 s; without it a connect to a silent host waits minutes
        "connect_timeout": max(2, connect_timeout_seconds),
    }
    if pooler == "transaction":
        args["prepare_threshold"] = None
    elif statement_timeout_seconds > 0:
        args["options"] = f"-c statement_timeout={int(statement_timeout_seconds * 1000)}"
    return args


def waiting_connector(
    url: str, connect_args: dict[str, Any], *, give_up_after: float | None
) -> Callable[[], psycopg.Connection[Any]]:
    """A SQLAlchemy ``creator`` for DBOS's engine: a connect waits out an outage, then succeeds.

    DBOS retries a failed system-database call itself, blocking the caller, with waits that
    double up to 60 s; after a 30 s outage a job could sit out most of another minute after
    the database was back. A connect that keeps trying every 2 s at most turns that into
    about 2 s: DBOS's retry sees one failure (the connection that broke) and its next attempt
    gets a connection as soon as there is one. Only for DBOS's engine: requests must fail fast.
    """
    parsed = sa.make_url(url)
    params: dict[str, Any] = {
        **parsed.translate_connect_args(username="user", database="dbname"),
        **{key: value for key, value in parsed.query.items() if isinstance(value, str)},
        **connect_args,
    }

    def connect() -> psycopg.Connection[Any]:
        for attempt in Retrying(
            retry=retry_if_exception(is_database_unreachable),
            wait=_OUTAGE_WAIT,
            stop=stop_never if give_up_after is None else stop_after_delay(give_up_after),
            before_sleep=lambda state: _log_wait("a DBOS connect", state),
            reraise=True,
        ):
            with attempt:
                return psycopg.connect(**params)
        raise AssertionError("tenacity ends with a result or the last error")  # pragma: no cover

    return connect


def open_database(settings: Settings, *, url: str | None = None, name: str | None = None) -> Engine:
    """The application engine of this process (or one on ``url``), as its settings describe it.

    ``name`` is appended to the process's application_name, to tell its pools apart.
    """
    return create_engine(
        url or settings.sqlalchemy_url,
        pool_size=settings.database_pool_size,
        application_name=settings.application_name(name),
        connect_timeout_seconds=settings.database_connect_timeout_seconds,
        statement_timeout_seconds=settings.database_statement_timeout_seconds,
        pooler=settings.database_pooler,
    )


_SQLITE_BUSY_SECONDS = 30


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # a generous busy timeout rides out lock contention instead of failing with "database is
    # locked"; set first, so that it covers the switch to WAL below as well
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
    # WAL lets readers (status polls) run while a job writes
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL, waiting for other processes that are switching it at once.

    Switching needs the file to itself, and SQLite answers "database is locked" at once,
    without its busy handler, to a connection that would otherwise deadlock with another one
    doing the same: two processes opening a new file together (a web process and a worker)
    failed one time in five. Once a file is in WAL, the switch is a no-op that takes no lock.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))  # jitter, so that the waiters take turns


def is_unique_violation(exc: sa.exc.DBAPIError) -> bool:
    """True when a driver error is a unique/primary-key conflict, on either dialect."""
    code = getattr(exc.orig, "sqlstate", None)
    if code is not None:
        return bool(code == "23505")
    return "UNIQUE constraint failed" in str(exc.orig)


# 0.1 s, 0.2 s, … then every 2 s: work resumes within about 2 s of the database coming back
_OUTAGE_WAIT = wait_exponential_jitter(multiplier=0.1, max=2.0, jitter=0.2)
_FIRST_WAIT_SECONDS = 0.1

# SQLSTATEs the server sends when it cannot serve anyone right now: class 08 (connection
# exception), shutting down / crashed / starting up (57P01-57P03), too many connections (53300)
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
# a connect the server answered with a refusal that no amount of waiting will change
_REFUSED_FOR_GOOD = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "permission denied",
)


def is_database_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached now, not that the statement is wrong.

    Covers a refused or lost connection, a server shutting down or starting up, and a pool that
    had no connection to give in time. A syntax error, a constraint violation, a statement
    timeout or a bad password are answers from a reachable database: they are not retried.
    """
    if isinstance(exc, sa.exc.TimeoutError):
        return True  # pool checkout: every connection is busy or being re-established
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    if state is None:
        # libpq's own errors carry no SQLSTATE: a connect that failed, a connection that broke
        message = str(exc)
        return not any(reason in message for reason in _REFUSED_FOR_GOOD)
    return state.startswith(_UNAVAILABLE_STATES)


def database_cause(exc: BaseException) -> BaseException:
    """The driver's own error behind SQLAlchemy's wrapper, or ``exc`` itself."""
    return exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc


def is_statement_timeout(exc: BaseException) -> bool:
    """True when Postgres cancelled the statement (``statement_timeout``, SQLSTATE 57014)."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    return isinstance(orig, psycopg.errors.QueryCanceled)


async def retry_while_unreachable(
    call: Callable[[], Awaitable[T]], *, what: str, give_up_after: float | None
) -> T:
    """Await ``call()``; while the database is unreachable, wait and call it again.

    Waits grow from 0.1 s to 2 s, so work resumes within about 2 s of the database coming
    back. Only :func:`is_database_unreachable` errors are retried; anything else is raised at
    once. After ``give_up_after`` seconds (None: never) the last error is raised. Waiting is
    asyncio sleep, so a thousand waiting callers hold no threads and no connections.
    """
    try:
        # the common case costs one await; tenacity's machinery (~50 us a call) only after a
        # failure, which matters for fan-outs of thousands of short items
        return await call()
    except Exception as exc:
        if not is_database_unreachable(exc):
            raise
    await asyncio.sleep(_FIRST_WAIT_SECONDS)
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_database_unreachable),
        wait=_OUTAGE_WAIT,
        stop=stop_never if give_up_after is None else stop_after_delay(give_up_after),
        before_sleep=lambda state: _log_wait(what, state),
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("tenacity ends with a result or the last error")  # pragma: no cover


def _log_wait(what: str, state: RetryCallState) -> None:
    # the first failure and then one in ten: an outage of a minute is a few lines, not hundreds
    if state.attempt_number == 1 or state.attempt_number % 10 == 0:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "database unreachable; %s waits and tries again",
            what,
            extra={"attempt": state.attempt_number, "error": type(error).__name__},
        )


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
    upsert_all(connection, table, [values], keys)


def upsert_all(
    connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    """``upsert`` for many rows (with the same columns) in one statement."""
    statement = _insert(connection, table)
    updates = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def insert_missing(connection: sa.Connection, table: sa.Table, row: dict[str, Any]) -> bool:
    """Insert the row unless its key is there already (ON CONFLICT DO NOTHING); True if it was.

    The answer tells a caller whether *it* created the row, which is how racing writers agree
    on one winner without a lock. It comes from RETURNING, not ``rowcount``, which psycopg
    leaves at -1 for these statements.
    """
    key = next(iter(table.primary_key.columns))
    statement = _insert(connection, table).values(**row).on_conflict_do_nothing().returning(key)
    return connection.execute(statement).first() is not None


def insert_all_missing(
    connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]
) -> None:
    """Insert the rows whose keys are not there yet, in one statement (ON CONFLICT DO NOTHING)."""
    connection.execute(_insert(connection, table).on_conflict_do_nothing(), rows)


def _insert(connection: sa.Connection, table: sa.Table) -> Any:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(table)
