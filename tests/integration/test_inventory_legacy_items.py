"""A DynamoDB table left by the service skyferry replaces: its items lack the fields skyferry
added (price, attributes, version, timestamps, the case-folded name), and they read, list and
update without a 500. Seeded on a moto server the way the original wrote them: plain
``put_item`` calls with what it knew."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyferry.app import create_app
from skyferry.config import load_settings
from skyferry.services.inventory.dynamodb import create_table, make_client
from tests.servers import serve_in_thread

LEGACY = [
    {"sku": {"S": "OLD-1"}, "name": {"S": "Kettle"}, "quantity": {"N": "4"}},
    {"sku": {"S": "OLD-2"}, "name": {"S": "Teapot"}},
    {"sku": {"S": "OLD-3"}, "name": {"S": "Mug"}, "quantity": {"N": "2"}, "price": {"S": "3.5"}},
]


@pytest.fixture
def api(moto_endpoint: str, aws_env: None, tmp_path: Path) -> Iterator[httpx.Client]:
    table = f"legacy-{uuid.uuid4().hex[:12]}"
    client = make_client("us-east-1", moto_endpoint)
    assert create_table(client, table)
    for legacy in LEGACY:
        client.put_item(TableName=table, Item=legacy)
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/db/skyferry.db",
        blob_url="memory://",
        log_format="text",
        log_level="WARNING",
        auto_migrate=True,
        services=["inventory"],
        AWS_ENDPOINT_URL=moto_endpoint,
        inventory={"backend": "dynamodb", "dynamodb_table": table},
    )
    with (
        serve_in_thread(create_app(settings, run_workers=False)) as url,
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        yield api


def test_items_missing_newer_fields_read_and_list(api: httpx.Client) -> None:
    kettle = api.get("/inventory/OLD-1")
    assert kettle.status_code == 200, kettle.text
    body: dict[str, Any] = kettle.json()
    assert body["name"] == "Kettle"
    assert body["quantity"] == 4
    assert body["price"] is None  # unknown, not invented
    assert body["attributes"] == {}
    assert body["version"] == 0
    assert kettle.headers["ETag"] == '"0"'
    assert api.get("/inventory/OLD-2").json()["quantity"] == 0
    assert api.get("/inventory/OLD-3").json()["price"] == "3.50"
    listing = api.get("/inventory")
    assert listing.status_code == 200, listing.text
    assert sorted(i["sku"] for i in listing.json()["items"]) == ["OLD-1", "OLD-2", "OLD-3"]


def test_items_missing_newer_fields_update_with_their_etag(api: httpx.Client) -> None:
    patched = api.patch("/inventory/OLD-1", json={"price": "12.00"}, headers={"If-Match": '"0"'})
    assert patched.status_code == 200, patched.text
    assert patched.json()["price"] == "12.00"
    assert patched.json()["version"] == 1
    stale = api.patch("/inventory/OLD-2", json={"quantity": 1}, headers={"If-Match": '"3"'})
    assert stale.status_code == 412, stale.text
    adjusted = api.post("/inventory/OLD-2/adjust", json={"delta": 5})
    assert adjusted.status_code == 200, adjusted.text
    assert adjusted.json()["quantity"] == 5
    assert api.delete("/inventory/OLD-3", headers={"If-Match": '"0"'}).status_code == 204
