"""Alembic environment: migrations run against the connection skyferry hands over."""

from __future__ import annotations

from alembic import context

import skyferry.jobs.demo
import skyferry.jobs.tables  # noqa: F401  (registers the tables on the metadata)
from skyferry.storage.sql import create_engine, metadata

target_metadata = metadata
config = context.config
connection = config.attributes.get("connection")

if connection is None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", pool_size=1)
    with engine.begin() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        context.run_migrations()
    engine.dispose()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
