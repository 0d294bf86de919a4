"""The inventory service's exceptions: subclasses of skyferry's root, each knowing its status.

The core's one handler turns them into problem+json; the structured fields become the
problem's extension members, so clients need not parse the message.
"""

from __future__ import annotations

from typing import Any, ClassVar

from skyferry.errors import SkyferryError


class InventoryError(SkyferryError):
    """Root of everything the inventory service raises on purpose."""

    status: ClassVar[int] = 500
    title: ClassVar[str | None] = "Inventory error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **fields: Any):
        super().__init__(detail, headers=headers, **fields)


class ItemNotFoundError(InventoryError):
    status = 404
    title = "Item not found"

    def __init__(self, sku: str) -> None:
        super().__init__(f"no item with sku {sku!r}", sku=sku)


class ItemExistsError(InventoryError):
    status = 409
    title = "Item already exists"

    def __init__(self, sku: str) -> None:
        super().__init__(
            f"an item with sku {sku!r} already exists; PATCH it or DELETE it first", sku=sku
        )


class PreconditionFailedError(InventoryError):
    """If-Match named a version the item no longer has: someone else changed it."""

    status = 412
    title = "Precondition failed"

    def __init__(self, sku: str) -> None:
        super().__init__(
            f"item {sku!r} has changed since the version in If-Match; "
            "GET it again and retry with its new ETag",
            sku=sku,
        )


class InsufficientStockError(InventoryError):
    status = 409
    title = "Insufficient stock"

    def __init__(self, sku: str, quantity: int, delta: int) -> None:
        super().__init__(
            f"cannot take {-delta} of item {sku!r}: only {quantity} in stock",
            sku=sku,
            quantity=quantity,
            delta=delta,
        )


class StockLimitError(InventoryError):
    status = 409
    title = "Stock limit exceeded"

    def __init__(self, sku: str, quantity: int, delta: int, limit: int) -> None:
        super().__init__(
            f"adding {delta} to item {sku!r} ({quantity} in stock) would pass the limit of {limit}",
            sku=sku,
            quantity=quantity,
            delta=delta,
            limit=limit,
        )


class ItemBusyError(InventoryError):
    """Conditional writes kept losing to concurrent ones; a retry will almost surely pass."""

    status = 409
    title = "Item busy"

    def __init__(self, sku: str) -> None:
        super().__init__(f"item {sku!r} changed under every attempt; retry", sku=sku)


class InvalidFilenameError(InventoryError):
    status = 400
    title = "Invalid filename"

    def __init__(self, filename: str, reason: str) -> None:
        # repr escapes NUL and other control characters; long names are cut for the message
        shown = filename if len(filename) <= 80 else filename[:80] + "…"
        super().__init__(f"invalid filename {shown!r}: {reason}", reason=reason)


class StoredFileNotFoundError(InventoryError):
    status = 404
    title = "File not found"

    def __init__(self, filename: str) -> None:
        super().__init__(f"no file named {filename!r}", filename=filename)


class FileConflictError(InventoryError):
    """A local file store cannot hold "a" as a file and as a folder of other files at once."""

    status = 409
    title = "File name conflict"

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"cannot store {filename!r}: {reason}", filename=filename)


class FileTooLargeError(InventoryError):
    status = 413
    title = "Content Too Large"  # the title of every 413, whichever layer refuses

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload exceeds the limit of {limit} bytes", limit=limit)


class BackendUnavailableError(InventoryError):
    """The database, DynamoDB or the blob store failed; the message never holds credentials."""

    status = 503
    title = "Backend unavailable"
