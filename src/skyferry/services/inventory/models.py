"""Inventory schemas: what clients send and what they get back."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from skyferry.http.bodies import JsonInt, WholeNumber

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""Letters, digits, ``.``, ``_`` and ``-``, 1 to 64 of them: safe in URLs and as a table key."""

MAX_QUANTITY = 1_000_000_000
"""Far above any real stock, and low enough that quantity + delta never overflows a column."""

MAX_ATTRIBUTES_BYTES = 16 * 1024
"""Attributes are for a handful of facts (colour, size), well under DynamoDB's 400 KB item."""

CENT = Decimal("0.01")

PRICE_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
"""A price sent as a string: plain decimal notation, at most 10 digits before the point and 2
after it. The schema states it, so no other spelling (exponents, signs, spaces, "_") passes."""

_PRICE = re.compile(PRICE_PATTERN)

MAX_PRICE = Decimal("9999999999.99")


def _price_input(value: Any) -> Any:
    """Strings only in ``PRICE_PATTERN``; numbers go on to Decimal's own checks."""
    if isinstance(value, str) and not _PRICE.fullmatch(value):
        raise ValueError(
            'a price string is a plain decimal such as "19.99": up to 10 digits, then '
            'optionally "." and 1 or 2 more'
        )
    return value


def _to_cents(price: Decimal) -> Decimal:
    """Two places always, and no negative zero: "5" and "5.0" both become "5.00"."""
    return (price + 0).quantize(CENT)


def _small_json(attributes: dict[str, JsonValue]) -> dict[str, JsonValue]:
    size = len(json.dumps(attributes, separators=(",", ":")).encode())
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValueError(
            f"attributes take {size} bytes as JSON; the limit is {MAX_ATTRIBUTES_BYTES}"
        )
    return attributes


Sku = Annotated[
    str, Field(pattern=SKU_PATTERN, description="Stock keeping unit, e.g. `TSHIRT-RED-M`.")
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY, strict=True), WholeNumber]
_PRICE_DESCRIPTION = 'A decimal with at most 2 places, sent as a string ("19.99") or a number.'

Price = Annotated[
    Decimal,
    BeforeValidator(_price_input),
    Field(ge=0, max_digits=12, decimal_places=2),
    AfterValidator(_to_cents),
    # what the validators above take, which pydantic's own schema for Decimal does not say
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PRICE_PATTERN},
                {
                    "type": "number",
                    "minimum": 0,
                    "maximum": float(MAX_PRICE),
                    "multipleOf": float(CENT),
                },
            ],
            "description": _PRICE_DESCRIPTION,
        },
        mode="validation",
    ),
]
Attributes = Annotated[dict[str, JsonValue], AfterValidator(_small_json)]


class NewItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: Name
    quantity: Quantity
    price: Price
    attributes: Attributes = Field(default_factory=dict)


def _patch_schema(schema: dict[str, Any]) -> None:
    """What the validators below hold a patch to, in its schema: at least one field, none of
    them null (so no field's default, None, is shown either).

    The fields stay ``X | None`` for pydantic, not ``SkipJsonSchema[None]``: a plain optional
    is one nullable schema, whose errors name the field alone ("body.name"), where a union
    would add its member's tag to every error's location.
    """
    schema["minProperties"] = 1
    for field in schema.get("properties", {}).values():
        field.pop("default", None)
        choices = [c for c in field.pop("anyOf", []) if c != {"type": "null"}]
        if len(choices) == 1:
            field.update(choices[0])
        elif choices:
            field["anyOf"] = choices


class ItemPatch(BaseModel):
    """Fields to replace; absent ones stay. ``attributes`` is replaced as a whole."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_patch_schema)

    name: Name | None = None
    quantity: Quantity | None = None
    price: Price | None = None
    attributes: Attributes | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        # null would read as "leave unchanged", which is not what someone sending it means
        if isinstance(data, dict):
            nulls = sorted(str(key) for key, value in data.items() if value is None)
            if nulls:
                raise ValueError(
                    f"{', '.join(nulls)} may not be null; leave a field out to keep it"
                )
        return data

    @model_validator(mode="after")
    def _something(self) -> ItemPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of name, quantity, price, attributes")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delta: JsonInt = Field(
        ge=-MAX_QUANTITY,
        le=MAX_QUANTITY,
        description="Units to add (positive) or take (negative); the stock never goes below 0.",
        json_schema_extra={"not": {"const": 0}},
    )

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, delta: int) -> int:
        if delta == 0:
            raise ValueError("delta must not be 0")
        return delta


class Item(BaseModel):
    """One stock item as stored and served.

    ``price`` leaves the API as a JSON string ("19.99"): a JSON number is a binary float in most
    clients (JavaScript, and Python's ``json`` by default), where 0.1 + 0.2 != 0.3, so a price
    sent as a number could come back a cent off. The string carries the exact decimal.
    ``version`` starts at 1 and grows with every change; the ETag header is its quoted form.
    An item in a DynamoDB table that an earlier service wrote may lack what skyferry adds: its
    ``price`` and times are then null and its ``version`` 0 until it is first changed.
    """

    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    quantity: int
    price: Decimal | None
    attributes: dict[str, JsonValue]
    created_at: datetime | None
    updated_at: datetime | None
    version: int


class ItemPage(BaseModel):
    items: list[Item]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class ServiceStatus(BaseModel):
    name: str
    version: str
    status: str


class StoredFile(BaseModel):
    """A file's metadata. A listing has no content type (stores list without it) and an
    upload's answer no ``last_modified`` (stores do not date a write): a download has both."""

    name: str
    size: int
    etag: str | None
    content_type: str | None
    last_modified: datetime | None


class FilePage(BaseModel):
    files: list[StoredFile]
    next_cursor: str | None
