"""The schema: every loaded service's migrations, and nothing autogenerate would still add.

Alembic's target metadata is the core's tables plus every service's, so a migrated database
that autogenerate finds differences in means a table or column was declared without its
migration (or the other way round).
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from skyferry import service
from skyferry.config import load_settings
from skyferry.storage import migrations
from skyferry.storage.sql import create_engine


def test_a_migrated_database_matches_every_services_tables(database_url: str) -> None:
    services = service.load(list(service.installed()))
    settings = load_settings(database_url=database_url)
    settings.ensure_local_dirs()
    engine = create_engine(settings.sqlalchemy_url)
    try:
        migrations.upgrade(engine, services)
        migrations.upgrade(engine, services)  # idempotent
        target = migrations.config(engine, services).attributes["target_metadata"]
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, target)
            heads = set(migrations.current(engine))
        assert differences == []
        assert heads == {
            "0004",
            "demo_0001",
            "inventory_0001",
            "books_0002",
            "datasets_0001",
            "library_0001",
            "tours_0001",
        }
    finally:
        engine.dispose()
