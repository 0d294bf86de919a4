"""Storage errors: subclasses of the one root, with structured fields and messages safe to show.

Adapters translate their drivers' exceptions into these (``raise StorageError(...) from exc``);
the root's one handler at the HTTP boundary turns them into problem+json: a store that cannot be
reached is a 503 with ``Retry-After``, a missing blob a 404, a key no store accepts a 400.
"""

from __future__ import annotations

from typing import ClassVar

from skyferry.errors import SkyferryError
from skyferry.redaction import without_local_paths

_SHOWN_KEY_CHARS = 80


class StorageError(SkyferryError):
    """A storage backend failed or refused: ``reason`` says why, ``key`` and ``url`` say where.

    Messages never carry credentials, and ``str()`` (the problem's ``detail``) carries no
    absolute local path (a file:// store's root, a file in it): it reaches clients through
    /ready, problem details and job errors. ``log_detail`` is the whole text, for logs.
    """

    status: ClassVar[int] = 503
    title: ClassVar[str | None] = "Storage unavailable"

    def __init__(self, reason: str, *, key: str | None = None, url: str | None = None) -> None:
        self.reason = reason
        self.key = key
        self.url = url
        super().__init__(without_local_paths(self._message()))

    @property
    def log_detail(self) -> str:
        """The message with local paths left in: for the server's own logs only."""
        return self._message()

    def _message(self) -> str:
        where = " in ".join(part for part in (_blob(self.key), self.url) if part)
        return f"{where}: {self.reason}" if where else self.reason

    def __str__(self) -> str:
        return self.detail


class StorageFullError(StorageError):
    """The store has no room for what was written: the disk or the quota is full (ENOSPC,
    EDQUOT). Trying again only helps once someone frees space, so this is 507, not 503."""

    status = 507
    title = "Insufficient Storage"


class StorageReadOnlyError(StorageError):
    """The store refuses writes: its file system is mounted read-only (EROFS), or its root is
    not writable by this process."""

    title = "Storage read-only"


class BlobNotFoundError(StorageError):
    """No blob has this key."""

    status = 404
    title = "Not Found"

    def __init__(self, key: str, *, url: str | None = None) -> None:
        super().__init__("not found", key=key, url=url)


class InvalidBlobKeyError(StorageError, ValueError):
    """The caller passed a key no store accepts; ``reason`` names the rule it breaks."""

    status = 400
    title = "Invalid blob key"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason, key=key)

    def _message(self) -> str:
        return f"invalid {_blob(self.key)}: {self.reason}"


def _blob(key: str | None) -> str:
    """The key for a message: repr escapes control characters, and long keys are cut short."""
    if key is None:
        return ""
    shown = key if len(key) <= _SHOWN_KEY_CHARS else key[:_SHOWN_KEY_CHARS] + "…"
    return f"blob key {shown!r}"
