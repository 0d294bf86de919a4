"""AWS Lambda entry point for API Gateway (REST and HTTP APIs), Function URLs and ALB events.

Set the function's handler to ``skyferry.runtimes.aws_lambda.handler``. Settings come from the
function's environment as everywhere else. A Lambda instance has only ``/tmp`` to write to and
is replaced at will, so point ``SKYFERRY_DATABASE_URL`` at Postgres and ``SKYFERRY_BLOB_URL`` at
S3, and apply the schema with ``skyferry db upgrade`` when deploying (only SQLite migrates
itself at start-up). Jobs submitted here are queued in that database and run by
``skyferry worker`` processes (Fargate, ECS, a VM): an instance is frozen as soon as its
response is sent, which is no place to run a job. Responses are buffered (API Gateway allows
6 MB); for streamed dataset downloads run ``skyferry serve`` behind the Lambda Web Adapter
instead, which needs no code here at all.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

from skyferry.app import create_app
from skyferry.config import Settings
from skyferry.runtimes import freeze_startup_heap

# bodies Mangum may return as text; anything else goes back base64-encoded
TEXT_MIME_TYPES = [*DEFAULT_TEXT_MIME_TYPES, "application/problem+json", "application/x-ndjson"]


class LambdaApp:
    """The app, started once per Lambda instance and reused by every event it receives.

    Mangum would run the app's lifespan (migrations, DBOS, connection pools) around every
    invocation; here it runs when the instance starts, on an event loop kept for the instance's
    life, which is also the loop Mangum runs each request on.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self.app = create_app(settings, run_workers=False)
        self._lifespan = self.app.router.lifespan_context(self.app)
        self._loop.run_until_complete(self._lifespan.__aenter__())
        self._adapter = Mangum(self.app, lifespan="off", text_mime_types=TEXT_MIME_TYPES)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        asyncio.set_event_loop(self._loop)
        return self._adapter(event, context)

    def close(self) -> None:
        """Stop the app (DBOS, pools); Lambda itself never calls this, tests and tools do."""
        self._loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self._loop.close()


@functools.cache
def _instance() -> LambdaApp:
    started = LambdaApp()
    freeze_startup_heap()
    return started


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler: the first event starts the app, later ones reuse it."""
    return _instance()(event, context)
