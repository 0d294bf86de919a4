"""The inventory items API through real HTTP, one suite on every backend: SQLite, Postgres and
DynamoDB (a moto server, a fresh table per test, made by the service's own create-table code).

DynamoDB applies each write to an item atomically. moto's threaded server does not: it checks a
condition, computes the update and applies it in separate steps, and its request threads
interleave between them, losing updates. These tests therefore run DynamoDB on a moto server
that answers one request at a time, which gives the atomicity the real service promises.
"""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from skyferry import __version__
from skyferry.app import create_app
from skyferry.config import Settings, load_settings
from skyferry.services.inventory.dynamodb import create_table, make_client
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.servers import free_port, serve_in_thread

BACKENDS = ["sql-sqlite", pytest.param("sql-postgres", marks=pytest.mark.postgres), "dynamodb"]
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def serial_moto_endpoint() -> Iterator[str]:
    """A moto server handling one request at a time (HTTP/1.0, one thread)."""
    port = free_port()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=False, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="moto-serial", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=30)


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    overrides: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/db/skyferry.db",
        "blob_url": "memory://",
        "log_format": "text",
        "log_level": "WARNING",
        "auto_migrate": True,
    }
    if request.param == "dynamodb":
        endpoint = request.getfixturevalue("serial_moto_endpoint")
        request.getfixturevalue("aws_env")
        table = f"inventory-{uuid.uuid4().hex[:12]}"
        assert create_table(make_client("us-east-1", endpoint), table)
        overrides["AWS_ENDPOINT_URL"] = endpoint
        overrides["inventory"] = {"backend": "dynamodb", "dynamodb_table": table}
    if request.param != "sql-postgres":
        yield load_settings(**overrides)
        return
    admin = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin, request.getfixturevalue("postgres_template"))
    try:
        yield load_settings(**{**overrides, "database_url": url})
    finally:
        drop_postgres_database(admin, url)


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings, run_workers=False)) as url:
        yield url


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def item(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": "TSHIRT-RED-M",
        "name": "T-shirt, red, M",
        "quantity": 10,
        "price": "19.99",
        "attributes": {"colour": "red", "size": "M", "weight_kg": 0.2, "tags": ["cotton"]},
    }
    body.update(changes)
    return body


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/inventory", json=item(**fields))
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = dict(response.json())
    assert problem["status"] == status
    for word in words:
        assert word in problem["detail"], problem
    return problem


# -- the original endpoints ----------------------------------------------------------------------


def test_root_names_the_service(api: httpx.Client) -> None:
    response = api.get("/")
    assert response.status_code == 200
    assert response.json() == {"name": "skyferry-inventory", "version": __version__, "status": "ok"}


def test_create_get_delete_keep_the_original_shapes(api: httpx.Client) -> None:
    response = api.post("/inventory", json=item())
    assert response.status_code == 201
    assert response.headers["location"] == "/inventory/TSHIRT-RED-M"
    assert response.headers["etag"] == '"1"'
    created = response.json()
    assert set(created) == {
        "sku",
        "name",
        "quantity",
        "price",
        "attributes",
        "created_at",
        "updated_at",
        "version",
    }
    assert created["price"] == "19.99"
    assert created["attributes"] == item()["attributes"]
    assert created["version"] == 1
    assert datetime.fromisoformat(created["created_at"]).tzinfo is not None

    fetched = api.get("/inventory/TSHIRT-RED-M")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"1"'
    assert fetched.json() == created

    assert api.delete("/inventory/TSHIRT-RED-M").status_code == 204
    assert_problem(api.get("/inventory/TSHIRT-RED-M"), 404, "TSHIRT-RED-M")
    assert_problem(api.delete("/inventory/TSHIRT-RED-M"), 404)


def test_a_taken_sku_is_409_and_the_item_unchanged(api: httpx.Client) -> None:
    create(api, quantity=3)
    problem = assert_problem(api.post("/inventory", json=item(quantity=99)), 409, "already exists")
    assert problem["sku"] == "TSHIRT-RED-M"
    assert api.get("/inventory/TSHIRT-RED-M").json()["quantity"] == 3


PRICES = [
    ("0", "0.00"),
    ("0.1", "0.10"),
    (0.1, "0.10"),
    (19.99, "19.99"),
    ("1234567.89", "1234567.89"),
    ("9999999999.99", "9999999999.99"),
]


def test_prices_round_trip_exactly(api: httpx.Client) -> None:
    for n, (sent, _) in enumerate(PRICES):
        create(api, sku=f"P{n}", price=sent)
    listed = {entry["sku"]: entry["price"] for entry in api.get("/inventory").json()["items"]}
    for n, (sent, served) in enumerate(PRICES):
        assert api.get(f"/inventory/P{n}").json()["price"] == served, sent
        assert listed[f"P{n}"] == served, sent


INVALID: list[tuple[str, object]] = [
    ("quantity", -1),
    ("price", "19.999"),
    ("price", "-1"),
    ("price", "NaN"),
    ("price", "1E+1"),  # the schema's pattern: plain decimal notation only
    ("price", 0.005),
    ("sku", "no spaces please"),
    ("name", ""),
    ("shelf", "B4"),
]


def test_invalid_items_are_422_problems_naming_the_field(api: httpx.Client) -> None:
    for field, value in INVALID:
        problem = assert_problem(api.post("/inventory", json=item(**{field: value})), 422, field)
        assert ["body", field] in [error["loc"] for error in problem["errors"]]
    assert api.get("/inventory").json()["items"] == []


def test_a_bad_sku_in_the_path_is_422_and_a_non_json_body_is_a_problem(api: httpx.Client) -> None:
    assert_problem(api.get("/inventory/has%20space"), 422, "sku")
    assert_problem(
        api.post("/inventory", content=b"{not json", headers={"content-type": "application/json"}),
        422,
    )


# -- listing -------------------------------------------------------------------------------------


def test_listing_pages_through_every_item_once(api: httpx.Client) -> None:
    skus = {f"SKU-{n:02d}" for n in range(11)}
    for sku in skus:
        create(api, sku=sku)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = api.get("/inventory", params=params).json()
        assert len(page["items"]) <= 4
        seen += [entry["sku"] for entry in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(skus)  # each exactly once
    assert pages == 3


def test_listing_filters_by_name_prefix_in_any_case(api: httpx.Client) -> None:
    names = {"A": "Red shirt", "B": "red hat", "C": "Blue shirt", "D": "RED_sock", "E": "Redwood"}
    for sku, name in names.items():
        create(api, sku=sku, name=name)

    def matching(prefix: str) -> set[str]:
        page = api.get("/inventory", params={"name_prefix": prefix, "limit": 2})
        found = {entry["sku"] for entry in page.json()["items"]}
        cursor = page.json()["next_cursor"]
        while cursor:
            page = api.get("/inventory", params={"name_prefix": prefix, "cursor": cursor})
            found |= {entry["sku"] for entry in page.json()["items"]}
            cursor = page.json()["next_cursor"]
        return found

    assert matching("red") == {"A", "B", "D", "E"}
    assert matching("RED ") == {"A", "B"}
    assert matching("red_") == {"D"}  # "_" is a literal, not SQL's any-character
    assert matching("red%") == set()
    assert matching("green") == set()


def test_a_forged_cursor_is_400(api: httpx.Client) -> None:
    assert_problem(api.get("/inventory", params={"cursor": "!!not-ours"}), 400, "cursor")
    assert_problem(api.get("/inventory", params={"limit": 0}), 422, "limit")


# -- PATCH and If-Match --------------------------------------------------------------------------


def test_patch_with_the_current_etag_changes_the_item(api: httpx.Client) -> None:
    created = create(api)
    etag = api.get("/inventory/TSHIRT-RED-M").headers["etag"]

    response = api.patch(
        "/inventory/TSHIRT-RED-M",
        json={"price": "17.5", "name": "T-shirt, crimson, M"},
        headers={"If-Match": etag},
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert response.headers["etag"] == '"2"'
    assert (patched["price"], patched["name"], patched["version"]) == (
        "17.50",
        "T-shirt, crimson, M",
        2,
    )
    assert patched["quantity"] == created["quantity"]
    assert patched["created_at"] == created["created_at"]
    assert patched["updated_at"] > created["updated_at"]
    assert api.get("/inventory/TSHIRT-RED-M").json() == patched


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(api: httpx.Client) -> None:
    create(api)
    stale = api.get("/inventory/TSHIRT-RED-M").headers["etag"]
    assert api.patch("/inventory/TSHIRT-RED-M", json={"quantity": 4}).status_code == 200

    problem = assert_problem(
        api.patch("/inventory/TSHIRT-RED-M", json={"quantity": 0}, headers={"If-Match": stale}),
        412,
        "changed",
    )
    assert problem["sku"] == "TSHIRT-RED-M"
    assert api.get("/inventory/TSHIRT-RED-M").json()["quantity"] == 4
    assert_problem(
        api.patch("/inventory/TSHIRT-RED-M", json={"quantity": 0}, headers={"If-Match": 'W/"2"'}),
        412,
    )
    star = api.patch("/inventory/TSHIRT-RED-M", json={"quantity": 0}, headers={"If-Match": "*"})
    assert star.status_code == 200
    assert star.json()["quantity"] == 0


def test_patch_replaces_attributes_and_refuses_nulls(api: httpx.Client) -> None:
    create(api)
    response = api.patch("/inventory/TSHIRT-RED-M", json={"attributes": {"size": "L"}})
    assert response.json()["attributes"] == {"size": "L"}
    assert_problem(api.patch("/inventory/TSHIRT-RED-M", json={"name": None}), 422, "null")
    assert_problem(api.patch("/inventory/TSHIRT-RED-M", json={}), 422, "at least one")
    assert_problem(api.patch("/inventory/NOPE", json={"quantity": 1}), 404)
    assert_problem(
        api.patch("/inventory/NOPE", json={"quantity": 1}, headers={"If-Match": '"1"'}), 404
    )


def test_delete_with_a_stale_etag_is_412(api: httpx.Client) -> None:
    create(api)
    assert_problem(api.delete("/inventory/TSHIRT-RED-M", headers={"If-Match": '"9"'}), 412)
    assert api.delete("/inventory/TSHIRT-RED-M", headers={"If-Match": '"1"'}).status_code == 204


def test_get_with_if_none_match_of_the_current_etag_is_304(api: httpx.Client) -> None:
    create(api)
    response = api.get("/inventory/TSHIRT-RED-M", headers={"If-None-Match": '"1"'})
    assert response.status_code == 304
    assert response.headers["etag"] == '"1"'
    assert response.content == b""
    assert api.get("/inventory/TSHIRT-RED-M", headers={"If-None-Match": '"0"'}).status_code == 200


# -- adjust --------------------------------------------------------------------------------------


def test_adjust_adds_and_takes_stock(api: httpx.Client) -> None:
    create(api, quantity=10)
    taken = api.post("/inventory/TSHIRT-RED-M/adjust", json={"delta": -4})
    assert taken.status_code == 200
    assert (taken.json()["quantity"], taken.json()["version"]) == (6, 2)
    assert taken.headers["etag"] == '"2"'
    added = api.post("/inventory/TSHIRT-RED-M/adjust", json={"delta": 5})
    assert added.json()["quantity"] == 11


def test_adjust_never_takes_stock_below_zero(api: httpx.Client) -> None:
    create(api, quantity=3)
    problem = assert_problem(
        api.post("/inventory/TSHIRT-RED-M/adjust", json={"delta": -4}), 409, "only 3 in stock"
    )
    assert (problem["quantity"], problem["delta"]) == (3, -4)
    assert api.get("/inventory/TSHIRT-RED-M").json()["quantity"] == 3
    to_zero = api.post("/inventory/TSHIRT-RED-M/adjust", json={"delta": -3})
    assert to_zero.json()["quantity"] == 0


def test_adjust_refuses_what_it_cannot_do(api: httpx.Client) -> None:
    create(api, quantity=1)
    assert_problem(api.post("/inventory/NOPE/adjust", json={"delta": 1}), 404)
    assert_problem(api.post("/inventory/TSHIRT-RED-M/adjust", json={"delta": 0}), 422, "delta")
    assert_problem(api.post("/inventory/TSHIRT-RED-M/adjust", json={"delta": "1"}), 422)
    assert_problem(
        api.post("/inventory/TSHIRT-RED-M/adjust", json={"delta": 1_000_000_000}), 409, "limit"
    )
    assert_problem(
        api.post("/inventory/TSHIRT-RED-M/adjust", json={"delta": 1}, headers={"If-Match": '"7"'}),
        412,
    )
    assert api.get("/inventory/TSHIRT-RED-M").json()["quantity"] == 1


# -- concurrency: 50 adjusts at once, through the real server ------------------------------------


async def adjust_concurrently(
    base_url: str, sku: str, deltas: list[int]
) -> list[tuple[int, int, dict[str, Any]]]:
    """Send every adjust at once, each on its own connection; (delta, status, body) each."""
    limits = httpx.Limits(max_connections=len(deltas))
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        start = asyncio.Event()

        async def one(delta: int) -> tuple[int, int, dict[str, Any]]:
            await start.wait()
            response = await client.post(f"/inventory/{sku}/adjust", json={"delta": delta})
            return delta, response.status_code, response.json()

        tasks = [asyncio.create_task(one(delta)) for delta in deltas]
        await asyncio.sleep(0)
        start.set()
        return await asyncio.gather(*tasks)


@pytest.mark.anyio
@pytest.mark.timeout(180)
async def test_fifty_concurrent_adjusts_end_exactly_where_they_should(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.post("/inventory", json=item(quantity=100))).status_code == 201
    deltas = [1] * 25 + [-1] * 25
    random.Random(50).shuffle(deltas)

    results = await adjust_concurrently(base_url, "TSHIRT-RED-M", deltas)

    assert [status for _, status, _ in results] == [200] * 50
    async with httpx.AsyncClient(base_url=base_url) as client:
        final = (await client.get("/inventory/TSHIRT-RED-M")).json()
    assert final["quantity"] == 100
    assert final["version"] == 51
    # every write saw its own version: none was lost or applied twice
    assert sorted(body["version"] for _, _, body in results) == list(range(2, 52))


@pytest.mark.anyio
@pytest.mark.timeout(180)
async def test_concurrent_takes_near_zero_stop_at_zero(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.post("/inventory", json=item(quantity=10))).status_code == 201

    results = await adjust_concurrently(base_url, "TSHIRT-RED-M", [-1] * 50)

    taken = [body for _, status, body in results if status == 200]
    refused = [body for _, status, body in results if status == 409]
    assert (len(taken), len(refused)) == (10, 40)
    assert sorted(body["quantity"] for body in taken) == list(range(10))
    assert all(body["title"] == "Insufficient stock" for body in refused)
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/inventory/TSHIRT-RED-M")).json()["quantity"] == 0


@pytest.mark.anyio
@pytest.mark.timeout(180)
async def test_concurrent_mixed_adjusts_from_near_zero_stay_exact(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.post("/inventory", json=item(quantity=2))).status_code == 201
    rng = random.Random(7)
    deltas = [rng.choice((1, -1, -1)) for _ in range(50)]

    results = await adjust_concurrently(base_url, "TSHIRT-RED-M", deltas)

    applied = [delta for delta, status, _ in results if status == 200]
    assert {status for _, status, _ in results} <= {200, 409}
    assert all(delta == -1 for delta, status, _ in results if status == 409)  # only takes fail
    assert all(body["quantity"] >= 0 for _, status, body in results if status == 200)
    async with httpx.AsyncClient(base_url=base_url) as client:
        final = (await client.get("/inventory/TSHIRT-RED-M")).json()
    assert final["quantity"] == 2 + sum(applied)
    assert final["quantity"] >= 0
    assert final["version"] == 1 + len(applied)
