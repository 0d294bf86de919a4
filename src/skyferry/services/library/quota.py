"""A daily request quota shared by every worker: one counter row per source and day.

Google counts a project's requests per Pacific day (its quotas reset at midnight Pacific
time), so the day here is that one. Taking a unit is one conditional UPDATE; when the day's
count has reached the quota the source is unavailable until the next day.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from skyferry.services.library.errors import SourceUnavailableError
from skyferry.services.library.tables import quota_usage
from skyferry.storage.sql import insert_missing, retry_while_unreachable

_PACIFIC = ZoneInfo("America/Los_Angeles")


class DailyQuota:
    def __init__(self, database: Engine, name: str, limit: int) -> None:
        self.database = database
        self.name = name
        self.limit = limit

    async def take(self) -> None:
        """Count one request, or raise ``SourceUnavailableError`` if today's are used up."""
        taken = await retry_while_unreachable(
            lambda: asyncio.to_thread(self._take),
            what=f"quota {self.name}",
            give_up_after=None,
        )
        if not taken:
            raise SourceUnavailableError(
                f"{self.name}: the daily quota of {self.limit} requests is used up",
                quota=self.limit,
            )

    def used_today(self) -> int:
        query = sa.select(quota_usage.c.used).where(*self._today())
        with self.database.connect() as connection:
            return int(connection.execute(query).scalar_one_or_none() or 0)

    def _take(self) -> bool:
        if self.limit <= 0:
            return False
        add_one = (
            sa.update(quota_usage)
            .where(*self._today(), quota_usage.c.used < self.limit)
            .values(used=quota_usage.c.used + 1)
        )
        with self.database.begin() as connection:
            if connection.execute(add_one).rowcount == 1:
                return True
            row = {"name": self.name, "day": _day(), "used": 1}
            return insert_missing(connection, quota_usage, row)

    def _today(self) -> tuple[sa.ColumnElement[bool], ...]:
        return (quota_usage.c.name == self.name, quota_usage.c.day == _day())


def _day() -> str:
    return datetime.now(_PACIFIC).date().isoformat()
