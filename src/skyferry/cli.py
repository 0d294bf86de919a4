"""The ``skyferry`` command: serve, run workers, migrate, and drive jobs over HTTP."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from skyferry import service
from skyferry.config import ConfigurationError
from skyferry.deploy.targets import MODULES as DEPLOY_TARGETS
from skyferry.http.client import DEFAULT_API, ApiUrl, call, console, open_client, watch
from skyferry.http.server import ServerLimits
from skyferry.runtimes.lambda_cli import app as lambda_app

if TYPE_CHECKING:
    from skyferry.app import Setup


class _WithServiceCommands(TyperGroup):
    """skyferry's own commands, then each installed service's under its name, imported only
    when asked for: ``skyferry serve`` then imports just the services it serves (each brings
    its routes, tables, jobs and clients), and ``skyferry <service> …`` just that service.
    ``--help`` lists them all, so it imports them all."""

    # ctx and commands are of the click that typer vendors privately (typer._click): Any here

    def list_commands(self, ctx: Any) -> list[str]:
        own = super().list_commands(ctx)
        return [*own, *(name for name in _installed_services() if name not in own)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in _installed_services():
            return found
        (loaded,) = service.load([cmd_name])
        commands = loaded.command_line()
        if commands is None:
            return None
        group = typer.main.get_group(commands)
        group.name = cmd_name
        return group


@functools.cache
def _installed_services() -> list[str]:
    return sorted(service.installed())


app = typer.Typer(
    cls=_WithServiceCommands,
    help="skyferry: one web service and its durable jobs, anywhere.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
jobs_app = typer.Typer(
    help="Submit, watch and cancel jobs through the HTTP API.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(lambda_app, name="lambda")


AppPath = Annotated[
    str | None,
    typer.Argument(
        help="A team's own app, module:attribute (e.g. app:app), that called skyferry.install; "
        "skyferry's own app when left out.",
        envvar="SKYFERRY_APP",
        show_default=False,
    ),
]


def _import_app(path: str) -> FastAPI:
    from skyferry.app import import_app

    try:
        return import_app(path)
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _setup(
    app_path: str | None, *, run_workers: bool, role: str | None = None
) -> tuple[FastAPI | None, Setup]:
    """The app to serve (None: skyferry's own, built later) and what it runs with."""
    from skyferry.app import load_setup, setup_of
    from skyferry.storage.preflight import require_databases

    # the flags reach the settings (a team's app reads them in skyferry.install) through their
    # environment twins
    os.environ["SKYFERRY_WORKERS"] = "true" if run_workers else "false"
    if role is not None:
        os.environ["SKYFERRY_PROCESS_ROLE"] = role
    try:
        if app_path is None:
            served, setup = None, load_setup(default_services=None, run_workers=run_workers)
        else:
            served = _import_app(app_path)
            setup = setup_of(served)
        require_databases(setup.settings)
        return served, setup
    except ConfigurationError as exc:
        # one line whatever the terminal's width: it is what the reader needs to act on
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None


_LIMITS = ServerLimits.model_fields


def _limit_help(field: str) -> str:
    return _LIMITS[field].description or ""


@app.command()
def serve(
    app_path: AppPath = None,
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
    header_timeout: Annotated[
        float,
        typer.Option(
            envvar="SKYFERRY_HEADER_TIMEOUT_SECONDS",
            min=0.001,
            help=_limit_help("header_timeout_seconds") + " Then 408.",
        ),
    ] = _LIMITS["header_timeout_seconds"].default,
    body_timeout: Annotated[
        float,
        typer.Option(
            envvar="SKYFERRY_BODY_TIMEOUT_SECONDS",
            min=0.001,
            help=_limit_help("body_timeout_seconds") + " Then 408.",
        ),
    ] = _LIMITS["body_timeout_seconds"].default,
    send_timeout: Annotated[
        float,
        typer.Option(
            envvar="SKYFERRY_SEND_TIMEOUT_SECONDS",
            min=0.001,
            help=_limit_help("send_timeout_seconds") + " Frees a download's memory.",
        ),
    ] = _LIMITS["send_timeout_seconds"].default,
    keep_alive: Annotated[
        int,
        typer.Option(
            envvar="SKYFERRY_KEEP_ALIVE_SECONDS", min=1, help=_limit_help("keep_alive_seconds")
        ),
    ] = _LIMITS["keep_alive_seconds"].default,
    max_header_bytes: Annotated[
        int,
        typer.Option(
            envvar="SKYFERRY_MAX_HEADER_BYTES",
            min=1024,
            help=_limit_help("max_header_bytes") + " Then 431.",
        ),
    ] = _LIMITS["max_header_bytes"].default,
    max_header_count: Annotated[
        int,
        typer.Option(
            envvar="SKYFERRY_MAX_HEADER_COUNT",
            min=1,
            help=_limit_help("max_header_count") + " Then 431.",
        ),
    ] = _LIMITS["max_header_count"].default,
    drain_body_bytes: Annotated[
        int,
        typer.Option(
            envvar="SKYFERRY_DRAIN_BODY_BYTES",
            min=0,
            help=_limit_help("drain_body_bytes") + " Lets clients that send before reading "
            "(urllib, http.client) read a 413.",
        ),
    ] = _LIMITS["drain_body_bytes"].default,
    drain_body_seconds: Annotated[
        float,
        typer.Option(
            envvar="SKYFERRY_DRAIN_BODY_SECONDS", min=0, help=_limit_help("drain_body_seconds")
        ),
    ] = _LIMITS["drain_body_seconds"].default,
) -> None:
    """Serve the HTTP API (and, by default, run jobs in the same process)."""
    from skyferry.app import create_app
    from skyferry.http import server
    from skyferry.runtimes import freeze_startup_heap

    served, setup = _setup(app_path, run_workers=workers)
    if served is None:
        served = create_app(setup.settings, run_workers=workers)
    limits = ServerLimits(
        header_timeout_seconds=header_timeout,
        body_timeout_seconds=body_timeout,
        send_timeout_seconds=send_timeout,
        keep_alive_seconds=keep_alive,
        max_header_bytes=max_header_bytes,
        max_header_count=max_header_count,
        drain_body_bytes=drain_body_bytes,
        drain_body_seconds=drain_body_seconds,
    )
    freeze_startup_heap()
    # uvicorn turns SIGTERM into a graceful shutdown: the lifespan lets running jobs finish
    server.run(
        served,
        limits,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=setup.settings.shutdown_grace_seconds or None,
    )


@app.command()
def worker(app_path: AppPath = None) -> None:
    """Run jobs from the shared queue until SIGTERM or SIGINT, then finish gracefully."""
    import asyncio

    from skyferry.app import running
    from skyferry.jobs.engine import JobEngine
    from skyferry.runtimes import freeze_startup_heap

    _, setup = _setup(app_path, run_workers=True, role="worker")

    async def run(setup: Setup) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with running(setup) as (_, engine):
            assert isinstance(engine, JobEngine)  # a worker's engine starts with the process
            freeze_startup_heap()  # jobs allocate; the collector need not rescan start-up's heap
            console.print(f"worker {engine.executor_id} running; SIGTERM to stop")
            await stop.wait()
            console.print("stopping: letting running jobs finish")

    asyncio.run(run(setup))


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Alembic revision; heads = latest.")] = "heads",
    app_path: Annotated[
        str | None, typer.Option("--app", envvar="SKYFERRY_APP", help="module:attribute")
    ] = None,
) -> None:
    """Apply schema migrations (the core's and every loaded service's) to SKYFERRY_DATABASE_URL,
    and DBOS's to its system database."""
    from dbos import DBOS

    from skyferry.storage import migrations
    from skyferry.storage.sql import create_engine

    _, setup = _setup(app_path, run_workers=False)
    settings = setup.settings
    settings.ensure_local_dirs()
    engine = create_engine(settings.sqlalchemy_url, pool_size=1)
    try:
        migrations.upgrade(engine, setup.services, revision)
        console.print(f"database at revision {', '.join(migrations.current(engine))}")
    finally:
        engine.dispose()
    # processes behind a transaction pooler only check DBOS's schema (its migrations take a
    # session lock), so this, run against Postgres directly, is where it is created
    DBOS.migrate(settings.dbos_system_url)
    console.print("DBOS system tables up to date")


# -- deployment artifacts ------------------------------------------------------------------------


@app.command()
def deploy(
    target: Annotated[str, typer.Argument(help="One of: " + ", ".join(DEPLOY_TARGETS) + ".")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder the artifacts are written to.")
    ] = None,
    check: Annotated[
        bool, typer.Option(help="Validate the artifacts offline and write nothing.")
    ] = False,
    app_path: Annotated[
        str | None,
        typer.Option("--app", envvar="SKYFERRY_APP", help="A team's own app, module:attribute."),
    ] = None,
    package: Annotated[
        str, typer.Option(help="lambda: the functions as a container image, or a zip.")
    ] = "image",
    python: Annotated[str, typer.Option(help="Python version the artifacts run.")] = "3.12",
    name: Annotated[
        str | None,
        typer.Option(
            help="Names the app's resources; skyferry, or a team app's folder.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Generate a target's deployment artifacts from this app's settings and services."""
    from skyferry.deploy import model, targets

    if target not in DEPLOY_TARGETS:
        console.print(f"[red]unknown target {target!r}; choose one of {', '.join(DEPLOY_TARGETS)}")
        raise typer.Exit(2)
    if package not in ("image", "zip"):
        console.print(f"[red]--package is image or zip, got {package!r}[/red]")
        raise typer.Exit(2)
    if output is None and not check:
        console.print("[red]--output DIR is needed, or --check to validate only[/red]")
        raise typer.Exit(2)
    _, setup = _setup(app_path, run_workers=False)
    if name is None:
        name = model.resource_name(Path.cwd().name) if app_path else "skyferry"
    elif model.resource_name(name) != name:
        console.print(f"[red]--name: lower-case letters, digits and -, got {name!r}[/red]")
        raise typer.Exit(2)
    described = model.describe(
        setup,
        app_path=app_path,
        name=name,
        python_version=python,
        package="zip" if package == "zip" else "image",
    )
    try:
        outcome = targets.run(
            targets.get(target), described, None if check else output, check=check
        )
    except ImportError as exc:  # the validators are an extra: generating needs none of them
        console.print(f"[red]--check needs the deploy extra (skyferry[deploy]): {exc}[/red]")
        raise typer.Exit(2) from None
    except ConfigurationError as exc:  # e.g. stepfunctions for an app that declares no map
        console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    for problem in outcome.problems:
        console.print(f"[red]{problem}[/red]", highlight=False)
    if outcome.problems:
        raise typer.Exit(1)
    if check:
        console.print(f"{target}: {len(outcome.artifacts)} artifacts valid")
    for path in outcome.written:
        console.print(str(path), highlight=False)


# -- jobs, over HTTP -----------------------------------------------------------------------------


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
    with open_client(url) as client:
        job = call(client, "POST", f"/jobs/{kind}", json=body, headers=headers)
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
    with open_client(url) as client:
        page = call(client, "GET", "/jobs", params=query)
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
    with open_client(url) as client:
        print(json.dumps(call(client, "GET", f"/jobs/{job_id}"), indent=2))


@jobs_app.command("cancel")
def jobs_cancel(job_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Cancel a queued or running job."""
    with open_client(url) as client:
        job = call(client, "POST", f"/jobs/{job_id}/cancel")
    print(f"{job['id']} {job['status']}")


@jobs_app.command("retry")
def jobs_retry(job_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Run a failed job again from its last checkpoint (finished steps are not redone)."""
    with open_client(url) as client:
        job = call(client, "POST", f"/jobs/{job_id}/retry")
    print(f"{job['id']} {job['status']}")


def main() -> None:  # pragma: no cover - console script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
