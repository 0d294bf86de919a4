"""The inventory service: items on SQL or DynamoDB, files in the blob store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import skyferry
from skyferry.services.inventory.api import build_router
from skyferry.services.inventory.settings import InventorySettings

if TYPE_CHECKING:
    import sqlalchemy as sa
    import typer


# imported when used (migrations, the CLI), so that serving items from DynamoDB, or a Lambda
# function's first health check, imports neither SQLAlchemy nor typer
def _tables() -> sa.MetaData:
    from skyferry.services.inventory.sql import metadata

    return metadata


def _cli() -> typer.Typer:
    from skyferry.services.inventory.cli import app

    return app


service = skyferry.Service(
    name="inventory",
    router=build_router,
    settings=InventorySettings,
    tables=_tables,
    migrations=Path(__file__).parent / "migrations",
    cli=_cli,
)
