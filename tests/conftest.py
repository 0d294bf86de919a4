"""Shared fixtures: a clean environment, and the database backends every engine test runs on.

Isolation: each test gets its own working directory (so ``.env`` and ``.skyferry/`` never leak
between tests), no ``SKYFERRY_*`` variables from the caller, and a fresh SQLite file or a fresh
Postgres database that is dropped afterwards.

The suite runs in parallel (pytest-xdist). Every database name carries the xdist worker's id, so
workers never collide, and each worker copies its Postgres databases from a template of its own:
``CREATE DATABASE … TEMPLATE`` takes a fraction of a second, where migrating a new database takes
about two (most of it DBOS making its system tables).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "SKYFERRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


ORIGINAL_NAMES = ("AWS_ENDPOINT_URL", "TABLE_NAME", "S3_BUCKET", "DATASET_BUCKET")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        # and the original services' names, which skyferry reads as fallbacks
        if name.startswith("SKYFERRY_") or name in ORIGINAL_NAMES:
            monkeypatch.delenv(name)
    # every app a test starts and stops waits for DBOS's notification listener to wake
    monkeypatch.setenv("SKYFERRY_NOTIFICATION_POLLING_SECONDS", "0.05")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL at {POSTGRES_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}")
    return POSTGRES_ADMIN_URL


def xdist_worker() -> str:
    """This process's xdist worker id (``gw0``, ``gw1``…), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _admin(admin_url: str, statement: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(statement)


def _database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def create_postgres_database(admin_url: str, template: str | None = None) -> str:
    """A new database named after this xdist worker; a copy of ``template`` when given."""
    name = f"skyferry_test_{xdist_worker()}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    _admin(admin_url, f'CREATE DATABASE "{name}"{copy}')
    return _database_url(admin_url, name)


def drop_postgres_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> Iterator[str]:
    """Name of this worker's template: a database with every table skyferry makes in one, the
    core's, each service's and DBOS's system tables, as `skyferry db upgrade` and a first start
    leave it. No rows but the migrations' own."""
    from dbos import DBOS

    from skyferry import service
    from skyferry.storage import migrations
    from skyferry.storage.sql import create_engine

    name = f"skyferry_template_{xdist_worker()}_{uuid.uuid4().hex[:12]}"
    _admin(postgres_admin_url, f'CREATE DATABASE "{name}"')
    try:
        url = _database_url(postgres_admin_url, name)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), pool_size=1)
        try:
            migrations.upgrade(engine, service.load(list(service.installed())))
        finally:
            engine.dispose()
        DBOS.migrate(url)
        # a template can only be copied while no one is connected to it, autovacuum included
        _admin(postgres_admin_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        yield name
    finally:
        _admin(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a new SQLite file, or a new Postgres database copied from the worker's
    template, so it has the schema already (the app's migration at start-up finds it current).
    Tests of migrating itself take ``empty_database_url``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/db/skyferry.db"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin_url, request.getfixturevalue("postgres_template"))
    try:
        yield url
    finally:
        drop_postgres_database(admin_url, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database without a single table: a SQLite file, or a new Postgres one."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/db/skyferry.db"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(admin_url, url)


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the local Postgres, for tests that need Postgres itself."""
    url = create_postgres_database(postgres_admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, url)
