"""The books service, as the registry mounts it."""

from __future__ import annotations

from skyferry.registry import Service
from skyferry.services.books import api, cli

service = Service(
    name="books",
    router=lambda settings: api.router,
    cli=cli.app,
    setup=api.install_error_handlers,
    tags=["books"],
)
