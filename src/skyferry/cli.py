"""The ``skyferry`` command: serve, run workers, migrate, and drive jobs over HTTP."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from skyferry import registry
from skyferry.config import ConfigurationError, Settings, load_settings

app = typer.Typer(
    help="skyferry: one web service and its durable jobs, anywhere.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
jobs_app = typer.Typer(
    help="Submit, watch and cancel jobs through the HTTP API.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
for _service in registry.load_all():
    if _service.cli is not None:
        app.add_typer(_service.cli, name=_service.name)

console = Console(stderr=True)
ApiUrl = Annotated[
    str, typer.Option("--url", envvar="SKYFERRY_API_URL", help="Base URL of a running skyferry.")
]
DEFAULT_API = "http://127.0.0.1:8000"


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="SKYFERRY_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SKYFERRY_PORT")] = 8000,
    workers: Annotated[
        bool,
        typer.Option(
            "--workers/--no-workers",
            envvar="SKYFERRY_WORKERS",
            help="Run jobs in this process (embedded default) or leave them to `skyferry worker`.",
        ),
    ] = True,
) -> None:
    """Serve the HTTP API (and, by default, run jobs in the same process)."""
    import uvicorn

    from skyferry.app import create_app
    from skyferry.runtimes import freeze_startup_heap

    settings = _settings(workers=workers)
    app = create_app(settings)
    freeze_startup_heap()
    # uvicorn turns SIGTERM into a graceful shutdown: the lifespan lets running jobs finish
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds or None,
    )


@app.command()
def worker() -> None:
    """Run jobs from the shared queue until SIGTERM or SIGINT, then finish gracefully."""
    from skyferry.app import build_runtime
    from skyferry.jobs.engine import JobEngine
    from skyferry.logs import configure_logging
    from skyferry.storage import migrations

    settings = _settings(process_role="worker")
    configure_logging(settings)
    rt = build_runtime(settings)
    if settings.migrate_on_start:
        migrations.upgrade(rt.database)
    engine = JobEngine(rt, run_workers=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    engine.start()
    console.print(f"worker {engine.executor_id} running; SIGTERM to stop")
    stop.wait()
    console.print("stopping: letting running jobs finish")
    engine.stop()
    rt.database.dispose()


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Apply schema migrations to SKYFERRY_DATABASE_URL, and DBOS's to its system database."""
    from dbos import DBOS

    from skyferry.storage import migrations
    from skyferry.storage.sql import create_engine

    settings = _settings()
    settings.ensure_local_dirs()
    engine = create_engine(settings.sqlalchemy_url, pool_size=1)
    migrations.upgrade(engine, revision)
    console.print(f"database at revision {', '.join(migrations.current(engine))}")
    engine.dispose()
    # processes behind a transaction pooler only check DBOS's schema (its migrations take a
    # session lock), so this, run against Postgres directly, is where it is created
    DBOS.migrate(settings.dbos_system_url)
    console.print("DBOS system tables up to date")


# -- jobs, over HTTP -----------------------------------------------------------------------------


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {client.base_url}: {exc}[/red]")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        console.print(f"[red]{response.status_code}: {detail}[/red]")
        raise typer.Exit(1)
    return response.json()


def watch(client: httpx.Client, job_id: str, poll_seconds: float = 0.2) -> dict[str, Any]:
    """Show a live progress bar until the job is final; return its record."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(job_id[:12], total=None, message="queued")
        while True:
            job = _call(client, "GET", f"/jobs/{job_id}")
            progress = job["progress"]
            bar.update(
                task,
                completed=progress["done"],
                total=progress["total"],
                message=progress["message"] or job["status"],
            )
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return dict(job)
            time.sleep(poll_seconds)


@jobs_app.command("run")
def jobs_run(
    kind: Annotated[str, typer.Argument(help="Job kind; `demo` is always there.")],
    params: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value (JSON values allowed).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Show a progress bar until the job ends.")] = False,
    idempotency_key: Annotated[str | None, typer.Option()] = None,
    url: ApiUrl = DEFAULT_API,
) -> None:
    """Submit a job (POST /jobs/KIND) and print its id, or follow it with --wait."""
    body: dict[str, Any] = {}
    for pair in params or []:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected key=value, got {pair!r}")
        try:
            body[key] = json.loads(raw)
        except ValueError:
            body[key] = raw
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with _client(url) as client:
        job = _call(client, "POST", f"/jobs/{kind}", json=body, headers=headers)
        if not wait:
            print(job["id"])
            return
        final = watch(client, job["id"])
    print(json.dumps(final, indent=2))
    if final["status"] != "succeeded":
        raise typer.Exit(1)


@jobs_app.command("ls")
def jobs_ls(
    kind: str | None = None,
    status: str | None = None,
    limit: int = 20,
    url: ApiUrl = DEFAULT_API,
) -> None:
    """List recent jobs."""
    query = {k: v for k, v in {"kind": kind, "status": status, "limit": limit}.items() if v}
    with _client(url) as client:
        page = _call(client, "GET", "/jobs", params=query)
    table = Table("kind", "status", "progress", "created")
    table.add_column("id", no_wrap=True, min_width=32)
    for job in page["items"]:
        progress = job["progress"]
        done = (
            f"{progress['done']}/{progress['total']}"
            if progress["total"]
            else str(progress["done"])
        )
        table.add_row(job["kind"], job["status"], done, job["created_at"][:19], job["id"])
    Console().print(table)


@jobs_app.command("show")
def jobs_show(job_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Print one job's record as JSON."""
    with _client(url) as client:
        print(json.dumps(_call(client, "GET", f"/jobs/{job_id}"), indent=2))


@jobs_app.command("cancel")
def jobs_cancel(job_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Cancel a queued or running job."""
    with _client(url) as client:
        job = _call(client, "POST", f"/jobs/{job_id}/cancel")
    print(f"{job['id']} {job['status']}")


def main() -> None:  # pragma: no cover - console script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
