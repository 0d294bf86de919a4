"""ECS on Fargate: the CloudFormation template linted by cfn-lint."""

from __future__ import annotations

import pytest

from skyferry.deploy import cloudformation, ecs
from skyferry.deploy.artifacts import load_yaml
from tests.deploy_support import assert_golden, model_of


@pytest.fixture(scope="module")
def cfn_lint() -> None:
    """cfn-lint takes seconds to import: once for this module (the module caches it)."""
    cloudformation._lint_module()


@pytest.mark.usefixtures("cfn_lint")
def test_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = ecs.generate(model_of(monkeypatch))
    assert_golden("ecs", artifacts)
    assert ecs.check({a.path: a.content for a in artifacts}) == []


def test_services_tasks_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = ecs.template(model_of(monkeypatch))["Resources"]
    commands = {
        name: resources[name]["Properties"]["ContainerDefinitions"][0]["Command"]
        for name in ("WebTask", "WorkerTask", "MigrateTask")
    }
    assert commands["WorkerTask"] == ["skyferry", "worker"]
    assert commands["MigrateTask"] == ["skyferry", "db", "upgrade"]
    web = resources["WebTask"]["Properties"]["ContainerDefinitions"][0]
    # secrets are injected by ECS from Secrets Manager, never written as plain environment
    secret_names = {secret["Name"] for secret in web["Secrets"]}
    assert {"SKYFERRY_DATABASE_URL", "SKYFERRY_API_KEYS"} <= secret_names
    assert not secret_names & {variable["Name"] for variable in web["Environment"]}
    assert web["LogConfiguration"]["LogDriver"] == "awslogs"
    breaker = resources["WebService"]["Properties"]["DeploymentConfiguration"]
    assert breaker["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


@pytest.mark.usefixtures("cfn_lint")
def test_changed_settings_change_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    model = model_of(
        monkeypatch,
        SKYFERRY_SERVICES="demo,inventory",
        SKYFERRY_INVENTORY__BACKEND="dynamodb",
        SKYFERRY_SHUTDOWN_GRACE_SECONDS="50",
    )
    files = {a.path: a.content for a in ecs.generate(model)}
    resources = load_yaml(files["ecs.yaml"])["Resources"]
    worker = resources["WorkerTask"]["Properties"]["ContainerDefinitions"][0]
    assert worker["StopTimeout"] == 60
    statements = resources["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert any("dynamodb:GetItem" in statement["Action"] for statement in statements)
    assert ecs.check(files) == []


@pytest.mark.usefixtures("cfn_lint")
def test_an_existing_bucket_is_used_not_made(monkeypatch: pytest.MonkeyPatch) -> None:
    model = model_of(monkeypatch, SKYFERRY_BLOB_URL="s3://their-old-bucket/app")
    files = {a.path: a.content for a in ecs.generate(model)}
    resources = load_yaml(files["ecs.yaml"])["Resources"]
    assert "BlobBucket" not in resources
    statements = resources["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements[0]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::their-old-bucket"}
    assert ecs.check(files) == []


def test_a_certificate_turns_on_https_and_redirects_http(monkeypatch: pytest.MonkeyPatch) -> None:
    template = ecs.template(model_of(monkeypatch))
    assert template["Parameters"]["CertificateArn"]["Default"] == ""
    resources = template["Resources"]
    https = resources["HttpsListener"]
    assert https["Condition"] == "HasCertificate"
    assert https["Properties"]["Port"] == 443
    assert https["Properties"]["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    assert https["Properties"]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    # port 80: a redirect with a certificate, the app without one
    (action,) = resources["Listener"]["Properties"]["DefaultActions"]
    condition, with_certificate, without = action["Fn::If"]
    assert condition == "HasCertificate"
    assert with_certificate["RedirectConfig"]["Protocol"] == "HTTPS"
    assert without == {"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}
    # the web service starts once its target group is behind whichever listener forwards
    assert resources["WebService"]["DependsOn"] == ["Listener", "ListenersReady"]
    ready = resources["ListenersReady"]["Metadata"]["HttpsListener"]["Fn::If"]
    assert ready[1] == {"Ref": "HttpsListener"}


def test_workers_scale_on_the_queue_depth_they_publish(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = ecs.template(model_of(monkeypatch))["Resources"]
    worker = resources["WorkerTask"]["Properties"]["ContainerDefinitions"][0]
    namespace = {"Fn::Sub": "Skyferry/${AWS::StackName}"}
    assert {"Name": "SKYFERRY_QUEUE_METRIC_NAMESPACE", "Value": namespace} in worker["Environment"]
    web = resources["WebTask"]["Properties"]["ContainerDefinitions"][0]
    assert "SKYFERRY_QUEUE_METRIC_NAMESPACE" not in {e["Name"] for e in web["Environment"]}
    spec = resources["WorkerBacklogPolicy"]["Properties"][
        "TargetTrackingScalingPolicyConfiguration"
    ]
    metrics = {m["Id"]: m for m in spec["CustomizedMetricSpecification"]["Metrics"]}
    assert metrics["queued"]["MetricStat"]["Metric"] == {
        "Namespace": namespace,
        "MetricName": "QueuedJobs",
    }
    assert metrics["backlog"]["ReturnData"] is True
    # the task role may put metrics into that namespace only
    statements = resources["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    put = next(s for s in statements if s["Action"] == "cloudwatch:PutMetricData")
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": namespace}}
