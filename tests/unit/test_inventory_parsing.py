"""The inventory's pure parsers: Range headers, entity-tag lists, filenames and prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from skyferry.http.etags import ETagList, parse_etags
from skyferry.http.ranges import ByteRange, parse_range
from skyferry.services.inventory.errors import InvalidFilenameError
from skyferry.services.inventory.etags import item_etag
from skyferry.services.inventory.filenames import blob_key
from skyferry.services.inventory.models import Adjustment, ItemPatch, NewItem

# -- Range ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100)),
        ("bytes=-500", ByteRange(suffix=500)),
        ("bytes=-0", ByteRange(suffix=0)),
        ("BYTES = 5 - 9 ", ByteRange(5, 9)),
        (None, None),
        ("bytes=0-1,4-5", None),  # several ranges: served whole, which RFC 9110 allows
        ("bytes=9-5", None),  # last before first is invalid, hence ignored
        ("bytes=abc", None),
        ("items=0-5", None),
        ("bytes=", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header) == expected


@pytest.mark.parametrize(
    ("byte_range", "size", "span"),
    [
        (ByteRange(0, 99), 1000, (0, 99)),
        (ByteRange(0, 99), 50, (0, 49)),  # an end past the file stops at its end
        (ByteRange(100), 1000, (100, 999)),
        (ByteRange(999), 1000, (999, 999)),
        (ByteRange(1000), 1000, None),  # starts past the last byte
        (ByteRange(suffix=10), 1000, (990, 999)),
        (ByteRange(suffix=5000), 1000, (0, 999)),
        (ByteRange(suffix=0), 1000, None),
        (ByteRange(suffix=1), 0, None),  # an empty file has no last byte
        (ByteRange(0, 0), 0, None),
    ],
)
def test_range_span(byte_range: ByteRange, size: int, span: tuple[int, int] | None) -> None:
    assert byte_range.span(size) == span


# -- entity tags ---------------------------------------------------------------------------------


def test_if_match_compares_strongly_and_if_none_match_weakly() -> None:
    tags = parse_etags('W/"1", "2"')
    assert tags is not None
    assert tags.matches_strong('"2"')
    assert not tags.matches_strong('"1"')  # a weak tag never matches If-Match
    assert not tags.matches_strong('W/"2"')
    assert tags.matches_weak('"1"')
    assert tags.matches_weak('W/"2"')
    assert not tags.matches_weak('"3"')


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("*", ETagList(any=True)),
        (' "a" ,"b"', ETagList(any=False, tags=((False, "a"), (False, "b")))),
        ('"a,b"', ETagList(any=False, tags=((False, "a,b"),))),  # a comma inside a tag
        ("7", ETagList(any=False, tags=((False, "7"),))),  # clients that forget the quotes
        ("", ETagList(any=False)),  # names nothing, so matches nothing
    ],
)
def test_parse_etags(header: str | None, expected: ETagList | None) -> None:
    assert parse_etags(header) == expected


def test_star_matches_any_existing_version() -> None:
    star = parse_etags("*")
    assert star is not None
    assert star.matches_strong(item_etag(41))
    assert not star.matches_strong(None)


# -- filenames -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "key"),
    [
        ("manual.pdf", "inventory/files/manual.pdf"),
        ("reports/2026/q1.csv", "inventory/files/reports/2026/q1.csv"),
        ("..hidden", "inventory/files/..hidden"),
        ("naïve café.txt", "inventory/files/naïve café.txt"),
        ("é" * 127, "inventory/files/" + "é" * 127),  # 254 bytes
    ],
)
def test_good_filenames_become_keys_under_the_prefix(filename: str, key: str) -> None:
    assert blob_key("inventory/files/", filename) == key


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("", "empty"),
        ("..", "'..'"),
        ("../secret", "'..'"),
        ("a/../../secret", "'..'"),
        ("/etc/passwd", "absolute"),
        ("C:/Windows/win.ini", "absolute"),
        ("a\\b", "backslash"),
        ("..\\..\\secret", "backslash"),
        ("a\x00b", "NUL"),
        ("x" * 256, "256 bytes"),
        ("é" * 128, "256 bytes"),
        ("a//b", "empty segment"),
        ("a/./b", "'.'"),
        ("dir/", "empty segment"),
        ("a\nb", "control character"),
    ],
)
def test_bad_filenames_say_what_is_wrong(filename: str, reason: str) -> None:
    with pytest.raises(InvalidFilenameError) as caught:
        blob_key("inventory/files/", filename)
    assert reason in caught.value.detail
    assert caught.value.status == 400


# -- prices and other input rules ------------------------------------------------------------------


def new_item(**changes: Any) -> dict[str, Any]:
    return {"sku": "SKU-1", "name": "Shirt", "quantity": 1, "price": "1.00", **changes}


PRICES: list[tuple[object, str]] = [
    ("19.99", "19.99"),
    ("19.9", "19.90"),
    ("5", "5.00"),
    (5, "5.00"),
    (19.99, "19.99"),
    (0.1, "0.10"),
    ("0", "0.00"),
    (-0.0, "0.00"),
    ("0000000007.5", "7.50"),
    (9999999999.99, "9999999999.99"),
    ("9999999999.99", "9999999999.99"),
]

BAD_PRICES: list[object] = [
    *("19.999", "-0.01", "NaN", "Infinity", "1E+20", "abc", True, None, "1.005", 0.005, 0.1 + 0.2),
    # strings are plain decimals, as PRICE_PATTERN says: no other spelling of the number
    *("1E+2", "-0", "+5", " 5", "5 ", "5.000", "1_0", ".5", "5.", "10000000000", "5\n"),
]


@pytest.mark.parametrize(("price", "stored"), PRICES)
def test_prices_become_exact_two_place_decimals(price: object, stored: str) -> None:
    item = NewItem.model_validate(new_item(price=price))
    assert item.price == Decimal(stored)
    assert item.model_dump(mode="json")["price"] == stored


@pytest.mark.parametrize("price", BAD_PRICES)
def test_bad_prices_are_refused(price: object) -> None:
    with pytest.raises(ValidationError) as caught:
        NewItem.model_validate(new_item(price=price))
    assert caught.value.errors()[0]["loc"] == ("price",)


def test_the_price_schema_takes_exactly_the_prices_the_model_takes() -> None:
    # what /openapi.json says is what the server does: a client (or schemathesis) reading it
    # never sends a price the server refuses, nor finds one it takes that the schema forbids
    schema = jsonschema_rs.validator_for(NewItem.model_json_schema()["properties"]["price"])
    assert [price for price, _ in PRICES if not schema.is_valid(price)] == []
    assert [price for price in BAD_PRICES if schema.is_valid(price)] == []


@pytest.mark.parametrize(
    "changes",
    [
        {"sku": "has space"},
        {"sku": "-leading-dash"},
        {"sku": "x" * 65},
        {"quantity": -1},
        {"quantity": "5"},
        {"quantity": 1.5},
        {"quantity": 1_000_000_001},
        {"name": ""},
        {"colour": "red"},
        {"attributes": {"blob": "x" * 20_000}},
    ],
)
def test_bad_items_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        NewItem.model_validate(new_item(**changes))


BAD_PATCHES: list[dict[str, Any]] = [
    {},
    {"name": None},
    {"price": None, "quantity": 1},
    {"price": "1.001"},
    {"version": 3},
]


@pytest.mark.parametrize("body", BAD_PATCHES)
def test_bad_patches_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ItemPatch.model_validate(body)


def test_a_patch_error_names_the_field_alone() -> None:
    with pytest.raises(ValidationError) as raised:
        ItemPatch.model_validate({"name": "", "quantity": -1})
    assert [error["loc"] for error in raised.value.errors()] == [("name",), ("quantity",)]


def test_the_patch_schema_refuses_what_the_model_refuses() -> None:
    schema = jsonschema_rs.validator_for(ItemPatch.model_json_schema())
    assert [body for body in BAD_PATCHES if schema.is_valid(body)] == []
    assert schema.is_valid({"quantity": 0})
    assert schema.is_valid({"name": "Shirt", "price": "1.50", "attributes": {"size": "M"}})


def test_a_patch_names_only_what_it_changes() -> None:
    assert ItemPatch.model_validate({"quantity": 0}).changes() == {"quantity": 0}


BAD_DELTAS: list[object] = [0, 0.0, "1", 1.5, True, 2_000_000_000, -2_000_000_000]


@pytest.mark.parametrize("delta", BAD_DELTAS)
def test_bad_adjustments_are_refused(delta: object) -> None:
    with pytest.raises(ValidationError):
        Adjustment.model_validate({"delta": delta})


def test_the_adjustment_schema_refuses_them_too() -> None:
    schema = jsonschema_rs.validator_for(Adjustment.model_json_schema())
    assert [delta for delta in BAD_DELTAS if schema.is_valid({"delta": delta})] == []
    assert schema.is_valid({"delta": -1})


def test_a_whole_number_with_a_point_is_an_integer_as_json_schema_says() -> None:
    assert Adjustment.model_validate({"delta": -3.0}).delta == -3
    assert NewItem.model_validate(new_item(quantity=7.0)).quantity == 7
    assert isinstance(NewItem.model_validate(new_item(quantity=7.0)).quantity, int)
