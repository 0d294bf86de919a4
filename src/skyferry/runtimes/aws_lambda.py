"""AWS Lambda entry points: ``handler`` (HTTP and events) and ``worker_handler`` (jobs).

``skyferry.runtimes.aws_lambda.handler`` answers API Gateway (REST and HTTP APIs), Function URL
and ALB events through the app, exactly as uvicorn would (see ``lambda_http``), and hands SQS,
S3, SNS and EventBridge events to the services that declared handlers for them (see
``lambda_events``). ``skyferry.runtimes.aws_lambda.worker_handler`` runs queued jobs within each
invocation's time (see ``lambda_worker``).

Both start skyferry's own app, or a team's own named by ``SKYFERRY_APP=module:app`` (what
``skyferry serve app:app`` serves). Settings come from the function's environment as
everywhere else. A Lambda instance has only ``/tmp`` to write to and is replaced at will, so
point ``SKYFERRY_DATABASE_URL`` at Postgres and ``SKYFERRY_BLOB_URL`` at S3, and apply the
schema with ``skyferry db upgrade`` when deploying.

The app starts in Lambda's init phase (when Lambda imports this module, it names the handler in
``_HANDLER``), which is billed at most once per instance and runs at full CPU; every event then
reuses it and the one event loop it runs on. The API function's start defers the database,
the blob store and the job engine to their first use (``function_app``), so this module and
that start import neither SQLAlchemy nor DBOS.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from skyferry.config import Settings
from skyferry.runtimes import freeze_startup_heap
from skyferry.runtimes.asgi import call
from skyferry.runtimes.lambda_http import (
    PAYLOAD_LIMIT_BYTES,
    InvalidBody,
    answer,
    family_of,
    over_payload_limit,
    parse,
    payload_limit,
    problem,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

RESTART_INTERVAL_SECONDS = 5.0
"""After a failed start, events within this long are refused at once rather than retried."""


class LambdaApp:
    """The app, started once per Lambda instance and reused by every event it receives.

    Its lifespan (DBOS, connection pools, service resources) runs when the instance starts, on
    an event loop kept for the instance's life; each event runs on that loop.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        # imported here, not at module level: an instance that fails to start or only
        # answers events still pays for them once, and the bench measures what is imported
        from skyferry.app import setup_of
        from skyferry.runtimes.lambda_events import EventRouter

        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self.app = function_app(settings, run_workers=False)
            setup = setup_of(self.app)
            self.settings = setup.settings
            self._lifespan = self.app.router.lifespan_context(self.app)
            self._loop.run_until_complete(self._lifespan.__aenter__())
        except BaseException:
            self._loop.close()
            asyncio.set_event_loop(None)
            raise
        wake_workers_on_submit(self.settings)
        self._events = EventRouter(setup.services)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        asyncio.set_event_loop(self._loop)
        return self._loop.run_until_complete(self.handle(event, context))

    async def handle(self, event: dict[str, Any], context: Any) -> Any:
        """Answer one event: an HTTP request through the app, anything else to the services."""
        family = family_of(event)
        if family == "edge":
            return edge_refusal()
        if family is None:
            return await self._events.dispatch(event, context)
        try:
            request = parse(
                event,
                family,
                base_path=self.settings.lambda_base_path,
                invocation_id=getattr(context, "aws_request_id", None),
            )
        except InvalidBody as exc:
            return answer(exc.request, problem(exc.request, 400, str(exc)))
        response = await call(self.app, request.scope(), request.body)
        result = answer(request, response)
        if over_payload_limit(result, len(response.body), payload_limit(family)):
            from skyferry.runtimes.oversize import oversized

            result = answer(request, await oversized(self.settings, request, response))
        return result

    def close(self) -> None:
        """Stop the app (DBOS, pools); Lambda itself never calls this, tests and tools do."""
        self._loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self._loop.close()
        asyncio.set_event_loop(None)


def function_app(settings: Settings | None, *, run_workers: bool) -> FastAPI:
    """The app a function runs: a team's own when ``SKYFERRY_APP`` names one (as the CLI's
    ``APP`` argument does), else skyferry's own.

    The API function defers its connections (``SKYFERRY_DEFER_CONNECTIONS``, unless the
    function sets it): its init phase then imports neither SQLAlchemy nor DBOS, and an event
    that needs no database or job never pays for them. A team's app reads its settings from
    the environment when its module calls ``skyferry.install``, so both choices reach it
    through their environment twins, as the CLI's flags do: the API function must not run
    jobs, the worker must. ``settings``, when given, are used as they are. Lambda refuses
    requests over its invocation limit itself, so skyferry's app leaves out an app-wide body
    limit at or above it.
    """
    from skyferry.app import create_app, import_app
    from skyferry.config import load_settings

    os.environ["SKYFERRY_WORKERS"] = "true" if run_workers else "false"
    if not run_workers:
        os.environ.setdefault("SKYFERRY_DEFER_CONNECTIONS", "true")
    settings = settings or load_settings()
    if settings.app is None:
        return create_app(settings, run_workers=run_workers, bodies_capped_at=PAYLOAD_LIMIT_BYTES)
    return import_app(settings.app)


def wake_workers_on_submit(settings: Settings) -> None:
    """With a wake queue set, every submit in this process also wakes the worker function."""
    if settings.lambda_wake_queue_url:
        from skyferry.jobs.current import current_engine, use_engine
        from skyferry.runtimes.lambda_wake import Waker, WakingJobs

        waker = Waker(settings, settings.lambda_wake_queue_url)
        use_engine(WakingJobs(current_engine(), waker))


def edge_refusal() -> dict[str, Any]:
    """Lambda@Edge (CloudFront) is no place for this app: a clear answer in CloudFront's shape."""
    log.error("refused a Lambda@Edge event: deploy the app behind API Gateway, ALB or a URL")
    detail = (
        "skyferry does not run on Lambda@Edge (CloudFront caps its bodies at 1 MB, 40 KB for "
        "viewer events, and runs no VPC access); put CloudFront in front of API Gateway, an "
        "ALB or a Function URL instead"
    )
    body = problem(None, 501, detail).body.decode()
    return {
        "status": "501",
        "statusDescription": "Not Implemented",
        "headers": {"content-type": [{"key": "Content-Type", "value": "application/problem+json"}]},
        "body": body,
        "bodyEncoding": "text",
    }


class _Instance:
    """The instance's app, started on first need; a failed start is retried at most every
    ``RESTART_INTERVAL_SECONDS``, and leaves no loop or pool behind."""

    def __init__(self) -> None:
        self.app: LambdaApp | None = None
        self._failed_at = -RESTART_INTERVAL_SECONDS
        self._failure = ""

    def get(self) -> LambdaApp | None:
        if self.app is None and time.monotonic() - self._failed_at >= RESTART_INTERVAL_SECONDS:
            try:
                self.app = LambdaApp()
            except Exception as exc:
                self._failed_at = time.monotonic()
                self._failure = type(exc).__name__
                log.exception("the app failed to start")
            else:
                freeze_startup_heap()
        return self.app

    @property
    def failure(self) -> str:
        return self._failure

    def reset(self) -> None:
        """Stop and forget the app (tests, tools)."""
        if self.app is not None:
            self.app.close()
        self.__init__()  # type: ignore[misc]


class StartupFailedError(RuntimeError):
    """The app could not start on this instance; non-HTTP events fail so Lambda retries them."""


instance = _Instance()


def handler(event: dict[str, Any], context: Any) -> Any:
    """The API function's handler: HTTP events through the app, other events to services."""
    app = instance.get()
    if app is not None:
        return app(event, context)
    detail = (
        f"the app failed to start ({instance.failure}); the function's log says why, and "
        "the next start is tried within seconds"
    )
    family = family_of(event)
    if family is None:
        raise StartupFailedError(detail)
    if family == "edge":
        return edge_refusal()
    try:
        request = parse(event, family)
    except InvalidBody as exc:
        request = exc.request
    return answer(request, problem(request, 503, detail))


def worker_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The worker function's handler (SQS wake-ups and a schedule): runs queued jobs until the
    invocation's remaining time nears its safety margin."""
    from skyferry.runtimes.lambda_worker import worker

    return worker().run(event, context)


def _start_in_init_phase() -> None:
    # Lambda names the configured handler in _HANDLER while it imports this module
    configured = os.environ.get("_HANDLER", "")
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    if configured.endswith("aws_lambda.handler"):
        instance.get()
    elif configured.endswith("aws_lambda.worker_handler"):
        from skyferry.runtimes.lambda_worker import worker

        try:
            worker()
        except Exception:
            # each invocation tries again and fails with the reason; the init phase must not
            # crash-loop the instance
            log.exception("the worker failed to start")


_start_in_init_phase()
