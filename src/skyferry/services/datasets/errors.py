"""Datasets errors: subclasses of skyferry's root whose ``status`` says how HTTP answers them.

The core's one handler turns them into problem+json; the CLI prints their message.
"""

from __future__ import annotations

from typing import Any, ClassVar

from skyferry.errors import SkyferryError


class DatasetsError(SkyferryError):
    """Something the datasets service refuses or cannot do; the message says what and why."""

    status: ClassVar[int] = 400
    title: ClassVar[str | None] = "Bad Request"

    def __init__(
        self, message: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        # extensions: extra members of the problem document, e.g. the valid choices
        super().__init__(message, headers=headers, **extensions)
        self.message = message


class DatasetNotFoundError(DatasetsError):
    """No dataset has this name."""

    status = 404
    title = "Dataset not found"

    def __init__(self, name: str, available: list[str]) -> None:
        shown = ", ".join(available[:20]) + (", …" if len(available) > 20 else "")
        super().__init__(
            f"no dataset named {name!r}; available: {shown or 'none yet'}",
            dataset=name,
            available=available[:100],
        )


class InvalidQueryError(DatasetsError):
    """A download asked for a format, column, filter value or page the dataset cannot give."""

    title = "Invalid dataset query"


class InvalidDatasetError(DatasetsError):
    """Ingest refused a name or a file: bad name, unreadable file, unusable column names."""

    title = "Invalid dataset"


class DatasetUnavailableError(DatasetsError):
    """The catalog names a Parquet blob the store cannot give (missing, or the store is down)."""

    status = 503
    title = "Dataset unavailable"


class TooManyDownloadsError(DatasetsError):
    """The downloads this process streams hold its download memory, and none ended in time."""

    status = 503
    title = "Too many downloads"
