"""Blob key rules, checked before a backend sees a key.

One set of rules for every backend, so a key that works on a laptop's file store works on S3 too,
and no key can name a file outside a file store's root.
"""

from __future__ import annotations

import re
import unicodedata

from skyferry.storage.errors import InvalidBlobKeyError

MAX_KEY_BYTES = 1024
"""S3's limit, applied everywhere."""

# obstore's file backend writes "<name>#<n>" while a put is in flight and refuses such blob names
_STAGING_NAME = re.compile(r"#\d+\Z")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged, or raise InvalidBlobKeyError naming the rule it breaks."""
    reason = _problem(key, whole=True)
    if reason is not None:
        raise InvalidBlobKeyError(key, reason)
    return key


def validate_prefix(prefix: str) -> str:
    """Return a list prefix unchanged if keys can start with it; ``""`` lists everything."""
    reason = _problem(prefix, whole=False) if prefix else None
    if reason is not None:
        raise InvalidBlobKeyError(prefix, reason)
    return prefix


def _problem(text: str, *, whole: bool) -> str | None:
    """The rule ``text`` breaks; a prefix (``whole=False``) may stop inside its last segment."""
    if not text:
        return "is empty"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    if size > MAX_KEY_BYTES:
        return f"is {size} bytes long in UTF-8; the limit is {MAX_KEY_BYTES}"
    for char in text:
        if unicodedata.category(char) == "Cc":
            return f"contains the control character U+{ord(char):04X}"
    if "\\" in text:
        return "contains a backslash; segments are separated by '/'"
    if text.startswith("/"):
        return "starts with '/'; keys are relative to the store"
    segments = text.split("/")
    complete = segments if whole else segments[:-1]
    if ".." in complete:
        return "has a '..' segment"
    if "." in complete:
        return "has a '.' segment"
    if "" in complete:
        return "has an empty segment ('//' or a trailing '/')"
    if whole and _STAGING_NAME.search(segments[-1]):
        return "ends with '#' and digits, which the file backend reserves for writes in flight"
    return None
