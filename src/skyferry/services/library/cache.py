"""The lookup cache every upload shares: what each source said of a book, by ISBN or title.

Only answers are cached — "found, with these facts" or "this source does not know the book" —
never a failure: a lookup that ended in a 429 or an outage is asked again next time. Uploading
the same library again therefore makes no API call at all.
"""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.services.library.providers import Facts
from skyferry.services.library.tables import lookups
from skyferry.storage.sql import retry_while_unreachable, upsert


class LookupCache:
    def __init__(self, database: Engine, outage_seconds: float | None) -> None:
        self.database = database
        self.outage_seconds = outage_seconds

    async def get(self, source: str, key: str) -> Facts | None:
        return await retry_while_unreachable(
            lambda: asyncio.to_thread(self._get, source, key),
            what="a lookup-cache read",
            give_up_after=self.outage_seconds,
        )

    async def put(self, source: str, key: str, facts: Facts) -> None:
        await retry_while_unreachable(
            lambda: asyncio.to_thread(self._put, source, key, facts),
            what="a lookup-cache write",
            give_up_after=self.outage_seconds,
        )

    def _get(self, source: str, key: str) -> Facts | None:
        query = sa.select(lookups.c.facts).where(lookups.c.source == source, lookups.c.key == key)
        with self.database.connect() as connection:
            stored = connection.execute(query).scalar_one_or_none()
        return None if stored is None else Facts.model_validate(stored)

    def _put(self, source: str, key: str, facts: Facts) -> None:
        row = {
            "source": source,
            "key": key,
            "found": facts.found,
            "facts": facts.model_dump(mode="json"),
            "fetched_at": time.time(),
        }
        with self.database.begin() as connection:
            upsert(connection, lookups, row, ["source", "key"])
