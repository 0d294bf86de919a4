"""``skyferry lambda …``: the Lambda handler on a laptop, without Docker or an AWS account."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

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
