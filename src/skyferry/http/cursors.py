"""Page cursors: one codec for every listing. A cursor is a small pydantic model, as JSON,
base64url-encoded: opaque to clients, so its form may change, and checked on the way back in,
so no cursor a client makes up can reach a query (or overflow a number) unchecked.
"""

from __future__ import annotations

import base64
import binascii
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from skyferry.errors import SkyferryError

C = TypeVar("C", bound=BaseModel)

MAX_CURSOR_CHARS = 1000


class InvalidCursorError(SkyferryError):
    status = 400
    title = "Invalid cursor"

    def __init__(self) -> None:
        super().__init__("cursor is not one this API returned; start again without it")


def encode_cursor(position: BaseModel) -> str:
    raw = position.model_dump_json(exclude_defaults=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, model: type[C]) -> C:
    """The position a cursor carries, or ``InvalidCursorError`` (400) if no page of ours made it.

    ``model``'s field constraints bound every value (e.g. ``ge=0, le=...`` on numbers).
    """
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursorError
    try:
        # validate: the lenient default skips foreign characters, so "%%%" would decode to ""
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return model.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError):
        raise InvalidCursorError from None
