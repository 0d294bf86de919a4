"""The optional API key: open without keys, 401 problem+json with a challenge without a good one."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from skyferry.config import load_settings
from skyferry.http.problems import install_problem_handlers
from skyferry.http.security import ApiKey, fingerprint

pytestmark = pytest.mark.anyio

KEYS = ["first-key-0123456789", "second-key-abcdefghij"]


def app_with(keys: list[str]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.runtime = SimpleNamespace(settings=load_settings(api_keys=",".join(keys)))

    @app.get("/who")
    async def who(client: ApiKey) -> dict[str, str | None]:
        return {"client": client}

    return app


async def get(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/who", headers=headers or {})


async def test_without_configured_keys_everyone_passes() -> None:
    response = await get(app_with([]), {"X-API-Key": "anything"})
    assert response.status_code == 200
    assert response.json() == {"client": None}


@pytest.mark.parametrize("key", KEYS)
async def test_any_configured_key_passes_and_is_known_by_its_fingerprint(key: str) -> None:
    response = await get(app_with(KEYS), {"X-API-Key": key})
    assert response.status_code == 200
    assert response.json() == {"client": fingerprint(key)}
    assert key not in response.text


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "needs an X-API-Key header"),
        ({"X-API-Key": ""}, "needs an X-API-Key header"),
        ({"X-API-Key": "first-key-012345678"}, "does not hold a valid key"),
        ({"X-API-Key": "first-key-0123456789 "}, "does not hold a valid key"),
        ({"X-API-Key": "FIRST-KEY-0123456789"}, "does not hold a valid key"),
    ],
)
async def test_a_missing_or_wrong_key_is_a_401_problem_with_a_challenge(
    headers: dict[str, str], detail: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await get(app_with(KEYS), headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    assert detail in response.json()["detail"]
    for secret in [*KEYS, *headers.values()]:
        if secret:
            assert secret not in response.text
            assert secret not in caplog.text


def test_fingerprints_are_stable_distinct_and_do_not_reveal_the_key() -> None:
    assert fingerprint(KEYS[0]) == fingerprint(KEYS[0])
    assert fingerprint(KEYS[0]) != fingerprint(KEYS[1])
    assert KEYS[0] not in fingerprint(KEYS[0])


def test_the_key_scheme_is_in_the_openapi_document() -> None:
    schema = app_with(KEYS).openapi()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "Required when the server sets SKYFERRY_API_KEYS.",
    }
