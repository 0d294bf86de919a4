"""The item store port: what the inventory rules need from a table, whichever backend holds it.

Adapters (``sql.py``, ``dynamodb.py``) only move rows and perform conditional writes; the rules
(what may change, If-Match, the stock floor) live once, in ``items.py``. Every write is a single
conditional statement, so concurrent requests can never interleave inside one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from skyferry.services.inventory.models import Item
from skyferry.services.inventory.settings import InventorySettings

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine

    from skyferry.config import Settings


class AlreadyExistsError(Exception):
    """``insert`` found an item with the same sku."""


class ConditionFailedError(Exception):
    """A conditional write changed nothing; ``current`` is the item as it is now (None: gone).

    The rules above the port decide what that means: not found, a stale If-Match, too little
    stock, or a race to try again.
    """

    def __init__(self, current: Item | None) -> None:
        super().__init__("conditional write failed")
        self.current = current


class ItemStore(Protocol):
    async def insert(self, item: Item) -> None:
        """Add ``item``; AlreadyExistsError if its sku is taken."""
        ...

    async def get(self, sku: str) -> Item | None:
        """The item as last written (a strongly consistent read), or None."""
        ...

    async def page(self, *, after: str | None, name_prefix: str | None, limit: int) -> list[Item]:
        """Up to ``limit`` items following the one with sku ``after`` in the store's order.

        ``name_prefix`` is matched, already case-folded, against the case-folded name.
        """
        ...

    async def update(
        self, sku: str, changes: dict[str, Any], *, expected_version: int | None, at: datetime
    ) -> Item:
        """Set ``changes`` (name, quantity, price, attributes), bump the version, stamp ``at``.

        Only if the item exists and, when ``expected_version`` is given, has that version;
        otherwise ConditionFailedError.
        """
        ...

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
        """Add ``delta`` to the quantity in one atomic write, if the result stays within
        ``floor``..``ceiling`` (and the version matches); otherwise ConditionFailedError."""
        ...

    async def delete(self, sku: str, *, expected_version: int | None) -> None:
        """Remove the item if it exists (with that version); otherwise ConditionFailedError."""
        ...


def open_item_store(settings: Settings, database: Callable[[], Engine]) -> ItemStore:
    """The store the inventory settings' ``backend`` names; boto3 is imported only for DynamoDB,
    and the SQL engine (``database()``) is built only for SQL.

    Blocking (DynamoDB builds a client, which reads files): call it from a thread.
    """
    if settings.of(InventorySettings).backend == "dynamodb":
        from skyferry.services.inventory.dynamodb import DynamoItemStore

        return DynamoItemStore.from_settings(settings)
    from skyferry.services.inventory.sql import SqlItemStore

    return SqlItemStore(database())
