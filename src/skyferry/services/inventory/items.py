"""The inventory's rules, once, above the item store port.

What may change and when: a new item starts at version 1; every change bumps the version;
If-Match must name the current version; stock never leaves 0..MAX_QUANTITY. The store makes
each write a single conditional one; this module decides what a failed condition means.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from skyferry.http.cursors import InvalidCursorError
from skyferry.http.etags import ETagList
from skyferry.services.inventory.cursors import decode_cursor, encode_cursor
from skyferry.services.inventory.errors import (
    InsufficientStockError,
    ItemBusyError,
    ItemExistsError,
    ItemNotFoundError,
    PreconditionFailedError,
    StockLimitError,
)
from skyferry.services.inventory.etags import item_etag
from skyferry.services.inventory.models import (
    MAX_QUANTITY,
    SKU_PATTERN,
    Item,
    ItemPage,
    ItemPatch,
    NewItem,
)
from skyferry.services.inventory.store import AlreadyExistsError, ConditionFailedError, ItemStore

_ATTEMPTS = 5
"""Tries of a write whose condition failed for no reason left by the time we looked: it only
bounds bad luck, since each try is one atomic conditional write."""

_SKU = re.compile(SKU_PATTERN)

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


class Inventory:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    async def create(self, new: NewItem) -> Item:
        now = _now()
        item = Item(**new.model_dump(), created_at=now, updated_at=now, version=1)
        try:
            await self.store.insert(item)
        except AlreadyExistsError:
            raise ItemExistsError(new.sku) from None
        return item

    async def get(self, sku: str) -> Item:
        item = await self.store.get(sku)
        if item is None:
            raise ItemNotFoundError(sku)
        return item

    async def page(self, *, cursor: str | None, name_prefix: str | None, limit: int) -> ItemPage:
        after = decode_cursor(cursor) if cursor else None
        if after is not None and not _SKU.match(after):
            raise InvalidCursorError
        prefix = name_prefix.casefold() if name_prefix else None
        # one more than asked tells whether another page follows without a second query
        found = await self.store.page(after=after, name_prefix=prefix, limit=limit + 1)
        items = found[:limit]
        more = len(found) > limit
        return ItemPage(items=items, next_cursor=encode_cursor(items[-1].sku) if more else None)

    async def update(self, sku: str, patch: ItemPatch, if_match: ETagList | None) -> Item:
        changes = patch.changes()

        async def write(expected: int | None) -> Item:
            return await self.store.update(sku, changes, expected_version=expected, at=_now())

        return await self._conditionally(sku, if_match, write)

    async def adjust(self, sku: str, delta: int, if_match: ETagList | None) -> Item:
        """Add ``delta`` to the stock in one conditional write; never below 0 (409 instead)."""

        async def write(expected: int | None) -> Item:
            return await self.store.adjust(
                sku,
                delta,
                floor=0,
                ceiling=MAX_QUANTITY,
                expected_version=expected,
                at=_now(),
            )

        def explain(current: Item) -> None:
            if current.quantity + delta < 0:
                raise InsufficientStockError(sku, current.quantity, delta)
            if current.quantity + delta > MAX_QUANTITY:
                raise StockLimitError(sku, current.quantity, delta, MAX_QUANTITY)

        return await self._conditionally(sku, if_match, write, explain)

    async def delete(self, sku: str, if_match: ETagList | None) -> None:
        async def write(expected: int | None) -> None:
            await self.store.delete(sku, expected_version=expected)

        await self._conditionally(sku, if_match, write)

    async def _conditionally(
        self,
        sku: str,
        if_match: ETagList | None,
        write: Callable[[int | None], Awaitable[T]],
        explain: Callable[[Item], None] | None = None,
    ) -> T:
        """Run one conditional write and turn its failure into the rule it broke.

        ``explain`` raises the error a rule of the write's own (the stock floor) gives for the
        item as it now is. If no rule explains the failure, the item changed between the write
        and the look at it, and the write is tried again: each try is still one atomic write.
        """
        for _ in range(_ATTEMPTS):
            expected = await self._expected_version(sku, if_match)
            try:
                return await write(expected)
            except ConditionFailedError as failed:
                current = failed.current
                if current is None:
                    raise ItemNotFoundError(sku) from None
                if expected is not None and current.version != expected:
                    raise PreconditionFailedError(sku) from None
                if explain is not None:
                    explain(current)
        raise ItemBusyError(sku)

    async def _expected_version(self, sku: str, if_match: ETagList | None) -> int | None:
        """The version a conditional write must find: the current one, if If-Match names it.

        Checking the list against a fresh read and then writing on that version's condition
        is atomic as a whole: if the item changes in between, the write fails and we answer 412.
        """
        if if_match is None:
            return None
        current = await self.get(sku)
        if not if_match.matches_strong(item_etag(current.version)):
            raise PreconditionFailedError(sku)
        return current.version
