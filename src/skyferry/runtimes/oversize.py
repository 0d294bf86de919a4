"""Answers larger than Lambda can return (6 MB; 1 MB behind an ALB): a redirect to S3, or a
413.

With the blob store on S3 the whole answer is stored under ``lambda-responses/`` beside the
app's blobs and the client is sent there (``303 See Other``) with a presigned URL valid for
``PRESIGN_SECONDS``; S3 then serves it at any size. Give the bucket a lifecycle rule that
expires that prefix after a day. Any other store has nowhere a client could fetch from, so the
answer is a 413 problem+json naming the limit.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from skyferry.config import Settings
from skyferry.runtimes.asgi import AsgiResponse
from skyferry.runtimes.lambda_http import HttpRequest, payload_limit, problem

if TYPE_CHECKING:
    from obstore.store import S3Config  # only in obstore's type stubs

PRESIGN_SECONDS = 900
RESPONSES_PREFIX = "lambda-responses"


async def oversized(
    settings: Settings, request: HttpRequest, response: AsgiResponse
) -> AsgiResponse:
    """What to answer instead of ``response``, which is over the payload limit of the way
    it came (``payload_limit``)."""
    if settings.blob_url.startswith("s3://") and request.method in ("GET", "HEAD"):
        return await _redirect_to_s3(settings, request, response)
    limit = payload_limit(request.family)
    whose = "an ALB's Lambda target" if request.family == "alb" else "AWS Lambda's"
    return problem(
        request,
        413,
        f"the response ({len(response.body):,} bytes) is larger than {whose} "
        f"{limit:,}-byte response payload limit; ask for less (a Range, a filter, a page), "
        "or use the streaming deployment (Lambda Web Adapter)",
        title="Content Too Large",
        limit_bytes=limit,
    )


async def _redirect_to_s3(
    settings: Settings, request: HttpRequest, response: AsgiResponse
) -> AsgiResponse:
    import obstore
    from obstore.store import S3Store

    parts = urlsplit(settings.blob_url)
    prefix = unquote(parts.path).strip("/")
    config: S3Config = {}
    if settings.aws_endpoint_url:
        config["endpoint"] = settings.aws_endpoint_url
    http = bool(settings.aws_endpoint_url and settings.aws_endpoint_url.startswith("http:"))
    store = S3Store(
        parts.netloc,
        prefix=prefix or None,
        config=config,
        client_options={"allow_http": http},
    )
    key = f"{RESPONSES_PREFIX}/{uuid.uuid4().hex}"
    attributes = {
        name: value
        for name, value in (
            ("Content-Type", response.header("content-type")),
            ("Content-Disposition", response.header("content-disposition")),
        )
        if value
    }
    await obstore.put_async(store, key, response.body, attributes=attributes)
    url = await obstore.sign_async(store, "GET", key, timedelta(seconds=PRESIGN_SECONDS))
    headers = [("location", url), ("cache-control", "no-store")]
    if request.request_id:
        headers.append(("x-request-id", request.request_id))
    return AsgiResponse(status=303, headers=headers, body=b"")
