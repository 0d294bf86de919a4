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
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
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
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

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

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.root)
