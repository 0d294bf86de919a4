"""The inventory's pure parsers: Range headers, entity-tag lists, filenames and prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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


@pytest.mark.parametrize(
    ("price", "stored"),
    [
        ("19.99", "19.99"),
        ("19.9", "19.90"),
        ("5", "5.00"),
        (5, "5.00"),
        (19.99, "19.99"),
        (0.1, "0.10"),
        ("0", "0.00"),
        ("-0", "0.00"),
        ("1E+2", "100.00"),
        ("9999999999.99", "9999999999.99"),
    ],
)
def test_prices_become_exact_two_place_decimals(price: object, stored: str) -> None:
    item = NewItem.model_validate(new_item(price=price))
    assert item.price == Decimal(stored)
    assert item.model_dump(mode="json")["price"] == stored


@pytest.mark.parametrize(
    "price", ["19.999", "-0.01", "NaN", "Infinity", "1E+20", "abc", True, None, "1.005"]
)
def test_bad_prices_are_refused(price: object) -> None:
    with pytest.raises(ValidationError) as caught:
        NewItem.model_validate(new_item(price=price))
    assert caught.value.errors()[0]["loc"] == ("price",)


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


@pytest.mark.parametrize("body", [{}, {"name": None}, {"price": "1.001"}, {"version": 3}])
def test_bad_patches_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ItemPatch.model_validate(body)


def test_a_patch_names_only_what_it_changes() -> None:
    assert ItemPatch.model_validate({"quantity": 0}).changes() == {"quantity": 0}


@pytest.mark.parametrize("delta", [0, "1", 1.0, True, 2_000_000_000])
def test_bad_adjustments_are_refused(delta: object) -> None:
    with pytest.raises(ValidationError):
        Adjustment.model_validate({"delta": delta})
