"""Page cursors: the last key a page served, through the one cursor codec."""

from __future__ import annotations

from pydantic import BaseModel, Field

from skyferry.http.cursors import decode_cursor as decode
from skyferry.http.cursors import encode_cursor as encode


class _After(BaseModel):
    k: str = Field(min_length=1, max_length=1000)


def encode_cursor(last: str) -> str:
    return encode(_After(k=last))


def decode_cursor(cursor: str) -> str:
    """The key a cursor carries, or InvalidCursorError (400) if no page of ours made it."""
    return decode(cursor, _After).k
