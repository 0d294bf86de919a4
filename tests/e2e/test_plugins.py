"""A third-party service, installed as a package with a ``skyferry.services`` entry point, is
loaded like the built-in ones: its routes in ``/openapi.json``, its migrations applied, its
settings read from ``SKYFERRY_<NAME>__…`` — when ``SKYFERRY_SERVICES`` lists it."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import httpx

from tests.e2e.processes import skyferry_env, start, stop, wait_http
from tests.servers import free_port

PLUGIN = """
from pathlib import Path

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel

import skyferry
from skyferry.config import Settings
from skyferry.storage.sql import new_metadata

tables = new_metadata()
greetings = sa.Table("hello_greetings", tables, sa.Column("id", sa.Integer, primary_key=True))


class HelloSettings(BaseModel):
    greeting: str = "hello"


def router(settings: Settings) -> APIRouter:
    own = settings.of(HelloSettings)
    routes = APIRouter(tags=["hello"])

    @routes.get("/hello")
    async def hello() -> dict[str, str]:
        return {"greeting": own.greeting}

    return routes


service = skyferry.Service(
    name="hello",
    router=router,
    settings=HelloSettings,
    tables=tables,
    migrations=Path(__file__).parent / "migrations",
)
"""

MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "hello_0001"
down_revision = "0001"
branch_labels = ("hello",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hello_greetings",
        sa.Column("id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hello_greetings"),
    )


def downgrade() -> None:
    op.drop_table("hello_greetings")
"""


def install_plugin(site: Path) -> None:
    """What ``pip install hello-service`` leaves in site-packages: the package, and its
    distribution metadata naming the entry point."""
    package = site / "hello_service"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    (package / "migrations" / "hello_0001.py").write_text(textwrap.dedent(MIGRATION))
    meta = site / "hello_service-0.1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-service\nVersion: 0.1.0\n")
    (meta / "entry_points.txt").write_text("[skyferry.services]\nhello = hello_service:service\n")


def serve(tmp_path: Path, services: str) -> tuple[int, dict[str, object], list[str]]:
    site = tmp_path / "site"
    if not site.exists():
        install_plugin(site)
    database = tmp_path / "db" / "app.db"
    env = skyferry_env(
        tmp_path,
        f"sqlite:///{database}",
        PYTHONPATH=str(site),
        SKYFERRY_SERVICES=services,
        SKYFERRY_HELLO__GREETING="ahoy",
    )
    port = free_port()
    web = start(["serve", "--port", str(port)], env, tmp_path / f"serve-{services}.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url, web)
        paths = list(httpx.get(f"{url}/openapi.json").json()["paths"])
        hello = httpx.get(f"{url}/hello")
        answer: dict[str, object] = hello.json()
        status = hello.status_code
    finally:
        stop(web)
    with sqlite3.connect(database) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
    return status, answer, [*paths, *tables]


def test_a_listed_third_party_service_is_served_and_migrated(tmp_path: Path) -> None:
    status, answer, found = serve(tmp_path, "demo,hello")
    assert status == 200
    assert answer == {"greeting": "ahoy"}
    assert "/hello" in found
    assert "hello_greetings" in found
    assert "/jobs/demo" in found


def test_an_unlisted_one_is_not(tmp_path: Path) -> None:
    status, _, found = serve(tmp_path, "demo")
    assert status == 404
    assert "/hello" not in found
    assert "hello_greetings" not in found
