"""The item store on DynamoDB, through boto3's low-level client.

Every write is one request with a ConditionExpression, which DynamoDB applies atomically to the
item; every read is strongly consistent. boto3 is synchronous, so calls run in worker threads,
all on one client (boto3 clients are thread-safe; building one is slow). This module imports
boto3 at the top because ``store.open_item_store`` imports it only when DynamoDB is chosen.

Prices are DynamoDB numbers, exact decimals; attributes are kept as a JSON string, since boto3
refuses floats as numbers and a string keeps any JSON exactly as sent.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from skyferry.services.inventory.errors import BackendUnavailableError
from skyferry.services.inventory.models import CENT, Item
from skyferry.services.inventory.settings import InventorySettings
from skyferry.services.inventory.store import AlreadyExistsError, ConditionFailedError

if TYPE_CHECKING:
    from skyferry.config import Settings

_CONDITION_FAILED = "ConditionalCheckFailedException"
_SCAN_PAGE = 100
"""Items a Scan evaluates per request while filling a page; a filter may keep fewer."""


def make_client(region: str, endpoint_url: str | None) -> Any:
    """A DynamoDB client; credentials come from boto3's usual chain, never from settings."""
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=10,
        # enough connections for the worker threads that call it at once
        max_pool_connections=32,
    )
    return boto3.session.Session().client(
        "dynamodb",
        region_name=region,
        endpoint_url=endpoint_url,
        config=config,
    )


def create_table(client: Any, table: str, *, wait_seconds: int = 120) -> bool:
    """Create the items table (on-demand capacity) and wait until it is active.

    Returns False, changing nothing, if the table exists already.
    """
    try:
        client.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if _code(exc) != "ResourceInUseException":
            raise
        created = False
    else:
        created = True
    client.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": max(1, wait_seconds // 2)}
    )
    return created


class DynamoItemStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoItemStore:
        client = make_client(
            settings.of(InventorySettings).dynamodb_region, settings.aws_endpoint_url
        )
        return cls(client, settings.of(InventorySettings).dynamodb_table)

    async def insert(self, item: Item) -> None:
        try:
            await self._call(
                "put_item",
                Item=_attributes(item),
                ConditionExpression="attribute_not_exists(#sku)",
                ExpressionAttributeNames={"#sku": "sku"},
            )
        except ConditionFailedError as exc:
            raise AlreadyExistsError(item.sku) from exc

    async def get(self, sku: str) -> Item | None:
        response = await self._call("get_item", Key=_key(sku), ConsistentRead=True)
        found = response.get("Item")
        return _item(found) if found else None

    async def page(self, *, after: str | None, name_prefix: str | None, limit: int) -> list[Item]:
        request: dict[str, Any] = {"ConsistentRead": True, "Limit": max(limit, _SCAN_PAGE)}
        if name_prefix:
            request["FilterExpression"] = "begins_with(#folded, :prefix)"
            request["ExpressionAttributeNames"] = {"#folded": "name_folded"}
            request["ExpressionAttributeValues"] = {":prefix": {"S": name_prefix}}
        # a Scan resumes after any key, not only the LastEvaluatedKey it returned, so the sku
        # of the last item served is a cursor that stays valid even if that item is deleted
        start = _key(after) if after is not None else None
        found: list[Item] = []
        while len(found) < limit:
            if start is not None:
                request["ExclusiveStartKey"] = start
            response = await self._call("scan", **request)
            found.extend(_item(attributes) for attributes in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if start is None:
                break
        return found[:limit]

    async def update(
        self, sku: str, changes: dict[str, Any], *, expected_version: int | None, at: datetime
    ) -> Item:
        expression = _Expression()
        sets = [
            f"{expression.name(name)} = {expression.value(name, value)}"
            for name, value in _fields(changes).items()
        ]
        return await self._write(sku, expression, sets, [], expected_version, at)

    async def adjust(
        self,
        sku: str,
        delta: int,
        *,
        floor: int,
        ceiling: int,
        expected_version: int | None,
        at: datetime,
    ) -> Item:
        expression = _Expression()
        quantity = expression.name("quantity")
        zero = expression.value("zero", {"N": "0"})
        delta_value = expression.value("delta", {"N": str(delta)})
        # an item written before quantities were kept has none: it counts as 0
        sets = [f"{quantity} = if_not_exists({quantity}, {zero}) + {delta_value}"]
        # quantity + delta within floor..ceiling, said of the quantity before the change
        within = (
            f"({quantity} >= {expression.value('low', {'N': str(floor - delta)})} AND "
            f"{quantity} <= {expression.value('high', {'N': str(ceiling - delta)})})"
        )
        if floor <= delta <= ceiling:
            within = f"(attribute_not_exists({quantity}) OR {within})"
        conditions = [within]
        return await self._write(sku, expression, sets, conditions, expected_version, at)

    async def delete(self, sku: str, *, expected_version: int | None) -> None:
        expression = _Expression()
        condition = _condition(expression, [], expected_version)
        await self._call(
            "delete_item",
            Key=_key(sku),
            ConditionExpression=condition,
            ExpressionAttributeNames=expression.names,
            **_values(expression),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    async def _write(
        self,
        sku: str,
        expression: _Expression,
        sets: list[str],
        conditions: list[str],
        expected_version: int | None,
        at: datetime,
    ) -> Item:
        version = expression.name("version")
        sets += [
            f"{expression.name('updated_at')} = {expression.value('at', {'S': at.isoformat()})}",
            # items the service skyferry replaced wrote have no version yet: theirs is 0
            f"{version} = if_not_exists({version}, {expression.value('zero', {'N': '0'})}) + "
            f"{expression.value('one', {'N': '1'})}",
        ]
        condition = _condition(expression, conditions, expected_version)
        response = await self._call(
            "update_item",
            Key=_key(sku),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=condition,
            ExpressionAttributeNames=expression.names,
            ExpressionAttributeValues=expression.values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return _item(response["Attributes"])

    async def _call(self, operation: str, **request: Any) -> Any:
        method = getattr(self._client, operation)
        try:
            return await asyncio.to_thread(method, TableName=self._table, **request)
        except ClientError as exc:
            code = _code(exc)
            if code == _CONDITION_FAILED:
                old = exc.response.get("Item")
                raise ConditionFailedError(_item(old) if old else None) from exc
            if code == "ResourceNotFoundException":
                raise BackendUnavailableError(
                    f"DynamoDB table {self._table!r} does not exist; "
                    "create it with `skyferry inventory create-table`"
                ) from exc
            message = exc.response.get("Error", {}).get("Message", "")
            raise BackendUnavailableError(
                f"DynamoDB {operation} failed: {code}: {message}"
            ) from exc
        except BotoCoreError as exc:
            # no credentials, endpoint unreachable, timeouts: botocore's messages hold no secrets
            raise BackendUnavailableError(f"DynamoDB unreachable: {exc}") from exc


class _Expression:
    """Placeholders for an expression: DynamoDB reserves many words ("name" among them)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict[str, str]] = {}

    def name(self, attribute: str) -> str:
        self.names[f"#{attribute}"] = attribute
        return f"#{attribute}"

    def value(self, label: str, value: dict[str, str]) -> str:
        self.values[f":{label}"] = value
        return f":{label}"


def _condition(expression: _Expression, conditions: list[str], expected: int | None) -> str:
    clauses = [f"attribute_exists({expression.name('sku')})", *conditions]
    if expected is not None:
        version = expression.name("version")
        matches = f"{version} = {expression.value('expected', {'N': str(expected)})}"
        # version 0 is an item without one (written before skyferry), as _item reads it
        if expected == 0:
            matches = f"(attribute_not_exists({version}) OR {matches})"
        clauses.append(matches)
    return " AND ".join(clauses)


def _values(expression: _Expression) -> dict[str, Any]:
    """DynamoDB rejects an empty ExpressionAttributeValues, so leave it out when there is none."""
    return {"ExpressionAttributeValues": expression.values} if expression.values else {}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _key(sku: str) -> dict[str, dict[str, str]]:
    return {"sku": {"S": sku}}


def _fields(fields: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Item fields as DynamoDB attribute values, the case-folded name beside the name."""
    attributes: dict[str, dict[str, str]] = {}
    for name, value in fields.items():
        if name == "name":
            attributes["name"] = {"S": value}
            attributes["name_folded"] = {"S": value.casefold()}
        elif name in ("quantity", "price", "version"):
            attributes[name] = {"N": str(value)}
        elif name == "attributes":
            attributes[name] = {"S": json.dumps(value, separators=(",", ":"))}
        else:
            attributes[name] = {"S": value}
    return attributes


def _attributes(item: Item) -> dict[str, dict[str, str]]:
    """A new item's attributes: all of them are known (only an older writer's may be None)."""
    fields = item.model_dump(include={"sku", "name", "quantity", "price", "attributes"})
    times = {"created_at": item.created_at, "updated_at": item.updated_at}
    fields.update({name: when.isoformat() for name, when in times.items() if when is not None})
    return _fields({**fields, "version": item.version})


def _item(attributes: dict[str, dict[str, Any]]) -> Item:
    """An item as stored, including one the service skyferry replaced wrote into the same
    table: it may lack every field but the key (no price, no version, no timestamps), and keep
    numbers as strings. What is missing reads as unknown (None) or empty, never as an error."""
    price = _scalar(attributes, "price")
    created, updated = _scalar(attributes, "created_at"), _scalar(attributes, "updated_at")
    return Item(
        sku=attributes["sku"]["S"],
        name=_scalar(attributes, "name") or "",
        quantity=int(_scalar(attributes, "quantity") or 0),
        # DynamoDB drops trailing zeros ("19.90" comes back "19.9")
        price=Decimal(price).quantize(CENT) if price is not None else None,
        attributes=_stored_attributes(attributes.get("attributes")),
        created_at=datetime.fromisoformat(created) if created else None,
        updated_at=datetime.fromisoformat(updated) if updated else None,
        version=int(_scalar(attributes, "version") or 0),
    )


def _scalar(attributes: dict[str, dict[str, Any]], name: str) -> str | None:
    """A string or number attribute's text, whichever type it was written as."""
    value = attributes.get(name, {})
    found = value.get("S", value.get("N"))
    return found if isinstance(found, str) else None


def _stored_attributes(value: dict[str, Any] | None) -> dict[str, Any]:
    """Ours are a JSON string; an older writer's may be a DynamoDB map."""
    if not value:
        return {}
    if "S" in value:
        loaded = json.loads(value["S"])
        return loaded if isinstance(loaded, dict) else {}
    if "M" in value:
        from boto3.dynamodb.types import TypeDeserializer

        plain = {k: TypeDeserializer().deserialize(v) for k, v in value["M"].items()}
        # DynamoDB numbers come back as Decimal, which is no JSON value
        converted: dict[str, Any] = json.loads(json.dumps(plain, default=float))
        return converted
    return {}
