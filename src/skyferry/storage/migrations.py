"""Applying the Alembic migrations shipped inside the package."""

from __future__ import annotations

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
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # a migration may rightly run longer than the statement timeout requests get
            connection.execute(sa.text("SET LOCAL statement_timeout = 0"))
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        config = _config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(engine: Engine) -> tuple[str, ...]:
    """The revisions applied: one per branch (the core and each service with tables)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())
