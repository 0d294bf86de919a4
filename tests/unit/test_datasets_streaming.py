"""A producer thread feeding the event loop: bounded, stoppable, and honest about failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from skyferry.services.datasets import streaming

pytestmark = pytest.mark.anyio


async def test_chunks_arrive_in_order_then_the_end() -> None:
    def produce(send: Callable[[bytes], None]) -> None:
        for number in range(50):
            send(str(number).encode())

    stream = streaming.start(produce, capacity=2, name="test")
    received = []
    while (chunk := await stream.receive()) is not None:
        received.append(chunk)

    assert received == [str(number).encode() for number in range(50)]


async def test_the_producer_never_runs_more_than_capacity_ahead() -> None:
    sent: list[int] = []

    def produce(send: Callable[[bytes], None]) -> None:
        for number in range(20):
            send(b"x")
            sent.append(number)

    stream = streaming.start(produce, capacity=3, name="test")
    await asyncio.sleep(0.3)  # ample time for an unbounded producer to send everything
    assert len(sent) == 3

    assert await stream.receive() == b"x"
    for _ in range(100):
        if len(sent) == 4:
            break
        await asyncio.sleep(0.01)
    assert len(sent) == 4
    stream.close()


async def test_closing_stops_a_blocked_producer() -> None:
    finished = threading.Event()
    outcome: list[str] = []

    def produce(send: Callable[[bytes], None]) -> None:
        try:
            while True:
                send(b"chunk")
        except streaming.ConsumerGone:
            outcome.append("told to stop")
            raise

    stream = streaming.start(produce, capacity=1, name="test", on_exit=finished.set)
    assert await stream.receive() == b"chunk"
    stream.close()

    assert await asyncio.to_thread(finished.wait, 10)
    assert outcome == ["told to stop"]


async def test_a_producer_failure_is_raised_to_the_consumer_after_its_chunks() -> None:
    def produce(send: Callable[[bytes], None]) -> None:
        send(b"first")
        raise ValueError("the scan broke")

    stream = streaming.start(produce, capacity=4, name="test")
    assert await stream.receive() == b"first"
    with pytest.raises(ValueError, match="the scan broke"):
        await stream.receive()
