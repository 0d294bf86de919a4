"""Page cursors: the last key a page served, opaque to clients so its form may change."""

from __future__ import annotations

import base64
import binascii

from skyferry.services.inventory.errors import InvalidCursorError


def encode_cursor(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The key a cursor carries, or InvalidCursorError (400) if no page of ours made it."""
    try:
        # validate: the lenient default skips foreign characters, so "%%%" would decode to ""
        last = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        decoded = last.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError from None
    if not decoded:
        raise InvalidCursorError
    return decoded
