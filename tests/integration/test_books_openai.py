"""The openai provider against a fake server speaking the chat-completions wire format."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from skyferry.services.books.errors import (
    ProviderError,
    ProviderHTTPError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from skyferry.services.books.models import BookRequest
from skyferry.services.books.providers.openai import OpenAIProvider
from skyferry.services.books.settings import BooksSettings
from tests.fakes.openai_server import Fail, FakeOpenAI, Hang, Malformed, Reply, serve_fake_openai
from tests.servers import free_port

pytestmark = pytest.mark.anyio

KEY = "sk-test-0123456789abcdef"
REQUEST = BookRequest(topic="tide pools", chapters=3, words_per_chapter=200)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with serve_fake_openai(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    """The module's server, reset."""
    server.reset()
    return server


def provider(fake: FakeOpenAI, **overrides: Any) -> OpenAIProvider:
    options: dict[str, Any] = {
        "provider": "openai",
        "openai_base_url": fake.url,
        "openai_model": "gpt-test",
        "openai_api_key": KEY,
        "request_timeout_seconds": 5,
        "max_attempts": 3,
        "retry_initial_seconds": 0.01,
        **overrides,
    }
    return OpenAIProvider(BooksSettings(**options))


async def test_outline_and_chapter_over_the_wire(fake: FakeOpenAI) -> None:
    async with provider(fake) as client:
        outline = await client.outline(REQUEST)
        chapter = await client.chapter(REQUEST, outline, 2)
    assert outline.title == "A Book From The Fake Server"
    assert [e.title for e in outline.chapters] == [f"Part {n}: A Fake Chapter" for n in (1, 2, 3)]
    assert outline.model == chapter.model == "fake-gpt-1"  # what the server says it used
    assert chapter.text.startswith("Paragraph 1 of chapter 2")
    outline_call, chapter_call = fake.calls
    assert outline_call.headers["authorization"] == f"Bearer {KEY}"
    assert set(chapter_call.body) == {"model", "messages"}
    assert chapter_call.body["model"] == "gpt-test"
    assert chapter_call.chapter == 2


async def test_429_waits_as_long_as_retry_after_says(fake: FakeOpenAI) -> None:
    fake.script(Fail(429, {"Retry-After": "1"}))
    started = time.monotonic()
    async with provider(fake) as client:
        text = await client.complete([{"role": "user", "content": "hi"}])
    assert time.monotonic() - started >= 1.0  # sleeping never ends early, so this cannot flake
    assert text.text.startswith("Paragraph 1")
    assert len(fake.calls) == 2


async def test_retry_after_ms_is_honoured_and_capped(fake: FakeOpenAI) -> None:
    fake.script(Fail(503, {"retry-after-ms": "200"}), Fail(429, {"Retry-After": "3600"}))
    started = time.monotonic()
    async with provider(fake, retry_max_wait_seconds=0.3) as client:
        await client.complete([{"role": "user", "content": "hi"}])
    assert time.monotonic() - started >= 0.5
    assert len(fake.calls) == 3


async def test_500_is_retried_then_reported_clearly(fake: FakeOpenAI) -> None:
    fake.script(Fail(500))
    async with provider(fake) as client:
        await client.complete([{"role": "user", "content": "hi"}])
    assert len(fake.calls) == 2

    fake.calls.clear()
    fake.script(Fail(500), Fail(502), Fail(500))
    async with provider(fake) as client:
        with pytest.raises(ProviderHTTPError) as raised:
            await client.complete([{"role": "user", "content": "hi"}])
    assert len(fake.calls) == 3
    assert raised.value.http_status == 500
    assert "answered 500" in str(raised.value)
    assert "scripted failure 500" in str(raised.value)  # the server's own error message


async def test_a_bad_key_fails_at_once_without_showing_the_key(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with provider(fake, openai_api_key="sk-wrong-secret") as client:
        with pytest.raises(ProviderHTTPError) as raised:
            await client.complete([{"role": "user", "content": "hi"}])
    assert raised.value.http_status == 401
    assert not raised.value.retryable
    assert len(fake.calls) == 1
    assert "sk-wrong-secret" not in str(raised.value)
    assert "sk-wrong-secret" not in caplog.text


async def test_a_hang_past_the_timeout_is_retried(fake: FakeOpenAI) -> None:
    fake.script(Hang(30))
    async with provider(fake, request_timeout_seconds=0.5) as client:
        text = await client.complete([{"role": "user", "content": "hi"}])
    assert text.text
    assert len(fake.calls) == 2

    fake.calls.clear()
    fake.script(Hang(30), Hang(30))
    async with provider(fake, request_timeout_seconds=0.5, max_attempts=2) as client:
        with pytest.raises(ProviderTimeoutError, match=r"did not answer within 0\.5 s"):
            await client.complete([{"role": "user", "content": "hi"}])
    assert len(fake.calls) == 2


async def test_malformed_bodies_become_a_clear_error(fake: FakeOpenAI) -> None:
    fake.script(Malformed())
    async with provider(fake) as client:
        assert (await client.complete([{"role": "user", "content": "hi"}])).text
    assert len(fake.calls) == 2

    fake.script(*[Malformed()] * 3)
    async with provider(fake) as client:
        with pytest.raises(ProviderResponseError, match=r"not JSON.*502 Bad Gateway"):
            await client.complete([{"role": "user", "content": "hi"}])

    fake.script(*[Malformed('{"id": "x", "choices": []}', "application/json")] * 3)
    async with provider(fake) as client:
        with pytest.raises(ProviderResponseError, match=r"without choices\[0\]\.message\.content"):
            await client.complete([{"role": "user", "content": "hi"}])


async def test_a_chapter_that_is_only_a_heading_is_not_a_chapter(fake: FakeOpenAI) -> None:
    async with provider(fake) as client:
        outline = await client.outline(REQUEST)
        fake.script(*[Reply("# Chapter 1: Rock")] * 3)
        with pytest.raises(ProviderResponseError, match="only a heading"):
            await client.chapter(REQUEST, outline, 1)


async def test_nobody_listening_is_a_provider_error() -> None:
    settings = BooksSettings(
        provider="openai",
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
        max_attempts=2,
        retry_initial_seconds=0.01,
    )
    async with OpenAIProvider(settings) as client:
        with pytest.raises(ProviderError, match="cannot reach") as raised:
            await client.complete([{"role": "user", "content": "hi"}])
    assert raised.value.retryable
