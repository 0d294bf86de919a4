"""Lambda templates (plain SAM and the Lambda Web Adapter): each translated by aws-sam-translator
and then linted by cfn-lint, as `sam deploy` would send it to CloudFormation."""

from __future__ import annotations

from typing import Any

import pytest

from skyferry.deploy import cloudformation, sam, web_adapter
from skyferry.deploy.artifacts import load_yaml
from tests.deploy_support import assert_golden, model_of


@pytest.fixture(scope="module")
def cfn_lint() -> None:
    """cfn-lint takes seconds to import: once for this module (the module caches it)."""
    cloudformation._lint_module()


def _files(artifacts: list[Any]) -> dict[str, str]:
    return {a.path: a.content for a in artifacts}


@pytest.mark.usefixtures("cfn_lint")
def test_golden_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = sam.generate(model_of(monkeypatch))
    assert_golden("lambda", artifacts)
    assert sam.check(_files(artifacts)) == []


@pytest.mark.usefixtures("cfn_lint")
def test_golden_web_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = web_adapter.generate(model_of(monkeypatch))
    assert_golden("lambda-web-adapter", artifacts)
    assert web_adapter.check(_files(artifacts)) == []
    template = load_yaml(_files(artifacts)["template.yaml"])
    url = template["Resources"]["WebFunction"]["Properties"]["FunctionUrlConfig"]
    assert url["InvokeMode"] == "RESPONSE_STREAM"


def test_http_and_worker_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = sam.template(model_of(monkeypatch))["Resources"]
    http = resources["HttpFunction"]["Properties"]
    assert http["ImageConfig"]["Command"] == ["skyferry.runtimes.aws_lambda.handler"]
    # and the library's upload prefix as the bucket's notification
    assert {event["Type"] for event in http["Events"].values()} == {"HttpApi", "Api", "S3"}
    worker = resources["WorkerFunction"]["Properties"]
    assert worker["ImageConfig"]["Command"] == ["skyferry.runtimes.aws_lambda.worker_handler"]
    assert {event["Type"] for event in worker["Events"].values()} == {"Schedule"}
    # the SQS trigger is a mapping of its own, so the role reads this queue and no other
    wake = resources["WakeUps"]["Properties"]
    assert wake["FunctionName"] == {"Ref": "WorkerFunction"}
    assert wake["EventSourceArn"] == {"Fn::GetAtt": ["WakeQueue", "Arn"]}
    # no table in use, so no DynamoDB permission
    assert not any("DynamoDB" in next(iter(p)) for p in http["Policies"])


@pytest.mark.usefixtures("cfn_lint")
def test_dynamodb_inventory_gets_its_table_and_a_zip(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    model = model_of(
        monkeypatch,
        SKYFERRY_SERVICES="demo,inventory",
        SKYFERRY_INVENTORY__BACKEND="dynamodb",
        SKYFERRY_INVENTORY__DYNAMODB_TABLE="their-items",
    )
    artifacts = sam.generate(replace(model, package="zip"))
    files = _files(artifacts)
    assert "Dockerfile.lambda" not in files
    resources = load_yaml(files["template.yaml"])["Resources"]
    http = resources["HttpFunction"]["Properties"]
    assert http["Handler"] == "skyferry.runtimes.aws_lambda.handler"
    assert http["Runtime"] == "python3.12"
    assert {"DynamoDBCrudPolicy": {"TableName": "their-items"}} in http["Policies"]
    env = http["Environment"]["Variables"]
    assert env["SKYFERRY_INVENTORY__BACKEND"] == "dynamodb"
    assert env["SKYFERRY_INVENTORY__DYNAMODB_REGION"] == {"Ref": "AWS::Region"}
    assert env["SKYFERRY_SERVICES"] == "demo,inventory"
    assert sam.check(files) == []


@pytest.mark.usefixtures("cfn_lint")
def test_lint_reports_what_cloudformation_would_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    template = sam.as_packaged(sam.template(model_of(monkeypatch)))
    template["Resources"]["WorkerFunction"]["Properties"]["Timeout"] = 5000
    template["Resources"]["WakeQueue"]["Properties"]["VisibilityTimeout"] = "soon"
    found = cloudformation.lint(template, "template.yaml")
    assert any("E3717" in problem for problem in found), found
    assert any("E3012" in problem for problem in found), found
    del template["Resources"]["WorkerFunction"]["Properties"]["ImageUri"]
    assert "SAM translation failed" in cloudformation.lint(template, "template.yaml")[0]


@pytest.mark.usefixtures("cfn_lint")
def test_an_existing_bucket_is_used_not_made(monkeypatch: pytest.MonkeyPatch) -> None:
    # a team moving onto skyferry keeps the bucket its service left behind
    model = model_of(monkeypatch, SKYFERRY_BLOB_URL="s3://their-old-bucket/app")
    for target in (sam, web_adapter):
        files = _files(target.generate(model))
        template = load_yaml(files["template.yaml"])
        assert "BlobBucket" not in template["Resources"]
        functions = [r for r in template["Resources"].values() if "Policies" in r["Properties"]]
        for function in functions:
            properties = function["Properties"]
            assert {"S3CrudPolicy": {"BucketName": "their-old-bucket"}} in properties["Policies"]
            env = properties["Environment"]["Variables"]
            assert env["SKYFERRY_BLOB_URL"] == "s3://their-old-bucket/app"
        assert target.check(files) == []


@pytest.mark.usefixtures("cfn_lint")
def test_an_export_landing_under_the_library_upload_prefix_reaches_the_http_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = model_of(monkeypatch, SKYFERRY_LIBRARY__UPLOAD_PREFIX="exports/in/")
    template = sam.template(model)
    event = template["Resources"]["HttpFunction"]["Properties"]["Events"]["LibraryUploads"]
    assert event["Properties"]["Bucket"] == {"Ref": "BlobBucket"}
    assert event["Properties"]["Events"] == "s3:ObjectCreated:*"
    rules = event["Properties"]["Filter"]["S3Key"]["Rules"]
    # the key as the bucket holds it: under the blob store's prefix
    assert rules == [{"Name": "prefix", "Value": "skyferry/exports/in/"}]
    # the bucket notifies the function, which names the bucket without depending on it
    translated = cloudformation.translate(sam.as_packaged(template))
    bucket = translated["Resources"]["BlobBucket"]
    configs = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert configs[0]["Function"] == {"Fn::GetAtt": ["HttpFunction", "Arn"]}
    assert cloudformation.lint(sam.as_packaged(template), "template.yaml") == []


def test_without_the_library_no_notification_and_an_existing_bucket_gets_a_permission(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = sam.template(model_of(monkeypatch, SKYFERRY_SERVICES="demo"))["Resources"][
        "HttpFunction"
    ]["Properties"]["Events"]
    assert "LibraryUploads" not in events
    template = sam.template(model_of(monkeypatch, SKYFERRY_BLOB_URL="s3://their-bucket"))
    resources = template["Resources"]
    assert "BlobBucket" not in resources
    assert "LibraryUploads" not in resources["HttpFunction"]["Properties"]["Events"]
    permission = resources["BucketNotifiesHttpFunction"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::their-bucket"}
    # the bucket's root, as a migrating team's files sit there, not a "skyferry" folder in it
    env = resources["HttpFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SKYFERRY_BLOB_URL"] == "s3://their-bucket"
