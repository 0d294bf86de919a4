"""An answer over Lambda's 6 MB payload limit: a redirect to a presigned S3 URL when blobs are
on S3 (moto server), otherwise a 413 (tests/integration/test_lambda_http.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from skyferry.config import load_settings
from skyferry.runtimes.aws_lambda import LambdaApp

CONTEXT = SimpleNamespace(aws_request_id="oversize-1")


def url_event(method: str, path: str, body: bytes = b"", **headers: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc.lambda-url.eu-west-1.on.aws", **headers},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "203.0.113.9"},
            "requestId": "r-oversize",
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def test_a_large_download_redirects_to_a_presigned_s3_url(
    s3_bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    app = LambdaApp(
        load_settings(
            database_url=f"sqlite:///{tmp_path}/app.db",
            blob_url=f"s3://{s3_bucket}/app",
            aws_endpoint_url=moto_endpoint,
            services=["inventory"],
            log_level="WARNING",
        )
    )
    try:
        big = bytes(range(256)) * (7 * 4096)  # 7 MiB, over the limit as it is and in base64
        put = app(
            url_event("PUT", "/files/big.bin", big, **{"content-type": "application/octet-stream"}),
            CONTEXT,
        )
        assert put["statusCode"] == 201, put["body"]
        answer = app(url_event("GET", "/file/download/big.bin"), CONTEXT)
        assert answer["statusCode"] == 303
        assert answer["body"] == ""
        location = answer["headers"]["location"]
        assert location.startswith(moto_endpoint)
        assert "X-Amz-Signature" in location
        fetched = httpx.get(location)
        assert fetched.status_code == 200
        assert fetched.content == big
        assert fetched.headers["content-type"] == "application/octet-stream"
    finally:
        app.close()
