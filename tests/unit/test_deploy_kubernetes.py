"""Kubernetes manifests, validated strictly against the schemas kubernetes-validate ships."""

from __future__ import annotations

import pytest

from skyferry.deploy import kubernetes
from skyferry.deploy.artifacts import to_yaml
from tests.deploy_support import assert_golden, model_of


def test_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts = kubernetes.generate(model_of(monkeypatch))
    assert_golden("kubernetes", artifacts)
    assert kubernetes.check({a.path: a.content for a in artifacts}) == []


def test_what_each_manifest_is(monkeypatch: pytest.MonkeyPatch) -> None:
    model = model_of(monkeypatch, SKYFERRY_WORKER_CONCURRENCY="8")
    kinds = {(m["kind"], m["metadata"]["name"]): m for m in kubernetes.manifests(model)}
    web = kinds[("Deployment", "skyferry-web")]["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert web["livenessProbe"]["httpGet"]["path"] == "/health"
    assert {"secretRef": {"name": "skyferry-secrets"}} in web["envFrom"]
    migrate = kinds[("Job", "skyferry-migrate")]["spec"]["template"]["spec"]
    assert migrate["containers"][0]["command"] == ["skyferry", "db", "upgrade"]
    assert ("HorizontalPodAutoscaler", "skyferry-worker") in kinds
    config = kinds[("ConfigMap", "skyferry-config")]["data"]
    assert config["SKYFERRY_WORKER_CONCURRENCY"] == "8"


def test_strict_schemas_refuse_a_misspelt_field(monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = kubernetes.manifests(model_of(monkeypatch))
    manifests[2]["spec"]["replica"] = 2
    manifests[3]["spec"]["replicas"] = "one"
    found = kubernetes.check({"kubernetes.yaml": to_yaml(*manifests)})
    assert len(found) == 2, found
    assert found[0].startswith("kubernetes.yaml: Deployment skyferry-web")
