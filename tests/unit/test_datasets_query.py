"""Download query strings: checked against the schema, turned into SQL with bound values only."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import duckdb
import pytest

from skyferry.services.datasets.columns import family, parse_value, quote
from skyferry.services.datasets.errors import InvalidQueryError
from skyferry.services.datasets.formats import FORMATS
from skyferry.services.datasets.models import Column, Dataset
from skyferry.services.datasets.query import parse_query

DATASET = Dataset(
    name="entity",
    blob_key="datasets/entity/v1.parquet",
    columns=[
        Column(name="entity", type="BIGINT"),
        Column(name="name", type="VARCHAR"),
        Column(name="organisation-entity", type="BIGINT"),
        Column(name="start-date", type="DATE"),
        Column(name='odd "quoted" name', type="VARCHAR"),
        Column(name="tags", type="VARCHAR[]"),
    ],
    row_count=3,
    size_bytes=100,
    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
)
HOSTILE = [
    "1'; DROP TABLE t; --",
    "x' OR '1'='1",
    '") UNION SELECT * FROM duckdb_settings() --',
    "'; COPY (SELECT 1) TO '/tmp/pwned.csv'; --",
    "?",
    "$1",
]


def parse(pairs: list[tuple[str, str]]) -> object:
    return parse_query(DATASET, pairs, max_values=10)


def test_no_parameters_means_every_column_and_row() -> None:
    query = parse_query(DATASET, [], max_values=10)
    sql, params = query.sql(FORMATS["csv"], "t")

    assert [column.name for column in query.columns] == DATASET.column_names
    assert "WHERE" not in sql
    assert "LIMIT" not in sql
    assert params == []


def test_one_value_is_equality_and_a_repeated_column_is_in() -> None:
    query = parse_query(
        DATASET,
        [("organisation-entity", "600001"), ("organisation-entity", "600002"), ("name", "Oak")],
        max_values=10,
    )
    sql, params = query.sql(FORMATS["csv"], "t")

    assert 'WHERE "organisation-entity" IN (?, ?) AND "name" = ?' in sql
    assert params == [600001, 600002, "Oak"]


def test_repeated_identical_values_are_bound_once() -> None:
    query = parse_query(DATASET, [("entity", "1"), ("entity", "1")], max_values=10)
    _, params = query.sql(FORMATS["csv"], "t")
    assert params == [1]


def test_fields_project_in_the_order_given_comma_separated_or_repeated() -> None:
    query = parse_query(
        DATASET, [("fields", "name, entity"), ("fields", "start-date,name")], max_values=10
    )
    assert [column.name for column in query.columns] == ["name", "entity", "start-date"]


def test_limit_and_offset_are_parameters() -> None:
    query = parse_query(DATASET, [("limit", "5"), ("offset", "10")], max_values=10)
    sql, params = query.sql(FORMATS["csv"], "t")
    assert sql.endswith("LIMIT ? OFFSET ?")
    assert params == [5, 10]


def test_unknown_column_names_every_valid_one() -> None:
    with pytest.raises(InvalidQueryError) as caught:
        parse([("organisation", "1")])
    message = str(caught.value)
    assert "'organisation'" in message
    for name in DATASET.column_names:
        assert name in message
    assert caught.value.extensions["valid_columns"] == DATASET.column_names


def test_unknown_field_names_every_valid_one() -> None:
    with pytest.raises(InvalidQueryError, match="start-date") as caught:
        parse([("fields", "entity,nope")])
    assert "'nope'" in str(caught.value)


@pytest.mark.parametrize(
    ("pairs", "fragment"),
    [
        ([("fields", " , ")], "fields names no column"),
        ([("limit", "-1")], "limit must be a whole number"),
        ([("limit", "ten")], "limit must be a whole number"),
        ([("offset", "1e3")], "offset must be a whole number"),
        ([("limit", "9" * 5000)], "limit must be a whole number"),
        ([("limit", "1"), ("limit", "2")], "limit is given 2 times"),
        ([("entity", "12x")], "not a valid BIGINT for column 'entity'"),
        ([("start-date", "31/01/2024")], "expected YYYY-MM-DD"),
        ([("tags", "a")], "cannot be filtered on"),
        ([("entity", str(n)) for n in range(11)], "at most 10 are allowed"),
    ],
)
def test_bad_parameters_are_refused_with_the_reason(
    pairs: list[tuple[str, str]], fragment: str
) -> None:
    with pytest.raises(InvalidQueryError, match=fragment):
        parse(pairs)


def test_identifiers_are_quoted_so_a_schema_name_cannot_break_out() -> None:
    assert quote('odd "quoted" name') == '"odd ""quoted"" name"'
    query = parse_query(DATASET, [('odd "quoted" name', "v")], max_values=10)
    sql, _ = query.sql(FORMATS["csv"], "t")
    assert 'WHERE "odd ""quoted"" name" = ?' in sql


@pytest.mark.parametrize("value", HOSTILE)
def test_sql_in_a_value_is_data_for_duckdb(value: str) -> None:
    """The statement is the same whatever the value, and DuckDB compares it as a plain string."""
    query = parse_query(DATASET, [("name", value), ("fields", "entity,name")], max_values=10)
    benign = parse_query(DATASET, [("name", "Oak"), ("fields", "entity,name")], max_values=10)
    sql, params = query.sql(FORMATS["csv"], "t")
    assert sql == benign.sql(FORMATS["csv"], "t")[0]
    assert params == [value]

    connection = duckdb.connect()
    try:
        connection.execute("CREATE TABLE t (entity BIGINT, name VARCHAR)")
        connection.execute("INSERT INTO t VALUES (1, ?), (2, 'Oak')", [value])
        rows = connection.sql(sql, params=params).fetchall()
        assert rows == [(1, value)]
        assert connection.sql("SELECT count(*) FROM t").fetchall() == [(2,)]
    finally:
        connection.close()


@pytest.mark.parametrize("value", HOSTILE)
def test_sql_in_a_number_filter_is_a_400(value: str) -> None:
    with pytest.raises(InvalidQueryError, match="not a valid BIGINT"):
        parse([("organisation-entity", value)])


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("BIGINT", "-42", -42),
        ("UTINYINT", "+7", 7),
        ("HUGEINT", "170141183460469231731687303715884105727", 2**127 - 1),
        ("DOUBLE", "1.5e3", 1500.0),
        ("DECIMAL(10,2)", "12.50", Decimal("12.50")),
        ("BOOLEAN", "TRUE", True),
        ("BOOLEAN", "0", False),
        ("VARCHAR", "", ""),
        ("DATE", "2024-02-29", date(2024, 2, 29)),
        ("TIMESTAMP", "2024-01-31T12:00:00", datetime(2024, 1, 31, 12)),
        (
            "TIMESTAMP WITH TIME ZONE",
            "2024-01-31T12:00:00+00:00",
            datetime(2024, 1, 31, 12, tzinfo=UTC),
        ),
        ("TIME", "07:30", time(7, 30)),
        (
            "UUID",
            "12345678-1234-5678-1234-567812345678",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
    ],
)
def test_values_are_read_as_their_column_type(type_: str, raw: str, expected: object) -> None:
    assert parse_value(Column(name="c", type=type_), raw) == expected


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("BIGINT", "1.0"),
        ("BIGINT", " 1"),
        ("BIGINT", "\uff11"),  # a full-width digit one: int() would accept it
        ("DOUBLE", ""),
        ("DECIMAL(4,1)", "NaN"),
        ("BOOLEAN", "maybe"),
        ("DATE", "2024-02-30"),
        ("UUID", "not-a-uuid"),
    ],
)
def test_values_the_type_cannot_hold_are_refused(type_: str, raw: str) -> None:
    with pytest.raises(InvalidQueryError, match=f"not a valid {type_.split('(')[0]}"):
        parse_value(Column(name="c", type=type_), raw)


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("BIGINT", str(2**63)),
        ("BIGINT", str(-(2**63) - 1)),
        ("TINYINT", "128"),
        ("UTINYINT", "-1"),
        ("HUGEINT", str(2**127)),
        ("UHUGEINT", str(2**128)),  # past 128 bits: DuckDB cannot bind it at all
        ("BIGINT", "9" * 40),
    ],
)
def test_whole_numbers_past_the_columns_type_are_refused_naming_the_range(
    type_: str, raw: str
) -> None:
    with pytest.raises(InvalidQueryError, match=f"outside the range of {type_} for column 'c'"):
        parse_value(Column(name="c", type=type_), raw)


@pytest.mark.parametrize(
    ("type_", "raw"),
    [("BIGINT", str(2**63 - 1)), ("BIGINT", str(-(2**63))), ("UHUGEINT", str(2**128 - 1))],
)
def test_whole_numbers_at_the_ends_of_the_range_are_taken(type_: str, raw: str) -> None:
    assert parse_value(Column(name="c", type=type_), raw) == int(raw)


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        ("BIGINT", "integer"),
        ("DECIMAL(18,3)", "decimal"),
        ("VARCHAR[]", "nested"),
        ("INTEGER[2]", "nested"),
        ("STRUCT(a INTEGER)", "nested"),
        ("MAP(VARCHAR, INTEGER)", "nested"),
        ("BLOB", "other"),
        ("INTERVAL", "other"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp"),
    ],
)
def test_type_families(type_: str, expected: str) -> None:
    assert family(type_) == expected
