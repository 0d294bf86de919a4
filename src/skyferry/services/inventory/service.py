"""The inventory service, as the registry mounts it."""

from __future__ import annotations

from skyferry.registry import Service
from skyferry.services.inventory.api import build_router, install_error_handler
from skyferry.services.inventory.cli import app as cli

service = Service(
    name="inventory",
    router=build_router,
    cli=cli,
    setup=install_error_handler,
    tags=["inventory"],
)
