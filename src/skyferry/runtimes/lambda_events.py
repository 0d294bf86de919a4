"""Non-HTTP Lambda events (SQS, S3, SNS, EventBridge and schedules) handed to the services.

A service declares handlers in ``Service.events``, by source: ``"sqs"``, ``"s3"``, ``"sns"``,
``"eventbridge"``, and ``"schedule:<name>"`` for one of its ``Service.schedules``. A handler
gets one record at a time (an SQS message, an S3 notification record, an SNS record, or the
whole EventBridge event) and the invocation's context; it may be sync or async, and it runs on
the app's event loop with the app's resources open, so it may submit jobs.

- **SQS**: a message whose handler raises is reported in ``batchItemFailures`` and comes back
  after its visibility timeout; the others are deleted (the event source mapping needs
  ``FunctionResponseTypes: [ReportBatchItemFailures]``).
- **S3, SNS, EventBridge**: every record is handled; if one failed, the invocation fails after
  the others ran, and Lambda retries the event (so handlers must be safe to repeat).
- **Schedules**: an EventBridge ``Scheduled Event`` goes to the schedule whose
  ``<service>-<name>`` ends its rule's name (``skyferry deploy`` names the rules so).
- **Step Functions**: a Distributed Map's payloads (marked ``skyferry_map``) go to the
  service's ``DistributedMap`` (see ``skyferry.runtimes.stepfunctions``).
- An event no service handles is logged and acknowledged, never an exception.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from skyferry.runtimes.stepfunctions import MapRouter, is_map_payload
from skyferry.service import EventHandler, Service

log = logging.getLogger(__name__)


class EventsFailedError(RuntimeError):
    """Some records of an S3, SNS or EventBridge event failed: Lambda retries the event."""


def source_of(event: Mapping[str, Any]) -> str | None:
    """``sqs``, ``s3``, ``sns``, ``schedule`` or ``eventbridge`` (None: none of them)."""
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource") or records[0].get("EventSource")
        return {"aws:sqs": "sqs", "aws:s3": "s3", "aws:sns": "sns"}.get(str(source))
    if "detail-type" in event and "source" in event:
        scheduled = event.get("source") == "aws.events" and (
            event.get("detail-type") == "Scheduled Event"
        )
        return "schedule" if scheduled else "eventbridge"
    return None


class EventRouter:
    """Which service handles which event source, from the loaded services."""

    def __init__(self, services: Sequence[Service[Any]]) -> None:
        self._handlers: dict[str, list[tuple[str, EventHandler]]] = {}
        for service in services:
            for key, handler in service.events.items():
                self._handlers.setdefault(key, []).append((service.name, handler))
            for schedule in service.schedules:
                key = f"schedule:{service.name}-{schedule.name}"
                self._handlers.setdefault(key, []).append((service.name, schedule.handler))
        self._maps = MapRouter(services)

    async def dispatch(self, event: dict[str, Any], context: Any) -> Any:
        if is_map_payload(event):  # a Step Functions Distributed Map's items or aggregation
            return await self._maps.dispatch(event)
        source = source_of(event)
        if source == "sqs":
            return await self._sqs(event, context)
        if source in ("s3", "sns"):
            await self._all(source, event["Records"], context)
            return {"handled": len(event["Records"])}
        if source == "eventbridge":
            await self._all("eventbridge", [event], context)
            return {"handled": 1}
        if source == "schedule":
            key = self._schedule_key(event)
            if key is None:
                self._unhandled("a scheduled event of no declared schedule", event)
                return {"handled": 0}
            await self._all(key, [event], context)
            return {"handled": 1}
        self._unhandled("an event of no known source", event)
        return {"handled": 0}

    async def _sqs(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        handlers = self._handlers.get("sqs", [])
        if not handlers:
            self._unhandled("SQS messages", event)
        failures: list[dict[str, str]] = []
        for record in event["Records"]:
            if not await self._each(handlers, record, context):
                failures.append({"itemIdentifier": str(record.get("messageId", ""))})
        return {"batchItemFailures": failures}

    async def _all(self, key: str, records: list[dict[str, Any]], context: Any) -> None:
        handlers = self._handlers.get(key, [])
        if not handlers:
            self._unhandled(f"{key} events", {"records": len(records)})
            return
        failed = 0
        for record in records:
            failed += not await self._each(handlers, record, context)
        if failed:
            raise EventsFailedError(f"{failed} of {len(records)} {key} records failed")

    async def _each(
        self, handlers: list[tuple[str, EventHandler]], record: dict[str, Any], context: Any
    ) -> bool:
        ok = True
        for service, handler in handlers:
            try:
                result = handler(record, context)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("event handler failed", extra={"service": service})
                ok = False
        return ok

    def _schedule_key(self, event: Mapping[str, Any]) -> str | None:
        for resource in event.get("resources") or ():
            rule = str(resource).rsplit("/", 1)[-1]
            for key in self._handlers:
                if key.startswith("schedule:") and rule.endswith(key.removeprefix("schedule:")):
                    return key
        return None

    @staticmethod
    def _unhandled(what: str, event: Mapping[str, Any]) -> None:
        log.warning(
            "no service handles %s; acknowledged", what, extra={"event_keys": sorted(event)[:10]}
        )
