"""The inventory service: items on SQL or DynamoDB, files in the blob store."""

from __future__ import annotations

from pathlib import Path

import skyferry
from skyferry.services.inventory.api import build_router
from skyferry.services.inventory.cli import app as cli
from skyferry.services.inventory.settings import InventorySettings
from skyferry.services.inventory.sql import metadata

service = skyferry.Service(
    name="inventory",
    router=build_router,
    settings=InventorySettings,
    tables=metadata,
    migrations=Path(__file__).parent / "migrations",
    cli=cli,
)
