"""Start-up check that the Postgres databases a process is pointed at exist.

Without it, a mistyped or not-yet-created database ends ``skyferry serve`` or ``db upgrade`` in
a traceback hundreds of lines long, whose last line a reader has to find. This check says in
one line which database is missing, where, and the command that creates it; skyferry never
creates it itself, because a typo in a URL would then give a second, empty database.
"""

from __future__ import annotations

import re
import shlex

import psycopg
import sqlalchemy as sa

from skyferry.config import ConfigurationError, Settings

# libpq's text for the server's refusal (FATAL 3D000); a connect error carries no SQLSTATE.
# With the server's lc_messages in another language the check says nothing, and start-up
# fails as it would without it.
_MISSING = re.compile(r'database "(?P<name>[^"]*)" does not exist')


def require_databases(settings: Settings) -> None:
    """Raise ``ConfigurationError`` naming the variable if a Postgres database it names is
    missing. Any other connect failure is left to start-up itself, which reports it."""
    if not settings.is_postgres and not settings.dbos_system_url.startswith("postgresql"):
        return
    urls = {"SKYFERRY_DATABASE_URL": settings.sqlalchemy_url}
    if settings.uses_own_system_database:
        urls["SKYFERRY_SYSTEM_DATABASE_URL"] = settings.system_sqlalchemy_url
    for variable, url in urls.items():
        if url.startswith("postgresql"):
            _require(
                variable,
                url,
                settings.database_connect_timeout_seconds,
                settings.application_name("dbos" if "SYSTEM" in variable else None),
            )


def _require(variable: str, url: str, timeout_seconds: int, application_name: str) -> None:
    parsed = sa.make_url(url)
    params = {
        **parsed.translate_connect_args(username="user", database="dbname"),
        **{key: value for key, value in parsed.query.items() if isinstance(value, str)},
    }
    try:
        # named as the process's own connections, so a connection budget counts it with them
        psycopg.connect(
            **params, connect_timeout=max(2, timeout_seconds), application_name=application_name
        ).close()
    except psycopg.OperationalError as exc:
        found = _MISSING.search(str(exc))
        if found is not None:
            raise ConfigurationError(missing_database_message(variable, parsed)) from None


def missing_database_message(variable: str, url: sa.URL) -> str:
    """One line: what is missing, where, and how to create it; never the password."""
    name = url.database or ""
    host = url.host or "localhost"
    port = url.port or 5432
    user = f" -U {url.username}" if url.username else ""
    quoted = name.replace('"', '""')
    return (
        f'{variable}: database "{name}" does not exist on {host}:{port}; create it with: '
        f'createdb -h {host} -p {port}{user} {shlex.quote(name)} (or CREATE DATABASE "{quoted}";)'
    )
