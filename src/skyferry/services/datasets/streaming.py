"""Bytes made by blocking code in a thread, consumed by the event loop with backpressure.

DuckDB and pyarrow block, so a download's query and encoding run in a thread of its own (not
the default executor, which a few long downloads would starve). The thread may run at most
``capacity`` chunks ahead of the client; then ``send`` blocks, and memory stays bounded by the
chunk size whatever the download's length. When the client goes away, ``close`` makes the
thread's next ``send`` raise ConsumerGone, and the thread ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

_POLL_SECONDS = 0.25
"""How often a blocked producer looks whether the consumer has gone."""


class ConsumerGone(Exception):
    """The consumer closed the stream; the producer should stop."""


class _End:
    pass


_END = _End()


class ThreadStream:
    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[bytes | BaseException | _End] = asyncio.Queue()
        self._slots = threading.Semaphore(capacity)
        self._gone = threading.Event()

    # -- producer side, in the thread --------------------------------------------------------

    def send(self, chunk: bytes) -> None:
        """Hand ``chunk`` over, waiting while ``capacity`` chunks are still unread."""
        while not self._slots.acquire(timeout=_POLL_SECONDS):
            if self._gone.is_set():
                raise ConsumerGone
        if self._gone.is_set():
            raise ConsumerGone
        self._post(chunk)

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the end, or hand the producer's exception over; quiet if nobody listens."""
        if error is not None and self.closed:
            return
        with contextlib.suppress(ConsumerGone):
            self._post(_END if error is None else error)

    def _post(self, item: bytes | BaseException | _End) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError as exc:  # the loop is closed: the server is shutting down
            raise ConsumerGone from exc

    # -- consumer side, on the loop ----------------------------------------------------------

    async def receive(self) -> bytes | None:
        """The next chunk, None at the end, or the producer's exception raised here."""
        item = await self._queue.get()
        if isinstance(item, _End):
            return None
        if isinstance(item, BaseException):
            raise item
        self._slots.release()
        return item

    def close(self) -> None:
        self._gone.set()

    @property
    def closed(self) -> bool:
        return self._gone.is_set()


def start(
    produce: Callable[[Callable[[bytes], None]], None],
    *,
    capacity: int,
    name: str,
    on_exit: Callable[[], None] | None = None,
) -> ThreadStream:
    """Run ``produce(send)`` in a new thread; what it sends, or raises, comes out of the stream."""
    stream = ThreadStream(asyncio.get_running_loop(), capacity)

    def run() -> None:
        try:
            produce(stream.send)
            stream.finish()
        except ConsumerGone:
            pass
        except BaseException as exc:
            stream.finish(exc)
        finally:
            if on_exit is not None:
                on_exit()

    threading.Thread(target=run, name=name, daemon=True).start()
    return stream
