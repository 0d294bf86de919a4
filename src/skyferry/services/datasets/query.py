"""A download's query string, checked against the dataset's schema and turned into SQL.

Column names are only ever taken from the schema and quoted; every filter value, the page
bounds and the source's path are ``?`` parameters. Nothing a client sends becomes SQL text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from skyferry.services.datasets.columns import parse_value, quote
from skyferry.services.datasets.errors import InvalidQueryError
from skyferry.services.datasets.formats import Format
from skyferry.services.datasets.models import Column, Dataset

RESERVED = ("fields", "limit", "offset")
"""Query parameters that are not column filters."""

MAX_PAGE = 2**62
"""The largest limit or offset: a BIGINT holds it; the download's schema states it."""


@dataclass(frozen=True)
class Filter:
    """``column IN values`` (``=`` for one value)."""

    column: Column
    values: tuple[object, ...]


@dataclass(frozen=True)
class DownloadQuery:
    columns: tuple[Column, ...]
    filters: tuple[Filter, ...]
    limit: int | None = None
    offset: int = 0

    def sql(self, fmt: Format, source: str) -> tuple[str, list[object]]:
        """The statement for ``fmt`` over ``source`` (a FROM item) and its parameters in order."""
        select = ", ".join(fmt.expression(column) for column in self.columns)
        # names come from the schema, quoted; values are all ``?`` markers
        sql = f"SELECT {select} FROM {source}"  # noqa: S608
        params: list[object] = []
        if self.filters:
            conditions = []
            for condition in self.filters:
                name = quote(condition.column.name)
                if len(condition.values) == 1:
                    conditions.append(f"{name} = ?")
                else:
                    conditions.append(f"{name} IN ({', '.join('?' * len(condition.values))})")
                params.extend(condition.values)
            sql += " WHERE " + " AND ".join(conditions)
        if self.limit is not None:
            sql += " LIMIT ?"
            params.append(self.limit)
        if self.offset:
            sql += " OFFSET ?"
            params.append(self.offset)
        return fmt.wrap(sql), params


def parse_query(
    dataset: Dataset, items: Iterable[tuple[str, str]], *, max_values: int
) -> DownloadQuery:
    """Read ``?column=value&…&fields=a,b&limit=N&offset=N``; InvalidQueryError names the fault.

    A column repeated is an IN filter; ``fields`` may be repeated or comma-separated.
    """
    values: dict[str, list[str]] = {}
    for key, value in items:
        values.setdefault(key, []).append(value)
    unknown = [key for key in values if key not in RESERVED and dataset.column(key) is None]
    if unknown:
        raise InvalidQueryError(
            f"{dataset.name!r} has no column {unknown[0][:100]!r}; filter on one of: "
            f"{', '.join(dataset.column_names)} (or use {', '.join(RESERVED)})",
            valid_columns=dataset.column_names,
        )
    filters = tuple(
        _filter(dataset, key, raw, max_values) for key, raw in values.items() if key not in RESERVED
    )
    return DownloadQuery(
        columns=_projection(dataset, values.get("fields")),
        filters=filters,
        limit=_page_bound("limit", values.get("limit")),
        offset=_page_bound("offset", values.get("offset")) or 0,
    )


def _filter(dataset: Dataset, name: str, raw: list[str], max_values: int) -> Filter:
    column = dataset.column(name)
    assert column is not None
    distinct = list(dict.fromkeys(raw))
    if len(distinct) > max_values:
        raise InvalidQueryError(
            f"column {name!r} lists {len(distinct)} values; at most {max_values} are allowed",
            column=name,
        )
    return Filter(column, tuple(parse_value(column, value) for value in distinct))


def _projection(dataset: Dataset, fields: list[str] | None) -> tuple[Column, ...]:
    if fields is None:
        return tuple(dataset.columns)
    names = [name.strip() for value in fields for name in value.split(",") if name.strip()]
    if not names:
        raise InvalidQueryError(
            f"fields names no column; choose from: {', '.join(dataset.column_names)}",
            valid_columns=dataset.column_names,
        )
    chosen = []
    for name in dict.fromkeys(names):
        column = dataset.column(name)
        if column is None:
            raise InvalidQueryError(
                f"fields names {name[:100]!r}, which {dataset.name!r} does not have; "
                f"choose from: {', '.join(dataset.column_names)}",
                valid_columns=dataset.column_names,
            )
        chosen.append(column)
    return tuple(chosen)


def _page_bound(name: str, raw: list[str] | None) -> int | None:
    if raw is None:
        return None
    if len(raw) > 1:
        raise InvalidQueryError(f"{name} is given {len(raw)} times; give it once")
    text = raw[0].strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_PAGE:
        raise InvalidQueryError(f"{name} must be a whole number from 0 to {MAX_PAGE}")
    return int(text)
