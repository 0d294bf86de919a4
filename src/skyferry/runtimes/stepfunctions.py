"""Step Functions invocations of skyferry's Lambda handler: a Distributed Map's items, then its
aggregation (``skyferry deploy stepfunctions`` generates the state machine that sends them).

The state machine marks each payload with ``skyferry_map: {"map": "<service>.<name>",
"step": "items" | "aggregate"}``, so the one handler tells them from HTTP and other events:

- **items**, one item (the Map's ``ItemSelector`` output, no ``ItemBatcher``):
  ``{"skyferry_map": {...}, "index": 0, "item": <the item>}``; or a batch (``ItemBatcher``,
  whose ``BatchInput`` carries the mark): ``{"BatchInput": {"skyferry_map": {...}},
  "Items": [{"index": 0, "item": ...}, ...]}``. Each item runs through the service's
  ``DistributedMap.item`` with its retries, as ``ctx.fan_out`` runs it; an item that still
  fails is answered as a failed outcome, not raised, so one bad item does not fail its batch.
  The answer: ``{"outcomes": [{"index", "ok", "output", "error_type", "error_message",
  "attempts"}, ...]}``.
- **aggregate**: ``{"skyferry_map": {...}, "execution": <the execution's input>, "results":
  {"Bucket", "Key"}}``, where ``results`` is the ``ResultWriterDetails`` the Map answers: the
  ``manifest.json`` its ``ResultWriter`` wrote. The outcomes are read from the result files it
  lists (``SUCCEEDED`` entries' ``Output``; ``FAILED`` entries' ``Input`` names the items of a
  batch whose invocation failed whole, ``Error``/``Cause`` why), in item order, and handed to
  ``DistributedMap.aggregate`` as a ``FanOutResult``; its answer is the execution's output.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from skyferry.config import Settings
from skyferry.service import DistributedMap, Service

if TYPE_CHECKING:
    from skyferry.jobs.fanout import ItemOutcome

MARK = "skyferry_map"


class UnknownMapError(LookupError):
    """The payload names a map no loaded service declares: the invocation fails (and the
    state machine's retries and failure tolerance decide what follows)."""


def is_map_payload(event: Mapping[str, Any]) -> bool:
    batch_input = event.get("BatchInput")
    return MARK in event or (isinstance(batch_input, Mapping) and MARK in batch_input)


class MapRouter:
    """Which ``DistributedMap`` a payload is for, from the loaded services."""

    def __init__(self, services: Sequence[Service[Any]]) -> None:
        self._maps = {
            f"{service.name}.{declared.name}": declared
            for service in services
            for declared in service.distributed_maps
        }

    async def dispatch(self, event: Mapping[str, Any]) -> dict[str, Any]:
        mark = event.get(MARK) or event["BatchInput"][MARK]
        declared = self._maps.get(str(mark.get("map")))
        if declared is None:
            raise UnknownMapError(
                f"no loaded service declares the map {mark.get('map')!r}; "
                f"loaded: {sorted(self._maps)}"
            )
        if mark.get("step") == "aggregate":
            return {"result": await self._aggregate(declared, event)}
        # imported here: the fan-out module brings SQLAlchemy, which an HTTP event never needs
        from skyferry.jobs.fanout import run_with_retry

        items = event.get("Items", [event])
        outcomes = await asyncio.gather(
            *(
                run_with_retry(int(item["index"]), item["item"], declared.item, declared.retry)
                for item in items
            )
        )
        return {"outcomes": [_as_json(outcome) for outcome in outcomes]}

    async def _aggregate(self, declared: DistributedMap, event: Mapping[str, Any]) -> Any:
        execution = dict(event["execution"])
        results = event["results"]
        from skyferry.jobs.fanout import FanOutResult, ItemOutcome
        from skyferry.platform import current

        outcomes = await read_results(current().settings, results["Bucket"], results["Key"])
        total = max(outcomes, default=-1) + 1
        ordered = [
            outcomes.get(index)
            or ItemOutcome(index, False, None, "NoResult", "the map recorded no result for it")
            for index in range(total)
        ]
        return await declared.aggregate(execution, FanOutResult(ordered))


async def read_results(
    settings: Settings, bucket: str, manifest_key: str
) -> dict[int, ItemOutcome]:
    """Every item's outcome from a ResultWriter manifest and the files it lists, by index."""
    from skyferry.jobs.fanout import ItemOutcome
    from skyferry.storage.blobs.objectstore import open_blob_store

    store = open_blob_store(f"s3://{bucket}", endpoint_url=settings.aws_endpoint_url)
    manifest = json.loads(await store.read(manifest_key))
    files = manifest.get("ResultFiles", {})
    outcomes: dict[int, ItemOutcome] = {}
    for listed in files.get("SUCCEEDED", []):
        for entry in json.loads(await store.read(listed["Key"])):
            for outcome in json.loads(entry["Output"])["outcomes"]:
                outcomes[outcome["index"]] = ItemOutcome(**outcome)
    for listed in files.get("FAILED", []):
        for entry in json.loads(await store.read(listed["Key"])):
            sent = json.loads(entry["Input"])
            for item in sent.get("Items", [sent]):
                index = int(item["index"])
                outcomes[index] = ItemOutcome(
                    index,
                    False,
                    None,
                    str(entry.get("Error") or "InvocationFailed"),
                    str(entry.get("Cause") or "")[:2000],
                )
    return outcomes


def _as_json(outcome: ItemOutcome) -> dict[str, Any]:
    return {
        "index": outcome.index,
        "ok": outcome.ok,
        "output": outcome.output,
        "error_type": outcome.error_type,
        "error_message": outcome.error_message,
        "attempts": outcome.attempts,
    }
