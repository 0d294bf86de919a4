"""``skyferry tours ...``: generate a city's tours through the HTTP API and print them.

skyferry tours generate ChIJD7fiBh9u5kcRYJSMaMOCCwQ --tours 3 --minutes 120 --wait
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from skyferry.http.client import DEFAULT_API, ApiUrl, call, console, open_client, request, watch

app = typer.Typer(
    help="Make walking tours of cities; list, show and delete them.", no_args_is_help=True
)


@app.command("generate")
def generate(
    place_id: Annotated[str, typer.Argument(help="The city's Google place id.")],
    tours: Annotated[int, typer.Option("--tours", min=1, max=10)] = 4,
    minutes: Annotated[int, typer.Option("--minutes", min=30, max=480, help="Per tour.")] = 180,
    language: Annotated[str | None, typer.Option(help="e.g. fr")] = None,
    max_attractions: Annotated[int | None, typer.Option(min=1, max=300)] = None,
    wait: Annotated[bool, typer.Option(help="Show each stage until the tours are made.")] = False,
    idempotency_key: Annotated[str | None, typer.Option(help="Repeat safely.")] = None,
    url: ApiUrl = DEFAULT_API,
) -> None:
    """Start making tours (POST /api/generate-city) and print the job id; --wait follows it."""
    body: dict[str, Any] = {"place_id": place_id, "max_tours": tours, "minutes_per_tour": minutes}
    if language:
        body["language"] = language
    if max_attractions:
        body["max_attractions"] = max_attractions
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with open_client(url) as client:
        job = call(client, "POST", "/api/generate-city", json=body, headers=headers)
        print(job["id"])
        if not wait:
            return
        final = watch(client, job["id"])
        if final["status"] != "succeeded":
            error = (final.get("error") or {}).get("message", "")
            console.print(f"[red]job {job['id']} {final['status']}[/red] {error}")
            raise typer.Exit(1)
        result = call(client, "GET", f"/jobs/{job['id']}/result")["result"]
        city = call(client, "GET", f"/cities/{result['city_id']}")
    _print_city(city)


@app.command("show")
def show(city_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Print a city and its tours as JSON."""
    with open_client(url) as client:
        print(json.dumps(call(client, "GET", f"/cities/{city_id}"), indent=2, ensure_ascii=False))


@app.command("ls")
def ls(limit: int = 20, url: ApiUrl = DEFAULT_API) -> None:
    """List recent cities."""
    with open_client(url) as client:
        page = call(client, "GET", "/cities", params={"limit": limit})
    table = Table("id", "city", "tours")
    for city in page["items"]:
        table.add_row(city["id"], city["name"], str(city["tour_count"]))
    Console().print(table)


@app.command("delete")
def delete(city_id: str, url: ApiUrl = DEFAULT_API) -> None:
    """Delete a city and its tours."""
    with open_client(url) as client:
        request(client, "DELETE", f"/cities/{city_id}")
    print("deleted")


def _print_city(city: dict[str, Any]) -> None:
    out = Console()
    out.print(f"[bold]{city['name']}[/bold] ({city['id']}): {len(city['tours'])} tours")
    for tour in city["tours"]:
        table = Table(
            "#",
            "stop",
            "visit min",
            "walk m",
            "walk min",
            title=f"Tour {tour['number']}: {tour['total_minutes']:.0f} min, "
            f"{tour['walking_metres'] / 1000:.1f} km",
        )
        for stop in tour["stops"]:
            table.add_row(
                str(stop["position"]),
                stop["name"],
                str(stop["visit_minutes"]),
                str(stop["leg"]["distance_metres"]),
                f"{stop['leg']['walking_seconds'] / 60:.0f}",
            )
        back = tour["return_leg"]
        table.add_row(
            "",
            "back to the start",
            "",
            str(back["distance_metres"]),
            f"{back['walking_seconds'] / 60:.0f}",
        )
        out.print(table)
