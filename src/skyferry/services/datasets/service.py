"""The datasets service: streamed, filtered downloads of Parquet datasets through DuckDB."""

from __future__ import annotations

from pathlib import Path

import skyferry
from skyferry.services.datasets.api import build_router, downloads_resource
from skyferry.services.datasets.catalog import metadata
from skyferry.services.datasets.cli import app as cli
from skyferry.services.datasets.settings import DatasetsSettings

service = skyferry.Service(
    name="datasets",
    router=build_router,
    settings=DatasetsSettings,
    tables=metadata,
    migrations=Path(__file__).parent / "migrations",
    resources=[downloads_resource],
    cli=cli,
)
