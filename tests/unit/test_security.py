"""API keys: open without keys; with keys, every route but /health, /ready and the services'
pages answers a 401 problem+json with a challenge unless the request holds one, and guessing is
throttled."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from skyferry.http.problems import document_errors, install_problem_handlers
from skyferry.http.security import FAILURES_ALLOWED, ApiKeyGuard, client_id, fingerprint
from skyferry.service import Service

pytestmark = pytest.mark.anyio

KEYS = ["first-key-0123456789", "second-key-abcdefghij"]


def app_with(keys: list[str], *, guard_docs: bool = False) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    document_errors(app, api_keys=bool(keys))
    app.add_middleware(ApiKeyGuard, keys=[SecretStr(k) for k in keys], guard_docs=guard_docs)

    @app.get("/who")
    async def who(request: Request) -> dict[str, str | None]:
        return {"client": client_id(request)}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def get(
    app: FastAPI, path: str = "/who", headers: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers or {})


async def test_without_configured_keys_everyone_passes_and_is_known_by_address() -> None:
    response = await get(app_with([]), headers={"X-API-Key": "anything"})
    assert response.status_code == 200
    assert response.json() == {"client": "ip:10.0.0.7"}


@pytest.mark.parametrize("key", KEYS)
async def test_any_configured_key_passes_and_is_known_by_its_fingerprint(key: str) -> None:
    response = await get(app_with(KEYS), headers={"X-API-Key": key})
    assert response.status_code == 200
    assert response.json() == {"client": fingerprint(key)}
    assert key not in response.text


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "needs an X-API-Key header"),
        ({"X-API-Key": ""}, "does not hold a valid key"),
        ({"X-API-Key": "first-key-012345678"}, "does not hold a valid key"),
        ({"X-API-Key": "first-key-0123456789 "}, "does not hold a valid key"),
        ({"X-API-Key": "FIRST-KEY-0123456789"}, "does not hold a valid key"),
    ],
)
async def test_a_missing_or_wrong_key_is_a_401_problem_with_a_challenge(
    headers: dict[str, str], detail: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await get(app_with(KEYS), headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    assert detail in response.json()["detail"]
    for secret in [*KEYS, *headers.values()]:
        if secret:
            assert secret not in response.text
            assert secret not in caplog.text


async def test_health_stays_open_and_docs_are_open_unless_guarded() -> None:
    assert (await get(app_with(KEYS), "/health")).status_code == 200
    assert (await get(app_with(KEYS), "/openapi.json")).status_code == 200
    assert (await get(app_with(KEYS, guard_docs=True), "/openapi.json")).status_code == 401


async def test_wrong_keys_are_throttled_per_address_and_right_ones_are_not() -> None:
    app = app_with(KEYS)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.8", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        statuses = [
            (await client.get("/who", headers={"X-API-Key": f"guess-{n}"})).status_code
            for n in range(FAILURES_ALLOWED + 5)
        ]
        throttled = await client.get("/who", headers={"X-API-Key": "guess"})
    assert statuses[:FAILURES_ALLOWED] == [401] * FAILURES_ALLOWED
    assert set(statuses[FAILURES_ALLOWED:]) == {429}
    assert int(throttled.headers["retry-after"]) >= 1
    assert throttled.headers["content-type"] == "application/problem+json"
    # another address is not punished for this one's guesses
    assert (await get(app, headers={"X-API-Key": KEYS[0]})).status_code == 200


def test_fingerprints_are_stable_distinct_and_do_not_reveal_the_key() -> None:
    assert fingerprint(KEYS[0]) == fingerprint(KEYS[0])
    assert fingerprint(KEYS[0]) != fingerprint(KEYS[1])
    assert KEYS[0] not in fingerprint(KEYS[0])


def test_the_key_scheme_is_in_the_openapi_document_and_health_needs_none() -> None:
    schema = app_with(KEYS).openapi()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "Required on every route but /health and /ready when the server sets "
        "SKYFERRY_API_KEYS.",
    }
    assert schema["security"] == [{"APIKeyHeader": []}]
    assert schema["paths"]["/health"]["get"]["security"] == []


async def test_service_pages_open_to_get_and_head_without_a_key_and_nothing_beside_them() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(ApiKeyGuard, keys=[SecretStr(KEYS[0])], pages=["/library"])

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST"])
    async def anything(path: str) -> dict[str, str]:
        return {"path": path}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ["/library", "/library/dashboard/abc", "/library/static/vendor/chart.js"]:
            assert (await client.get(path)).status_code == 200, path
            assert (await client.head(path)).status_code == 200, path
        # the page's own API calls, anything that writes, and look-alike paths need a key
        assert (await client.post("/library")).status_code == 401
        for path in ["/data/abc", "/upload", "/libraryx", "/library-admin", "/"]:
            assert (await client.get(path)).status_code == 401, path


@pytest.mark.parametrize("prefix", ["/", "", "library", "/library/", "/lib rary"])
def test_a_service_cannot_open_every_route_or_a_malformed_one(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid pages prefix"):
        Service(name="pages_test", pages=[prefix])
