"""The item store on SQL (SQLite or Postgres), one SQLAlchemy Core implementation for both.

Prices are kept as integer cents: SQLite has no exact decimal type (SQLAlchemy's Numeric goes
through float there), and integers are exact on every database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.services.inventory.errors import BackendUnavailableError
from skyferry.services.inventory.models import Item
from skyferry.services.inventory.store import AlreadyExistsError, ConditionFailedError
from skyferry.storage.sql import is_unique_violation, new_metadata

metadata = new_metadata()
"""This service's tables, migrated by its own branch (``migrations/``)."""

items = sa.Table(
    "inventory_items",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("name_folded", sa.String(800), nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("price_cents", sa.BigInteger, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    # the last line of defence: whatever code runs, the database keeps stock from going negative
    sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),
)

T = TypeVar("T")


class SqlItemStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def insert(self, item: Item) -> None:
        await self._run(self._insert, item)

    async def get(self, sku: str) -> Item | None:
        return await self._run(self._get, sku)

    async def page(self, *, after: str | None, name_prefix: str | None, limit: int) -> list[Item]:
        return await self._run(self._page, after, name_prefix, limit)

    async def update(
        self, sku: str, changes: dict[str, Any], *, expected_version: int | None, at: datetime
    ) -> Item:
        values = _columns(changes)
        values.update(updated_at=at, version=items.c.version + 1)
        return await self._run(self._write, sku, values, (), expected_version)

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
        # the condition and the change are one UPDATE, so the database applies them atomically:
        # concurrent adjusts queue on the row lock and each sees the quantity the last one left
        quantity = items.c.quantity + delta
        values = {"quantity": quantity, "updated_at": at, "version": items.c.version + 1}
        bounds = (quantity >= floor, quantity <= ceiling)
        return await self._run(self._write, sku, values, bounds, expected_version)

    async def delete(self, sku: str, *, expected_version: int | None) -> None:
        await self._run(self._delete, sku, expected_version)

    # -- blocking halves, run in a worker thread ------------------------------------------------

    def _insert(self, item: Item) -> None:
        with self._engine.begin() as connection:
            try:
                connection.execute(items.insert().values(**_row(item)))
            except sa.exc.IntegrityError as exc:
                if is_unique_violation(exc):
                    raise AlreadyExistsError(item.sku) from exc
                raise

    def _get(self, sku: str) -> Item | None:
        with self._engine.connect() as connection:
            row = connection.execute(items.select().where(items.c.sku == sku)).first()
        return _item(row) if row else None

    def _page(self, after: str | None, name_prefix: str | None, limit: int) -> list[Item]:
        query = items.select().order_by(items.c.sku).limit(limit)
        if after is not None:
            query = query.where(items.c.sku > after)
        if name_prefix:
            # LIKE with the prefix's own % and _ escaped; both sides are case-folded already
            query = query.where(items.c.name_folded.startswith(name_prefix, autoescape=True))
        with self._engine.connect() as connection:
            return [_item(row) for row in connection.execute(query)]

    def _write(
        self,
        sku: str,
        values: dict[str, Any],
        conditions: tuple[sa.ColumnElement[bool], ...],
        expected_version: int | None,
    ) -> Item:
        statement = sa.update(items).where(items.c.sku == sku, *conditions)
        if expected_version is not None:
            statement = statement.where(items.c.version == expected_version)
        with self._engine.begin() as connection:
            row = connection.execute(statement.values(**values).returning(*items.c)).first()
            if row is None:
                raise ConditionFailedError(_current(connection, sku))
            return _item(row)

    def _delete(self, sku: str, expected_version: int | None) -> None:
        statement = sa.delete(items).where(items.c.sku == sku)
        if expected_version is not None:
            statement = statement.where(items.c.version == expected_version)
        with self._engine.begin() as connection:
            if connection.execute(statement).rowcount == 0:
                raise ConditionFailedError(_current(connection, sku))

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(function, *args)
        except sa.exc.SQLAlchemyError as exc:
            # the driver's class name says what failed (OperationalError: unreachable, no table)
            # without its message, which can quote connection parameters
            cause = getattr(exc, "orig", None) or exc
            raise BackendUnavailableError(
                f"the inventory database failed: {type(cause).__name__}"
            ) from exc


def _current(connection: sa.Connection, sku: str) -> Item | None:
    row = connection.execute(items.select().where(items.c.sku == sku)).first()
    return _item(row) if row else None


def _row(item: Item) -> dict[str, Any]:
    return {
        "sku": item.sku,
        **_columns(item.model_dump(include={"name", "quantity", "price", "attributes"})),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "version": item.version,
    }


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    """Item fields as columns: the folded name beside the name, the price in cents."""
    columns: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "price":
            columns["price_cents"] = int(value.scaleb(2))
        elif name == "name":
            columns["name"] = value
            columns["name_folded"] = value.casefold()
        else:
            columns[name] = value
    return columns


def _item(row: sa.Row[Any]) -> Item:
    return Item(
        sku=row.sku,
        name=row.name,
        quantity=row.quantity,
        price=Decimal(row.price_cents).scaleb(-2),
        attributes=row.attributes,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        version=row.version,
    )


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
