"""``Retry-After`` as a client reads it (RFC 9110, 10.2.3), for every provider client.

Servers send seconds or an HTTP date; a client waits that long before asking again. One reader
for all of them, so every provider honours both forms the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Seconds ``Retry-After`` asks to wait (never negative); None when it says nothing usable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
