"""Real servers for tests: the app under uvicorn on a free localhost port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from skyferry.http.server import ServerLimits, uvicorn_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: FastAPI, *, startup_timeout: float = 60.0, limits: ServerLimits | None = None
) -> Iterator[str]:
    """Run ``app`` with uvicorn (lifespan included) and yield its base URL.

    With ``limits``, uvicorn is set up as ``skyferry serve`` sets it up (its protocol, timeouts
    and body draining); without, it is plain uvicorn, as a team's own deployment may run it.
    """
    # the socket is bound here and handed to uvicorn, so no other process can take the port
    # between choosing it and listening on it (a free_port() race seen under a full suite)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        options = {"host": "127.0.0.1", "port": port, "log_config": None, "lifespan": "on"}
        config = (
            uvicorn.Config(app, **options)  # type: ignore[arg-type]
            if limits is None
            else uvicorn_config(app, limits, **options)
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + startup_timeout
        try:
            while not server.started:
                if not thread.is_alive():
                    raise RuntimeError("uvicorn exited during start-up; see the log above")
                if time.monotonic() > deadline:
                    raise TimeoutError("uvicorn did not start in time")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=60)
