"""Admitting downloads by the memory they will hold, not by a count.

A download holds up to ``buffered_chunks`` encoded chunks waiting for its client, plus the few
batches on their way through DuckDB, the encoder and the socket; a chunk's size follows from
``chunk_rows`` and the width of the columns asked for. A process has one budget of such bytes
(``download_memory_budget``): a download that fits starts at once, one that does not waits its
turn, first come first served, for up to ``download_queue_seconds``, and only then is refused.
So a crowd of narrow or small downloads streams side by side, a few wide ones take turns, and
the process's memory stays within the budget however many clients ask.

asyncio has no weighted semaphore, and none of the maintained libraries has one whose release
may come from another thread (a download's producer thread ends it), hence this small one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from dataclasses import dataclass

from skyferry.services.datasets.columns import Family, family
from skyferry.services.datasets.formats import Format
from skyferry.services.datasets.models import Column, Dataset
from skyferry.services.datasets.query import DownloadQuery
from skyferry.services.datasets.settings import DatasetsSettings

_IN_FLIGHT_CHUNKS = 4
"""Besides the buffered ones: DuckDB's batch, the Arrow batch being encoded, its encoded bytes,
and the chunk in the socket's buffer."""

_PER_DOWNLOAD_BYTES = 2 * 1024 * 1024
"""A download's thread, DuckDB cursor and reader, whatever its rows."""

_TEXT_WIDTH: dict[Family, int] = {
    "integer": 12,
    "float": 18,
    "decimal": 20,
    "boolean": 5,
    "date": 10,
    "timestamp": 26,
    "time": 15,
    "uuid": 36,
    "nested": 64,
    "other": 32,
}
"""Bytes a value of each kind takes as text (CSV, JSON) or in Arrow, whichever is more."""


def download_memory(
    dataset: Dataset, query: DownloadQuery, fmt: Format, settings: DatasetsSettings
) -> int:
    """Bytes one download of ``query`` holds at most, as this module's docstring counts them.

    Measured on the demo dataset (12 columns, 182 bytes a CSV row, chunks of 10,000 rows) a
    download grew the server by 14-19 MiB; this says 16.5.
    """
    rows = min(settings.chunk_rows, dataset.row_count, query.limit or settings.chunk_rows)
    chunk = max(rows, 1) * row_bytes(query.columns, fmt)
    return chunk * (settings.buffered_chunks + _IN_FLIGHT_CHUNKS) + _PER_DOWNLOAD_BYTES


def row_bytes(columns: tuple[Column, ...], fmt: Format) -> int:
    """A generous guess at one row's size: text widths by type, a text column's from its
    ingest statistics (its min and max), and JSON's repeated keys."""
    width = 0
    for column in columns:
        kind = family(column.type)
        if kind == "text":
            stats = column.stats
            width += max(16, len(stats.min or ""), len(stats.max or ""))
        else:
            width += _TEXT_WIDTH[kind]
        width += 1  # separator
        if fmt.extension in ("json", "ndjson"):
            width += len(column.name) + 4  # "name": , quotes and escapes aside
    return width


@dataclass(eq=False)
class _Waiter:
    need: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False


class Reservation:
    """Bytes held from a budget until ``release``, which may be called from any thread, and
    more than once (the first call counts)."""

    def __init__(self, budget: MemoryBudget, size: int) -> None:
        self._budget = budget
        self.size = size
        self._released = False

    def release(self) -> None:
        self._budget._give_back(self)


class MemoryBudget:
    """``total`` bytes shared by the downloads of one process, handed out in arrival order."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._free = total
        self._waiters: deque[_Waiter] = deque()
        self._lock = threading.Lock()

    @property
    def free(self) -> int:
        with self._lock:
            return self._free

    async def reserve(self, need: int, *, wait_seconds: float) -> Reservation | None:
        """Hold ``need`` bytes, waiting up to ``wait_seconds`` for them; None if they never came.

        A download larger than the whole budget is admitted alone rather than never.
        """
        need = max(1, min(need, self.total))
        loop = asyncio.get_running_loop()
        with self._lock:
            # no overtaking: while anyone waits, newcomers queue behind, so a wide download
            # is not starved by a stream of narrow ones
            if not self._waiters and self._free >= need:
                self._free -= need
                return Reservation(self, need)
            if wait_seconds <= 0:
                return None
            waiter = _Waiter(need, loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(wait_seconds):
                await waiter.future
        except BaseException as exc:
            with self._lock:
                if not waiter.granted:
                    self._waiters.remove(waiter)
                    self._grant()  # it may have blocked smaller ones behind it
                    if isinstance(exc, TimeoutError):
                        return None
                    raise
            reservation = Reservation(self, need)
            if isinstance(exc, TimeoutError):
                return reservation  # granted just as the time ran out
            reservation.release()
            raise
        return Reservation(self, need)

    def _give_back(self, reservation: Reservation) -> None:
        with self._lock:
            if reservation._released:
                return
            reservation._released = True
            self._free += reservation.size
            self._grant()

    def _grant(self) -> None:
        """Wake waiters from the front while they fit; the caller holds the lock."""
        while self._waiters and self._waiters[0].need <= self._free:
            waiter = self._waiters.popleft()
            self._free -= waiter.need
            waiter.granted = True
            # releases come from producer threads too: wake each waiter on its own loop (gone
            # only when the server is shutting down, and its waiters with it)
            with contextlib.suppress(RuntimeError):
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
