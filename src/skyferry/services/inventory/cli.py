"""``skyferry inventory ...``: set up what the inventory service needs outside the app."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from skyferry.services.inventory.settings import InventorySettings

app = typer.Typer(help="The inventory service.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("create-table")
def create_table(
    table: Annotated[
        str | None,
        typer.Option(
            envvar="SKYFERRY_INVENTORY__DYNAMODB_TABLE",
            help="Table name; by default the inventory settings' dynamodb_table.",
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            envvar="SKYFERRY_INVENTORY__DYNAMODB_REGION",
            help="AWS region; by default the inventory settings' dynamodb_region.",
        ),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="AWS_ENDPOINT_URL", help="A DynamoDB-compatible endpoint (moto)."),
    ] = None,
) -> None:
    """Create the DynamoDB table the dynamodb backend keeps items in; safe to run again."""
    from botocore.exceptions import BotoCoreError, ClientError

    from skyferry import service
    from skyferry.config import ConfigurationError, attach_services, load_settings
    from skyferry.services.inventory.dynamodb import create_table, make_client

    try:
        settings = load_settings()
        attach_services(settings, service.load(["inventory"]))
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    table = table or settings.of(InventorySettings).dynamodb_table
    region = region or settings.of(InventorySettings).dynamodb_region
    endpoint_url = endpoint_url or settings.aws_endpoint_url
    where = f"region {region}" + (f", endpoint {endpoint_url}" if endpoint_url else "")
    try:
        created = create_table(make_client(region, endpoint_url), table)
    except (BotoCoreError, ClientError) as exc:
        console.print(f"[red]cannot create DynamoDB table {table!r} ({where}): {exc}[/red]")
        raise typer.Exit(1) from None
    if created:
        typer.echo(f"created DynamoDB table {table!r} ({where})")
    else:
        typer.echo(f"DynamoDB table {table!r} already exists ({where}); nothing to do")
