"""An item's entity tag: its version, quoted."""

from __future__ import annotations


def item_etag(version: int) -> str:
    """Strong: one version of an item has exactly one JSON representation."""
    return f'"{version}"'
