"""Non-HTTP events (real payloads, tests/fixtures/lambda) reach the services that declared
handlers for them: SQS with partial batch failures, S3, SNS, EventBridge and schedules; an
event nobody handles is acknowledged."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import skyferry
from skyferry.runtimes.lambda_events import EventRouter, EventsFailedError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lambda"

# the shape EventBridge gives a scheduled rule's target, as documented in
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2015-10-08T16:53:06Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/prod-stack-shop-nightly"],
    "detail": {},
}


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def dispatch(router: EventRouter, event: dict[str, Any]) -> Any:
    return asyncio.run(router.dispatch(event, None))


def test_sqs_messages_whose_handler_fails_come_back_in_batch_item_failures() -> None:
    seen: list[str] = []

    async def on_message(record: dict[str, Any], context: Any) -> None:
        seen.append(record["body"])
        if not record["body"].startswith("{"):
            raise ValueError("not JSON")

    router = EventRouter([skyferry.Service(name="shop", events={"sqs": on_message})])
    event = fixture("powertools-sqsEvent.json")
    answer = dispatch(router, event)
    assert seen == [r["body"] for r in event["Records"]]
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_s3_sns_and_eventbridge_records_reach_their_handlers() -> None:
    got: dict[str, list[Any]] = {"s3": [], "sns": [], "eventbridge": []}
    service: skyferry.Service[Any] = skyferry.Service(
        name="shop",
        events={
            "s3": lambda record, _: got["s3"].append(record["s3"]["object"]["key"]),
            "sns": lambda record, _: got["sns"].append(record["Sns"]["Message"]),
            "eventbridge": lambda event, _: got["eventbridge"].append(event["detail-type"]),
        },
    )
    router = EventRouter([service])
    for name in ("s3Event", "snsEvent", "eventBridgeEvent"):
        dispatch(router, fixture(f"powertools-{name}.json"))
    assert got["s3"] == ["b21b84d653bb07b05b1e6b33684dc11b"]
    assert got["sns"] == ["Hello from SNS!"]
    assert got["eventbridge"] == ["EC2 Instance State-change Notification"]


def test_a_failed_s3_record_fails_the_invocation_after_the_others_ran() -> None:
    def broken(record: dict[str, Any], context: Any) -> None:
        raise RuntimeError("disk full")

    router = EventRouter([skyferry.Service(name="shop", events={"s3": broken})])
    with pytest.raises(EventsFailedError, match="1 of 1 s3 records failed"):
        dispatch(router, fixture("powertools-s3Event.json"))


def test_a_schedule_runs_by_its_rule_name() -> None:
    runs: list[str] = []
    nightly = skyferry.Schedule(
        name="nightly", expression="cron(0 3 * * ? *)", handler=lambda e, _: runs.append(e["id"])
    )
    router = EventRouter([skyferry.Service(name="shop", schedules=[nightly])])
    assert dispatch(router, SCHEDULED) == {"handled": 1}
    assert runs == [SCHEDULED["id"]]
    other = {**SCHEDULED, "resources": ["arn:aws:events:us-east-1:1:rule/someone-else"]}
    assert dispatch(router, other) == {"handled": 0}


def test_events_nobody_handles_are_acknowledged(caplog: pytest.LogCaptureFixture) -> None:
    router = EventRouter([skyferry.Service(name="shop")])
    assert dispatch(router, fixture("powertools-sqsEvent.json")) == {"batchItemFailures": []}
    assert dispatch(router, fixture("powertools-s3Event.json")) == {"handled": 1}
    assert dispatch(router, SCHEDULED) == {"handled": 0}
    assert dispatch(router, {"whatever": True}) == {"handled": 0}
    assert "no service handles" in caplog.text


def test_services_name_known_sources_and_valid_schedules() -> None:
    with pytest.raises(ValueError, match="unknown event sources"):
        skyferry.Service(name="shop", events={"kinesis": lambda r, c: None})
    with pytest.raises(ValueError, match="not rate"):
        skyferry.Schedule(name="x", expression="every day", handler=lambda e, c: None)
