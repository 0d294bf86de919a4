"""``skyferry lambda …``: the Lambda handler on a laptop, without Docker or an AWS account."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Literal

import typer

app = typer.Typer(help="Run the Lambda handler locally.", no_args_is_help=True)


@app.command()
def invoke(
    event: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An event (JSON).")],
) -> None:
    """Pass one event (API Gateway, Function URL, ALB, SQS, S3, SNS, EventBridge) to
    ``skyferry.runtimes.aws_lambda.handler`` and print its answer as JSON."""
    from skyferry.runtimes.aws_lambda import LambdaApp

    payload = json.loads(event.read_text())
    context = SimpleNamespace(
        function_name="skyferry-local", aws_request_id="local-invoke", memory_limit_in_mb=1024
    )
    started = LambdaApp()
    try:
        answer = started(payload, context)
    finally:
        started.close()
    typer.echo(json.dumps(answer, indent=2))


@app.command()
def serve(
    event_format: Annotated[
        str,
        typer.Option(
            "--event-format",
            envvar="SKYFERRY_LAMBDA_EVENT_FORMAT",
            help="What each request arrives as: rest (API Gateway REST API), http (HTTP API "
            "or Function URL) or alb.",
        ),
    ] = "http",
    stage: Annotated[
        str | None,
        typer.Option(envvar="SKYFERRY_LAMBDA_STAGE", help="A stage in front of the API: /NAME/…"),
    ] = None,
    host: Annotated[str, typer.Option(envvar="SKYFERRY_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SKYFERRY_PORT")] = 9000,
) -> None:
    """Serve HTTP on a local port, turning each request into the event Lambda would receive
    and passing it to the handler, one at a time, as a Lambda instance does."""
    if event_format not in ("rest", "http", "alb"):
        raise typer.BadParameter("choose rest, http or alb", param_hint="--event-format")
    from skyferry.runtimes.aws_lambda import LambdaApp
    from skyferry.runtimes.lambda_local import serve as local_server

    started = LambdaApp()
    fmt: Literal["rest", "http", "alb"] = event_format  # type: ignore[assignment]
    server = local_server(started, fmt, host=host, port=port, stage=stage)
    prefix = f"/{stage}" if stage else ""
    typer.echo(f"Lambda handler ({event_format} events) on http://{host}:{port}{prefix}/")
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C: the app closes its pools
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        started.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
