"""Alembic environment: migrations run against the connection skyferry hands over.

``skyferry.storage.migrations.config`` puts the target metadata (the core's and every loaded
service's) and, when it runs the migrations itself, the connection into ``config.attributes``.
"""

from __future__ import annotations

from alembic import context

from skyferry.storage.sql import create_engine

config = context.config
target_metadata = config.attributes["target_metadata"]
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
