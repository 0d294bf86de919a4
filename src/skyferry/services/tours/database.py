"""The tours tables' database: the app's, or one of their own (``SKYFERRY_TOURS__DATABASE_URL``).

A separate database (Supabase, say) gets the tours branch of the migrations only, applied at
start-up under an advisory lock so processes starting together migrate one at a time; it needs
nothing of the core's tables. Behind a transaction-mode pooler (Supabase's on port 6543) set
``SKYFERRY_TOURS__DATABASE_POOLER=transaction``: psycopg then prepares no statements, which
the pooler could route to another server connection. The migration lock is a
transaction-level advisory lock, which a transaction pooler keeps for the whole transaction.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from skyferry.config import Settings
from skyferry.services.tours.settings import ToursSettings
from skyferry.services.tours.tables import metadata
from skyferry.storage.sql import create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x70_0235
"""Any constant: the same in every process that migrates the tours database."""


def open_own_database(settings: Settings, tours: ToursSettings) -> Engine | None:
    """An engine on the tours database when it is not the app's; None when it is."""
    if tours.database_url is None:
        return None
    url = tours.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        pool_size=settings.database_pool_size,
        application_name=settings.application_name("tours"),
        connect_timeout_seconds=settings.database_connect_timeout_seconds,
        statement_timeout_seconds=settings.database_statement_timeout_seconds,
        pooler=tours.database_pooler,
    )


def migrate(engine: Engine) -> None:
    """Bring the tours tables on ``engine`` to the branch's head."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SET LOCAL statement_timeout = 0"))
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        alembic = Config()
        alembic.set_main_option("script_location", "skyferry:migrations")
        alembic.set_main_option("path_separator", "newline")
        alembic.set_main_option("version_locations", str(MIGRATIONS))
        alembic.attributes["target_metadata"] = [metadata]
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "tours@head")
