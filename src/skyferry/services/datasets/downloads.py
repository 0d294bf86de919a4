"""Streaming a download: DuckDB runs the query in a thread, a format encodes each Arrow batch,
and the client receives chunks as they are made.

Memory per download is bounded by ``chunk_rows`` rows times ``buffered_chunks``, plus DuckDB's
own working set under its memory limit; downloads start only while the memory they will hold
fits the process's budget (``admission``), and wait their turn otherwise.
Errors before the first byte (a missing Parquet file) answer with problem+json; an error after
it can only cut the response short, which the client sees as an incomplete chunked body.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from skyferry.services.datasets import streaming
from skyferry.services.datasets.admission import MemoryBudget, download_memory
from skyferry.services.datasets.connections import ServingDatabase
from skyferry.services.datasets.errors import DatasetUnavailableError, TooManyDownloadsError
from skyferry.services.datasets.formats import Format
from skyferry.services.datasets.models import Dataset
from skyferry.services.datasets.query import DownloadQuery
from skyferry.services.datasets.settings import DatasetsSettings
from skyferry.services.datasets.sources import Source, open_source
from skyferry.storage.blobs import BlobStore
from skyferry.storage.errors import StorageError

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

log = logging.getLogger(__name__)


class Downloads:
    """Everything downloads share in one app: its DuckDB, and the memory budget of streams."""

    def __init__(self, settings: DatasetsSettings) -> None:
        self._settings = settings
        self._database = ServingDatabase(settings)
        self._readable: Path | None = None
        self._budget = MemoryBudget(settings.download_memory_budget)

    def open(self, readable: Path | None) -> None:
        """Fix the one directory DuckDB may read (a file:// store's root, else none)."""
        self._readable = readable

    def close(self) -> None:
        self._database.close()

    async def stream(
        self,
        blobs: BlobStore,
        dataset: Dataset,
        fmt: Format,
        query: DownloadQuery,
        headers: dict[str, str],
    ) -> StreamingResponse:
        """Start the query and answer once its first bytes (header, ``[``, magic) exist."""
        reservation = await self._budget.reserve(
            download_memory(dataset, query, fmt, self._settings),
            wait_seconds=self._settings.download_queue_seconds,
        )
        if reservation is None:
            budget = self._settings.download_memory_budget.human_readable(decimal=False)
            raise TooManyDownloadsError(
                f"the downloads streaming now hold this server's download memory ({budget}) "
                f"and none ended within {self._settings.download_queue_seconds:g} s; "
                "retry in a moment",
                headers={"Retry-After": "1"},
            )
        # the memory is free again once both the producer thread and the response have ended
        release = _Countdown(2, reservation.release)
        try:
            source = await open_source(blobs, dataset.blob_key)
            sql, params = query.sql(fmt, source.from_item)
            cursor = self._database.cursor(self._readable)
        except BaseException:
            reservation.release()
            raise
        cancel = _Canceller(cursor)
        stream = streaming.start(
            lambda send: _produce(
                cursor, source, sql, [*source.params, *params], fmt, self._settings, send, cancel
            ),
            capacity=self._settings.buffered_chunks,
            name=f"download {dataset.name}.{fmt.extension}",
            on_exit=release,
        )
        try:
            first = await stream.receive()
        except BaseException as exc:
            stream.close()
            cancel()
            release()
            unavailable = _unreadable(exc, dataset)
            if unavailable is None:
                raise
            raise unavailable from exc
        return _DownloadResponse(
            stream, first or b"", cancel, release, media_type=fmt.media_type, headers=headers
        )


def _produce(
    cursor: DuckDBPyConnection,
    source: Source,
    sql: str,
    params: list[object],
    fmt: Format,
    settings: DatasetsSettings,
    send: Callable[[bytes], None],
    cancel: _Canceller,
) -> None:
    try:
        source.attach(cursor)
        reader = cursor.sql(sql, params=params or None).to_arrow_reader(settings.chunk_rows)
        try:
            encoder = fmt.encoder(reader.schema)
            send(encoder.begin())
            for batch in reader:
                chunk = encoder.encode(batch)
                if chunk:
                    send(chunk)
            send(encoder.end())
        finally:
            reader.close()
    finally:
        cancel.finished(cursor.close)


class _Countdown:
    """Calls ``action`` once it has itself been called ``parties`` times, from any threads."""

    def __init__(self, parties: int, action: Callable[[], None]) -> None:
        self._left = parties
        self._action = action
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self._left -= 1
            done = self._left == 0
        if done:
            self._action()


class _Canceller:
    """Interrupts a running query at most once, and never after its cursor was closed."""

    def __init__(self, cursor: DuckDBPyConnection) -> None:
        self._cursor = cursor
        self._lock = threading.Lock()
        self._done = False

    def __call__(self) -> None:
        with self._lock:
            if not self._done:
                self._cursor.interrupt()

    def finished(self, close: Callable[[], None]) -> None:
        with self._lock:
            self._done = True
            close()


def _unreadable(exc: BaseException, dataset: Dataset) -> DatasetUnavailableError | None:
    """A 503 for a failure to read the dataset's file before anything was sent, else None."""
    import duckdb
    import pyarrow as pa

    # the file cannot be read (IOException, StorageError), or what was read is not Parquet
    # (InvalidInputException from DuckDB's reader, ArrowException from pyarrow's)
    unreadable = (duckdb.IOException, duckdb.InvalidInputException, pa.ArrowException, StorageError)
    if isinstance(exc, unreadable):
        log.warning("cannot read dataset %s: %s", dataset.name, exc)
        return DatasetUnavailableError(f"the dataset {dataset.name!r} cannot be read right now")
    return None


class _DownloadResponse(StreamingResponse):
    """Stops the producer whenever the response ends: finished, failed or client gone.

    Starlette may cancel a response before its body iterator ever starts, when no ``finally``
    inside the iterator would run, so the cleanup wraps the whole response instead.
    """

    def __init__(
        self,
        stream: streaming.ThreadStream,
        first: bytes,
        cancel: Callable[[], None],
        ended: Callable[[], None],
        *,
        media_type: str,
        headers: dict[str, str],
    ) -> None:
        super().__init__(_chunks(stream, first), media_type=media_type, headers=headers)
        self._stream = stream
        self._cancel = cancel
        self._ended = ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stream.close()
            self._cancel()
            self._ended()


async def _chunks(stream: streaming.ThreadStream, first: bytes) -> AsyncIterator[bytes]:
    if first:
        yield first
    while (chunk := await stream.receive()) is not None:
        yield chunk
