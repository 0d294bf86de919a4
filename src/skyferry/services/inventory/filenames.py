"""Filenames clients may use, and the blob keys they become.

A name is a relative path ("reports/2026/q1.csv") under the service's blob prefix. The rules are
checked here, before a store sees the name, so the client learns exactly what is wrong (400)
and no name can reach anything outside the prefix, whichever store holds the files.
"""

from __future__ import annotations

import re

from skyferry.services.inventory.errors import InvalidFilenameError
from skyferry.storage.blobs import validate_key
from skyferry.storage.errors import InvalidBlobKeyError

MAX_FILENAME_BYTES = 255

_DRIVE = re.compile(r"\A[A-Za-z]:")


def blob_key(prefix: str, filename: str) -> str:
    """The key under which ``filename`` lives, or InvalidFilenameError naming the broken rule."""
    reason = _problem(filename)
    if reason is None:
        try:
            return validate_key(prefix + filename)
        except InvalidBlobKeyError as exc:
            reason = exc.reason
    raise InvalidFilenameError(filename, reason)


def _problem(filename: str) -> str | None:
    if not filename:
        return "is empty"
    if "\x00" in filename:
        return "contains a NUL byte"
    try:
        size = len(filename.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode"
    if size > MAX_FILENAME_BYTES:
        return f"is {size} bytes long in UTF-8; the limit is {MAX_FILENAME_BYTES}"
    if "\\" in filename:
        return "contains a backslash; use '/' between folders"
    if filename.startswith("/") or _DRIVE.match(filename):
        return "is an absolute path; names are relative to the file store"
    if ".." in filename.split("/"):
        return "has a '..' segment"
    return None
