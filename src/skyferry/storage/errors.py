"""Storage errors: one root, subclasses with structured fields, messages safe to log and show.

Adapters translate their drivers' exceptions into these (``raise StorageError(...) from exc``);
one handler at the HTTP boundary turns them into problem+json.
"""

from __future__ import annotations

from typing import Any

from skyferry.redaction import without_local_paths

_SHOWN_KEY_CHARS = 80


class StorageError(Exception):
    """A storage backend failed or refused: ``reason`` says why, ``key`` and ``url`` say where.

    Messages never carry credentials, and ``str()`` carries no absolute local path (a file://
    store's root, a file in it): it reaches clients through /ready, problem details and job
    errors. ``detail`` is the whole text, for logs.
    """

    def __init__(self, reason: str, *, key: str | None = None, url: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key
        self.url = url

    def __str__(self) -> str:
        return without_local_paths(self.detail)

    @property
    def detail(self) -> str:
        """The message with local paths left in: for the server's own logs only."""
        where = " in ".join(part for part in (_blob(self.key), self.url) if part)
        return f"{where}: {self.reason}" if where else self.reason

    def __reduce__(self) -> tuple[Any, ...]:
        # DBOS pickles the exception of a failed step; the default reduce calls
        # type(self)(*self.args), which does not fit the subclasses' signatures
        return (_rebuild, (type(self), self.args, self.__dict__))


class BlobNotFoundError(StorageError):
    """No blob has this key."""

    def __init__(self, key: str, *, url: str | None = None) -> None:
        super().__init__("not found", key=key, url=url)


class InvalidBlobKeyError(StorageError, ValueError):
    """The caller passed a key no store accepts; ``reason`` names the rule it breaks."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason, key=key)

    @property
    def detail(self) -> str:
        return f"invalid {_blob(self.key)}: {self.reason}"


def _rebuild(cls: type[StorageError], args: tuple[Any, ...], state: dict[str, Any]) -> StorageError:
    """Unpickle without calling ``__init__``: the fields come back from ``state``."""
    error = cls.__new__(cls, *args)
    error.__dict__.update(state)
    return error


def _blob(key: str | None) -> str:
    """The key for a message: repr escapes control characters, and long keys are cut short."""
    if key is None:
        return ""
    shown = key if len(key) <= _SHOWN_KEY_CHARS else key[:_SHOWN_KEY_CHARS] + "…"
    return f"blob key {shown!r}"
