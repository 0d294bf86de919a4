"""DuckDB connections that never reach the network and, for serving, only the blob store's files.

Extensions are neither installed nor loaded on demand: the Python package already carries what
this service uses (parquet, json), and anything else would be a download at run time. A serving
database also has external access switched off except for the file store's root, and its
configuration locked, so no statement can widen what it may read.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from skyferry.services.datasets.settings import DatasetsSettings

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


def connect(
    settings: DatasetsSettings, *, temp_directory: Path | None = None
) -> DuckDBPyConnection:
    """An in-memory DuckDB with no extension autoloading, sized by settings."""
    import duckdb

    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "threads": settings.duckdb_threads,
        "memory_limit": settings.duckdb_memory_limit,
    }
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    return duckdb.connect(":memory:", config=config)


def lock_down(connection: DuckDBPyConnection, readable: Path | None) -> None:
    """Allow reading files under ``readable`` only (nothing when None), then freeze settings."""
    if readable is not None:
        # the trailing separator makes it a directory rule, not a prefix of sibling names
        connection.execute("SET allowed_directories = ?", [[str(readable) + "/"]])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


class ServingDatabase:
    """One DuckDB per app, made on first use; each download runs on a cursor of its own.

    Sharing one database gives concurrent downloads one memory limit and one thread pool.
    """

    def __init__(self, settings: DatasetsSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._connection: DuckDBPyConnection | None = None

    def cursor(self, readable: Path | None) -> DuckDBPyConnection:
        """A new connection to the shared database; the first call fixes what it may read."""
        with self._lock:
            if self._connection is None:
                connection = connect(self._settings)
                lock_down(connection, readable)
                self._connection = connection
            return self._connection.cursor()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
