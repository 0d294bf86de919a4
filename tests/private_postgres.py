"""A private PostgreSQL server for tests that stop, restart or count the connections of one.

The shared server at 127.0.0.1:5432 serves every other test; stopping it would break them, and
its connection counts include everyone's. So these tests run their own: ``initdb`` into a fresh
directory, ``pg_ctl`` on a free port, sockets and logs kept beside the data. ``initdb`` refuses
to run as root, so as root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.servers import free_port


def _binaries() -> Path:
    """The newest installed server's bin directory (Debian keeps them per major version)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise FileNotFoundError("no pg_ctl: install PostgreSQL's server binaries")
    return Path(on_path).parent


class PrivatePostgres:
    """One server of our own: ``start``, ``stop`` (as an outage would), ``start`` again."""

    def __init__(self, *, max_connections: int = 100) -> None:
        self.bin = _binaries()
        self.port = free_port()
        # not under pytest's tmp_path: it is private to root, and the server may run as postgres
        self.root = Path(tempfile.mkdtemp(prefix="skyferry-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.give(self.root)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                f"max_connections = {max_connections}\n"
                # a test server: durability across an OS crash does not matter, speed does
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str = "skyferry") -> str:
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """A connection as the superuser, outside any transaction."""
        return psycopg.connect(self.admin_url, autocommit=True)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop at once, as a crash or failover would: sessions are cut, not waited for."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def give(self, path: Path) -> None:
        """Make ``path`` the server's user's, so the tools running as that user can use it."""
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def as_server_user(self, command: list[str]) -> list[str]:
        """``command`` run as the server's user: ``postgres`` when the tests run as root."""
        return command if self._user is None else ["runuser", "-u", "postgres", "--", *command]

    def _run(self, tool: str, *args: str) -> None:
        command = self.as_server_user([str(self.bin / tool), *args])
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.root)


class PgBouncer:
    """PgBouncer in transaction mode in front of a :class:`PrivatePostgres`, on a free port.

    Consecutive transactions of one client may run on different server connections, which is
    what breaks session state (prepared statements, SET, LISTEN, session advisory locks).
    """

    def __init__(self, server: PrivatePostgres, database: str, *, pool_size: int = 4) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            raise FileNotFoundError("no pgbouncer: apt-get install pgbouncer")
        self.binary = binary
        self.server = server
        self.port = free_port()
        self.config = server.root / "pgbouncer.ini"
        users = server.root / "pgbouncer-users.txt"
        users.write_text('"postgres" ""\n')
        self.config.write_text(
            "[databases]\n"
            f"{database} = host=127.0.0.1 port={server.port} dbname={database}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {users}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
            f"logfile = {server.root / 'pgbouncer.log'}\n"
            f"pidfile = {server.root / 'pgbouncer.pid'}\n"
        )
        for path in (users, self.config):
            server.give(path)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{database}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # PgBouncer refuses to run as root
        command = self.server.as_server_user([self.binary, str(self.config)])
        self._process = subprocess.Popen(command, cwd=self.server.root)
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2, prepare_threshold=None):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)
