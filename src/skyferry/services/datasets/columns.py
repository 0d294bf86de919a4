"""What a column's DuckDB type means here: how a filter value is read, and how SQL names it.

Filter values arrive as text in a query string; each is parsed into the Python value of the
column's type here, so a bad value is a 400 naming the column before any query runs, and DuckDB
receives it as a bound parameter, never as SQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Literal

from skyferry.services.datasets.errors import InvalidQueryError
from skyferry.services.datasets.models import Column

Family = Literal[
    "integer", "float", "decimal", "boolean", "text", "date", "timestamp", "time", "uuid", "nested",
    "other",
]  # fmt: skip

_INTEGER_BITS = {
    "TINYINT": 8, "SMALLINT": 16, "INTEGER": 32, "BIGINT": 64, "HUGEINT": 128,
    "UTINYINT": 8, "USMALLINT": 16, "UINTEGER": 32, "UBIGINT": 64, "UHUGEINT": 128,
}  # fmt: skip
_INTEGERS = set(_INTEGER_BITS)
_SIMPLE: dict[str, Family] = {
    "FLOAT": "float",
    "DOUBLE": "float",
    "BOOLEAN": "boolean",
    "VARCHAR": "text",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIME": "time",
    "UUID": "uuid",
}
_NESTED = re.compile(r"^(STRUCT|MAP|UNION)\(|\]$")
_INTEGER_TEXT = re.compile(r"^[+-]?[0-9]{1,40}$")
_TRUE = {"true", "t", "1", "yes"}
_FALSE = {"false", "f", "0", "no"}


def family(type_: str) -> Family:
    """The kind of value a DuckDB type name (as DESCRIBE reports it) holds."""
    upper = type_.upper()
    if upper in _INTEGERS:
        return "integer"
    if upper.startswith("DECIMAL"):
        return "decimal"
    if _NESTED.search(upper):
        return "nested"
    return _SIMPLE.get(upper, "other")


def quote(name: str) -> str:
    """A column name as a SQL identifier. Only names from a dataset's schema ever get here."""
    return '"' + name.replace('"', '""') + '"'


def parse_value(column: Column, raw: str) -> object:
    """The Python value ``raw`` means for ``column``, or InvalidQueryError saying why not."""
    kind = family(column.type)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise InvalidQueryError(
            f"column {column.name!r} has type {column.type}, which cannot be filtered on",
            column=column.name,
        )
    try:
        value = parser(raw)
    except (ValueError, InvalidOperation):
        raise InvalidQueryError(
            f"{raw[:100]!r} is not a valid {column.type} for column {column.name!r}"
            f"{_HINTS.get(kind, '')}",
            column=column.name,
        ) from None
    if kind == "integer":
        _check_range(column, raw, value)
    return value


def _check_range(column: Column, raw: str, value: object) -> None:
    """A whole number the column's type cannot hold matches no row, but DuckDB would fail on
    it rather than say so (past 128 bits it cannot even bind it): refuse it, naming the range."""
    bits = _INTEGER_BITS[column.type.upper()]
    signed = not column.type.upper().startswith("U")
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    assert isinstance(value, int)
    if not low <= value <= high:
        raise InvalidQueryError(
            f"{raw[:100]!r} is outside the range of {column.type} for column {column.name!r} "
            f"(from {low} to {high})",
            column=column.name,
        )


def _integer(raw: str) -> int:
    if not _INTEGER_TEXT.match(raw):
        raise ValueError(raw)
    return int(raw)


def _float(raw: str) -> float:
    if not raw.strip():
        raise ValueError(raw)
    return float(raw)


def _decimal(raw: str) -> Decimal:
    value = Decimal(raw)
    if not value.is_finite():
        raise ValueError(raw)
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


def _timestamp(raw: str) -> datetime:
    return datetime.fromisoformat(raw)


_PARSERS: dict[Family, Callable[[str], object]] = {
    "integer": _integer,
    "float": _float,
    "decimal": _decimal,
    "boolean": _boolean,
    "text": str,
    "date": date.fromisoformat,
    "timestamp": _timestamp,
    "time": time.fromisoformat,
    "uuid": uuid.UUID,
}
_HINTS: dict[Family, str] = {
    "integer": " (expected a whole number)",
    "float": " (expected a number)",
    "decimal": " (expected a number)",
    "boolean": " (expected true or false)",
    "date": " (expected YYYY-MM-DD)",
    "timestamp": " (expected an ISO 8601 time, e.g. 2024-01-31T12:00:00)",
    "time": " (expected HH:MM[:SS])",
    "uuid": " (expected a UUID)",
}
