"""Which database errors mean "unreachable for now", told apart on real errors from a real server,
and the retry that waits such errors out until a stopped server is back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from skyferry.storage.sql import (
    create_engine,
    is_database_unreachable,
    is_statement_timeout,
    retry_while_unreachable,
)
from tests.private_postgres import PrivatePostgres
from tests.servers import free_port


@pytest.fixture
def server() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


def error_of(engine: sa.Engine, statement: str) -> sa.exc.SQLAlchemyError:
    with pytest.raises(sa.exc.SQLAlchemyError) as caught, engine.begin() as connection:
        connection.execute(sa.text(statement))
    return caught.value


def test_errors_of_an_unreachable_database_are_told_from_answers(server: PrivatePostgres) -> None:
    url = server.create_database()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    refused = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/skyferry")
    missing = create_engine(url.replace("postgresql://", "postgresql+psycopg://") + "_missing")
    slow = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://"), statement_timeout_seconds=0.1
    )
    busy = sa.create_engine(
        url.replace("postgresql://", "postgresql+psycopg://"),
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.1,
    )
    try:
        assert is_database_unreachable(error_of(refused, "SELECT 1"))
        # a session the server ended (as a fast shutdown or a failover does)
        with engine.connect() as connection:
            pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            with server.admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(sa.exc.OperationalError) as terminated:
                connection.execute(sa.text("SELECT 1"))
        assert is_database_unreachable(terminated.value)

        # answers from a reachable database: retrying would not change them
        assert not is_database_unreachable(error_of(missing, "SELECT 1"))
        assert not is_database_unreachable(error_of(engine, "SELEC 1"))
        timed_out = error_of(slow, "SELECT pg_sleep(1)")
        assert is_statement_timeout(timed_out)
        assert not is_database_unreachable(timed_out)

        # a pool with no connection to give in time
        with busy.connect(), pytest.raises(sa.exc.TimeoutError) as exhausted, busy.connect():
            pass
        assert is_database_unreachable(exhausted.value)
    finally:
        for made in (engine, refused, missing, slow, busy):
            made.dispose()


def test_a_retried_call_waits_for_a_stopped_server_and_resumes_when_it_is_back(
    server: PrivatePostgres,
) -> None:
    url = server.create_database().replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    calls = 0

    def query() -> int:
        nonlocal calls
        calls += 1
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT 42")).scalar_one())

    async def run() -> int:
        return await retry_while_unreachable(
            lambda: asyncio.to_thread(query), what="a test query", give_up_after=60
        )

    server.stop()
    back_at: list[float] = []

    def restart() -> None:
        server.start()
        back_at.append(time.monotonic())

    restarting = threading.Timer(3, restart)
    restarting.start()
    try:
        assert asyncio.run(run()) == 42
        answered_at = time.monotonic()
    finally:
        restarting.join()
        engine.dispose()
    assert calls > 1
    # back within one wait (2 s at most, plus jitter) of the server accepting connections
    assert answered_at - back_at[0] < 2.5, answered_at - back_at[0]


def test_only_unreachable_errors_are_retried_and_the_wait_is_bounded(
    server: PrivatePostgres,
) -> None:
    engine = create_engine(
        server.create_database().replace("postgresql://", "postgresql+psycopg://")
    )
    refused = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/skyferry")
    calls: list[str] = []

    def query(target: sa.Engine, statement: str) -> None:
        calls.append(statement)
        with target.connect() as connection:
            connection.execute(sa.text(statement))

    async def run(target: sa.Engine, statement: str, give_up_after: float) -> None:
        await retry_while_unreachable(
            lambda: asyncio.to_thread(query, target, statement),
            what="a test query",
            give_up_after=give_up_after,
        )

    try:
        with pytest.raises(sa.exc.ProgrammingError):
            asyncio.run(run(engine, "SELEC 1", 60))
        assert calls == ["SELEC 1"]  # a wrong statement fails at once
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError):
            asyncio.run(run(refused, "SELECT 1", 1.0))
        assert time.monotonic() - started < 3
        assert len(calls) > 2
    finally:
        engine.dispose()
        refused.dispose()
