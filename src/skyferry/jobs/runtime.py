"""What job code may touch while it runs: settings, the database and the blob store.

DBOS keeps one engine per process, so the runtime it executes jobs against is per process too:
the job engine installs it at launch and removes it at shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from skyferry.config import Settings
from skyferry.storage.blobs import BlobStore


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Engine
    blobs: BlobStore


_current: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("the job engine is not running in this process")
    return _current
