"""Kubernetes: web and worker Deployments, a Service, HorizontalPodAutoscalers, the migration
Job, and a ConfigMap of settings; secrets (the database URL, the blob store, API keys) come
from a Secret you create, which the manifests reference and never contain."""

from __future__ import annotations

from typing import Any

from skyferry.deploy import dockerfile
from skyferry.deploy.artifacts import Artifact, to_yaml
from skyferry.deploy.model import AppModel

KUBERNETES_VERSION = "1.34"


def _labels(model: AppModel, role: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": model.name, "app.kubernetes.io/component": role}


def _env_from(model: AppModel) -> list[dict[str, Any]]:
    return [
        {"configMapRef": {"name": f"{model.name}-config"}},
        {"secretRef": {"name": f"{model.name}-secrets"}},
    ]


def _container(model: AppModel, role: str, command: list[str]) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": role,
        "image": f"{model.name}:latest",
        "command": command,
        "envFrom": _env_from(model),
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"memory": "1Gi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": dockerfile.USER_ID,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if role == "web":
        container["ports"] = [{"name": "http", "containerPort": model.port}]
        # live while the process answers; ready while the database and blobs answer too
        container["livenessProbe"] = {
            "httpGet": {"path": model.health_path, "port": "http"},
            "periodSeconds": 10,
        }
        container["readinessProbe"] = {
            "httpGet": {"path": model.ready_path, "port": "http"},
            "periodSeconds": 5,
        }
    return container


def _pod(model: AppModel, role: str, command: list[str], restart: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": _labels(model, role)},
        "spec": {
            # SIGTERM first: running jobs get their grace, and a margin, before SIGKILL
            "terminationGracePeriodSeconds": model.shutdown_grace_seconds + 10,
            "restartPolicy": restart,
            "containers": [_container(model, role, command)],
        },
    }


def deployment(model: AppModel, role: str, command: list[str], replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{model.name}-{role}", "labels": _labels(model, role)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _labels(model, role)},
            "template": _pod(model, role, command, "Always"),
        },
    }


def autoscaler(model: AppModel, role: str, maximum: int, cpu: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": f"{model.name}-{role}", "labels": _labels(model, role)},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": f"{model.name}-{role}",
            },
            "minReplicas": 1,
            "maxReplicas": maximum,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu},
                    },
                }
            ],
        },
    }


def manifests(model: AppModel) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{model.name}-config", "labels": _labels(model, "config")},
            "data": model.base_env,
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"{model.name}-migrate", "labels": _labels(model, "migrate")},
            "spec": {
                "backoffLimit": 3,
                "ttlSecondsAfterFinished": 3600,
                "template": _pod(model, "migrate", model.migrate_command(), "Never"),
            },
        },
        deployment(model, "web", model.serve_command(str(model.port)), 2),
        deployment(model, "worker", model.worker_command(), 1),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": model.name, "labels": _labels(model, "web")},
            "spec": {
                "selector": _labels(model, "web"),
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        autoscaler(model, "web", 10, 70),
        autoscaler(model, "worker", 10, 60),
    ]


def generate(model: AppModel) -> list[Artifact]:
    return [Artifact("kubernetes.yaml", to_yaml(*manifests(model)))]


def check(files: dict[str, str]) -> list[str]:
    """Each manifest against the Kubernetes schemas kubernetes-validate ships, strictly (a
    misspelt field is an error, as ``kubectl apply --validate=strict`` makes it)."""
    import yaml
    from kubernetes_validate import ValidationError, validate  # the deploy extra

    found = []
    for document in yaml.safe_load_all(files["kubernetes.yaml"]):
        where = f"kubernetes.yaml: {document.get('kind')} {document['metadata']['name']}"
        try:
            validate(document, KUBERNETES_VERSION, strict=True)
        except ValidationError as exc:
            path = "/".join(str(part) for part in exc.path)
            found.append(f"{where}: {path}: {exc.message}")
    return found
