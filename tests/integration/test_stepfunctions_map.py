"""The library's enrichment as a Step Functions Distributed Map, offline.

moto's Step Functions interpreter (``execute_state_machine``, server mode) runs the generated
state machine: the S3 ``ItemReader``, the ``ItemSelector`` with the Map's context, the
``ResultWriter`` and the aggregation's payload. It cannot invoke Lambda without Docker, so the
Lambda tasks are swapped for what it can run: each item's payload is sent to an SQS queue
(exactly what the Map would hand the function), the aggregation becomes a Pass state whose
output is its payload. Those payloads then go to skyferry's Lambda handler, as Lambda would
deliver them. moto has no ``ItemBatcher`` and writes a manifest without result files, so the
batch shape (AWS's documented ``{"BatchInput", "Items"}``) and the result files (AWS's
documented ``SUCCEEDED_n.json``/``FAILED_n.json`` entries) are built from the payloads and
answers the run produced.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from skyferry.app import load_setup
from skyferry.config import load_settings
from skyferry.deploy import stepfunctions
from skyferry.deploy.model import describe
from skyferry.runtimes.aws_lambda import LambdaApp
from skyferry.services.library.models import ImportRequest
from skyferry.services.library.store import books_key, export_key
from skyferry.services.library.workflows import parse
from tests.integration.test_lambda_worker import FakeContext
from tests.library_exports import goodreads_export
from tests.servers import free_port

BOOKS = 6
PREFIX = "skyferry"


@pytest.fixture(scope="module")
def sfn_endpoint() -> Iterator[str]:
    """A moto server whose Step Functions run state machines (not only record them); its
    interpreter calls S3 and SQS back on the port ``MOTO_PORT`` names."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    requests.post(
        f"{endpoint}/moto-api/config",
        json={"stepfunctions": {"execute_state_machine": True}},
        timeout=10,
    ).raise_for_status()
    try:
        yield endpoint
    finally:
        server.stop()


def runnable_offline(definition: dict[str, Any], queue_url: str, bucket: str) -> dict[str, Any]:
    """The definition with its Lambda tasks replaced by states moto runs, and SAM's
    substitutions made."""
    swapped = copy.deepcopy(definition)
    items = swapped["States"]["Items"]
    item = items["ItemProcessor"]["States"]["Item"]
    assert item["Parameters"]["Payload.$"] == "$"  # the function gets the selected item whole
    items["ItemProcessor"]["States"]["Item"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "$"},
        "End": True,
    }
    aggregate = swapped["States"]["Aggregate"]
    swapped["States"]["Aggregate"] = {
        "Type": "Pass",
        "Parameters": aggregate["Parameters"]["Payload"],
        "End": True,
    }
    text = json.dumps(swapped)
    for name, value in {
        "${ResultsBucket}": bucket,
        "${ResultsPrefix}": f"{PREFIX}/stepfunctions/library-enrich",
    }.items():
        text = text.replace(name, value)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def result_entry(payload: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    """One child execution as a ResultWriter file lists it (Transformation NONE)."""
    return {
        "ExecutionArn": f"arn:aws:states:us-east-1:123456789012:execution:m/run:{uuid.uuid4()}",
        "Input": json.dumps(payload),
        "InputDetails": {"Included": True},
        "Name": str(uuid.uuid4()),
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": "2026-12-02T04:00:00.000Z",
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m/run",
        "Status": status,
        "StopDate": "2026-12-02T04:00:01.000Z",
        **fields,
    }


def test_the_generated_map_runs_offline_and_its_payloads_run_on_the_handler(
    sfn_endpoint: str, aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MOTO_PORT", sfn_endpoint.rsplit(":", 1)[1])
    s3 = boto3.client("s3", endpoint_url=sfn_endpoint)
    sqs = boto3.client("sqs", endpoint_url=sfn_endpoint)
    sfn = boto3.client("stepfunctions", endpoint_url=sfn_endpoint)
    bucket = f"test-{uuid.uuid4().hex[:20]}"
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=f"items-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/app.db",
        blob_url=f"s3://{bucket}/{PREFIX}",
        aws_endpoint_url=sfn_endpoint,
        services=["library"],
        log_level="WARNING",
    )
    # the definition exactly as generated for this app, one item per invocation (moto has no
    # ItemBatcher)
    model = describe(load_setup(settings, default_services=None, run_workers=False))
    (spec,) = model.maps
    definition = stepfunctions.definition(replace(spec, batch_size=1))

    api = LambdaApp(settings)
    try:
        # an upload as the import job's parse step leaves it: export.json and books.json
        export = goodreads_export(BOOKS)
        sha256 = hashlib.sha256(export).hexdigest()
        upload_id = uuid.uuid4().hex
        s3.put_object(Bucket=bucket, Key=f"{PREFIX}/{export_key(sha256)}", Body=export)
        request = ImportRequest(filename="export.csv", file_size=len(export), sha256=sha256)
        api._loop.run_until_complete(parse(upload_id, request))

        machine = sfn.create_state_machine(
            name=f"library-enrich-{uuid.uuid4().hex[:8]}",
            definition=json.dumps(runnable_offline(definition, queue_url, bucket)),
            roleArn="arn:aws:iam::123456789012:role/skyferry-library-enrich",
        )["stateMachineArn"]
        execution_input: dict[str, Any] = {
            "upload_id": upload_id,
            "items": {"Bucket": bucket, "Key": f"{PREFIX}/{books_key(upload_id)}"},
        }
        execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))[
            "executionArn"
        ]
        for _ in range(200):
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                break
            time.sleep(0.05)
        assert described["status"] == "SUCCEEDED", described

        # every book reached the function once, marked for the library's map, with its index
        payloads: list[dict[str, Any]] = []
        while len(payloads) < BOOKS + 1:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                break
            payloads += [json.loads(message["Body"]) for message in got["Messages"]]
        payloads.sort(key=lambda payload: payload["index"])
        assert [payload["index"] for payload in payloads] == list(range(BOOKS))
        assert {json.dumps(p["skyferry_map"]) for p in payloads} == {
            json.dumps({"map": "library.enrich", "step": "items"})
        }
        items = s3.get_object(Bucket=bucket, Key=execution_input["items"]["Key"])
        books = json.loads(items["Body"].read())
        assert [payload["item"] for payload in payloads] == books

        context = FakeContext(deadline=time.monotonic() + 60)
        answers = [api(payload, context) for payload in payloads]
        assert all(answer["outcomes"][0]["ok"] for answer in answers)
        assert [answer["outcomes"][0]["index"] for answer in answers] == list(range(BOOKS))
        assert all(answer["outcomes"][0]["output"]["found_by"] for answer in answers)

        # the same items in a batch, as the Map sends them with an ItemBatcher, and one that
        # is no book: it fails on its own (after its retries), the batch does not
        batched = {
            "BatchInput": {"skyferry_map": {"map": "library.enrich", "step": "items"}},
            "Items": [
                *({"index": p["index"], "item": p["item"]} for p in payloads),
                {"index": BOOKS, "item": {"no": "title"}},
            ],
        }
        answer = api(batched, context)
        assert [o["index"] for o in answer["outcomes"]] == list(range(BOOKS + 1))
        assert [o["output"] for o in answer["outcomes"][:BOOKS]] == [
            a["outcomes"][0]["output"] for a in answers
        ]
        broken = answer["outcomes"][BOOKS]
        assert (broken["ok"], broken["error_type"], broken["attempts"]) == (
            False,
            "ValidationError",
            2,
        )

        # the aggregation, with the payload moto's run produced and the result files of a run
        # where the last book's invocation failed whole
        aggregate = json.loads(described["output"])
        assert aggregate["execution"] == execution_input
        manifest_key = aggregate["results"]["Key"]
        assert manifest_key.startswith(f"{PREFIX}/stepfunctions/library-enrich/")
        folder = manifest_key.rsplit("/", 1)[0]
        succeeded = [
            result_entry(p, "SUCCEEDED", Output=json.dumps(a), OutputDetails={"Included": True})
            for p, a in zip(payloads[:-1], answers[:-1], strict=True)
        ]
        failed = [
            result_entry(
                payloads[-1], "FAILED", Error="Lambda.Unknown", Cause="the function timed out"
            )
        ]
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        files = {"SUCCEEDED": succeeded, "FAILED": failed}
        for status, entries in files.items():
            key = f"{folder}/{status}_0.json"
            s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entries))
            manifest["ResultFiles"][status] = [{"Key": key, "Size": 1}]
        s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest))

        result = api(aggregate, context)["result"]
        assert result["total_books"] == BOOKS
        assert result["data_url"] == f"/data/{upload_id}"
        dashboard = json.loads(
            s3.get_object(Bucket=bucket, Key=f"{PREFIX}/library/{upload_id}/dashboard.json")[
                "Body"
            ].read()
        )
        notes = " ".join(dashboard["metadata"]["processing_notes"])
        assert "enrichment failed: the function timed out" in notes
    finally:
        api.close()


def test_a_payload_for_an_undeclared_map_fails_the_invocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skyferry.runtimes.stepfunctions import UnknownMapError

    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/app.db",
        blob_url=f"file://{tmp_path}/blobs",
        services=["demo"],
        log_level="WARNING",
    )
    api = LambdaApp(settings)
    try:
        payload = {"skyferry_map": {"map": "library.enrich", "step": "items"}, "index": 0}
        with pytest.raises(UnknownMapError, match=r"library\.enrich"):
            api({**payload, "item": {}}, FakeContext(deadline=time.monotonic() + 5))
    finally:
        api.close()
