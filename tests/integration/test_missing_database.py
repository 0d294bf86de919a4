"""A process whose Postgres database does not exist stops with one line saying how to create it,
under any server (``skyferry serve`` and ``db upgrade`` are in tests/e2e/test_cli.py)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from skyferry.config import ConfigurationError, load_settings
from skyferry.platform import open_platform

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_opening_the_platform_on_a_missing_database_says_how_to_create_it(
    postgres_admin_url: str,
) -> None:
    server = httpx.URL(postgres_admin_url.replace("postgresql://", "http://"))
    name = f"skyferry_missing_{uuid.uuid4().hex[:10]}"
    url = f"postgresql://postgres:hunter2@{server.host}:{server.port}/{name}"
    with pytest.raises(ConfigurationError) as refused:
        async with open_platform(load_settings(database_url=url, blob_url="memory://"), []):
            pass
    message = str(refused.value)
    assert message.startswith(f'SKYFERRY_DATABASE_URL: database "{name}" does not exist on ')
    assert f"createdb -h {server.host} -p {server.port} -U postgres {name}" in message
    assert "\n" not in message
    assert "hunter2" not in message
