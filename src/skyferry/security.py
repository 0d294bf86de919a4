"""Optional API keys: ``X-API-Key`` must be one of ``settings.api_keys`` when any are set.

With no keys configured every request passes, which is what a laptop wants. Keys are compared in
constant time and never logged or echoed; a client is known by a fingerprint of its key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from skyferry.problems import Problem

API_KEY_HEADER = "X-API-Key"

_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Required when the server sets SKYFERRY_API_KEYS.",
)
_CHALLENGE = {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}


async def require_api_key(
    request: Request, presented: Annotated[str | None, Security(_header)]
) -> str | None:
    """The caller's key fingerprint (``key:…``), None when keys are off; else 401."""
    keys = request.app.state.runtime.settings.api_keys
    if not keys:
        return None
    if not presented:
        raise Problem(
            401,
            f"this API needs an {API_KEY_HEADER} header",
            title="API key required",
            headers=_CHALLENGE,
        )
    given = presented.encode("utf-8", "surrogateescape")
    # compare against every key, so the time taken says nothing about which one came close
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.get_secret_value().encode("utf-8"))
    if not matched:
        raise Problem(
            401,
            f"the {API_KEY_HEADER} header does not hold a valid key",
            title="Invalid API key",
            headers=_CHALLENGE,
        )
    return fingerprint(presented)


def fingerprint(key: str) -> str:
    """A short, stable name for a key that does not reveal it, e.g. for rate-limit buckets."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    return f"key:{digest[:16]}"


ApiKey = Annotated[str | None, Security(require_api_key)]
