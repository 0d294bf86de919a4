"""Docker: a ``Dockerfile`` (multi-stage with uv, non-root, HEALTHCHECK, exec-form CMD), its
``.dockerignore``, and a ``compose.yaml`` with web, worker, Postgres and MinIO, so a laptop runs
what production runs: separate processes, one Postgres, an S3 API."""

from __future__ import annotations

from typing import Any

from skyferry.deploy import dockerfile
from skyferry.deploy.artifacts import Artifact, load_yaml, to_yaml
from skyferry.deploy.model import AppModel
from skyferry.deploy.schemas import problems as schema_problems

POSTGRES_IMAGE = "postgres:17"
MINIO_IMAGE = "minio/minio:RELEASE.2025-09-07T16-13-09Z"
MINIO_CLIENT_IMAGE = "minio/mc:RELEASE.2025-08-13T08-35-41Z"
BUCKET = "skyferry"

# compose interpolations, for local parity: the shell or a .env beside compose.yaml overrides
# them, and the defaults are for a laptop's private network only
_PASSWORD = "${POSTGRES_PASSWORD:-skyferry}"  # noqa: S105
_MINIO_USER = "${MINIO_ROOT_USER:-skyferry}"
_MINIO_PASSWORD = "${MINIO_ROOT_PASSWORD:-skyferry-secret}"  # noqa: S105


def environment(model: AppModel) -> dict[str, str]:
    env = {
        "SKYFERRY_DATABASE_URL": f"postgresql://skyferry:{_PASSWORD}@postgres:5432/skyferry",
        "SKYFERRY_BLOB_URL": model.blob_url_in(BUCKET),
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_ACCESS_KEY_ID": _MINIO_USER,
        "AWS_SECRET_ACCESS_KEY": _MINIO_PASSWORD,
        "AWS_REGION": "us-east-1",
        **model.base_env,
    }
    for secret in model.secrets:
        env[secret.name] = "${" + secret.name + ":-}"
    return env


def compose(model: AppModel) -> dict[str, Any]:
    image = f"{model.name}:local"
    app: dict[str, Any] = {"image": image, "build": {"context": "."}}
    env = environment(model)
    migrated = {"migrate": {"condition": "service_completed_successfully"}}
    # compose waits this long after SIGTERM before SIGKILL: the jobs' grace, and some margin
    grace = f"{model.shutdown_grace_seconds + 10}s"
    return {
        "name": model.name,
        "services": {
            "migrate": {
                **app,
                "command": model.migrate_command(),
                "environment": env,
                "depends_on": {
                    "postgres": {"condition": "service_healthy"},
                    "bucket": {"condition": "service_completed_successfully"},
                },
            },
            "web": {
                **app,
                "command": model.serve_command(str(model.port)),
                "environment": env,
                "ports": [f"{model.port}:{model.port}"],
                "depends_on": migrated,
                "stop_grace_period": grace,
                "restart": "unless-stopped",
            },
            "worker": {
                **app,
                "command": model.worker_command(),
                "environment": env,
                "depends_on": migrated,
                "stop_grace_period": grace,
                "restart": "unless-stopped",
                # the image's check asks for HTTP, which a worker does not serve
                "healthcheck": {"disable": True},
            },
            "postgres": {
                "image": POSTGRES_IMAGE,
                "environment": {
                    "POSTGRES_USER": "skyferry",
                    "POSTGRES_PASSWORD": _PASSWORD,
                    "POSTGRES_DB": "skyferry",
                },
                "volumes": ["postgres:/var/lib/postgresql/data"],
                "healthcheck": {
                    "test": ["CMD", "pg_isready", "-U", "skyferry", "-d", "skyferry"],
                    "interval": "2s",
                    "retries": 30,
                },
            },
            "minio": {
                "image": MINIO_IMAGE,
                "command": ["server", "/data", "--console-address", ":9001"],
                "environment": {
                    "MINIO_ROOT_USER": _MINIO_USER,
                    "MINIO_ROOT_PASSWORD": _MINIO_PASSWORD,
                },
                "ports": ["9001:9001"],
                "volumes": ["minio:/data"],
                "healthcheck": {
                    "test": ["CMD", "mc", "ready", "local"],
                    "interval": "2s",
                    "retries": 30,
                },
            },
            "bucket": {
                "image": MINIO_CLIENT_IMAGE,
                "depends_on": {"minio": {"condition": "service_healthy"}},
                "environment": {
                    "MC_HOST_local": f"http://{_MINIO_USER}:{_MINIO_PASSWORD}@minio:9000"
                },
                "entrypoint": ["mc", "mb", "--ignore-existing", f"local/{BUCKET}"],
            },
        },
        "volumes": {"postgres": {}, "minio": {}},
    }


def generate(model: AppModel) -> list[Artifact]:
    return [
        Artifact("Dockerfile", dockerfile.container(model)),
        Artifact(".dockerignore", dockerfile.dockerignore()),
        Artifact("compose.yaml", to_yaml(compose(model))),
    ]


def check(files: dict[str, str]) -> list[str]:
    """The Dockerfile through a Dockerfile parser, compose.yaml against the Compose schema."""
    found = dockerfile.problems(files["Dockerfile"], "Dockerfile", health_path="/health")
    document = load_yaml(files["compose.yaml"])
    found += schema_problems(document, "compose-spec.json", "compose.yaml")
    services = document.get("services", {}) if isinstance(document, dict) else {}
    for needed in ("web", "worker", "migrate", "postgres", "minio"):
        if needed not in services:
            found.append(f"compose.yaml: no {needed} service")
    if ".env" not in files[".dockerignore"].splitlines():
        found.append(".dockerignore: .env (secrets) would be copied into the image")
    return found
