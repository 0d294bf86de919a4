"""A reverse proxy that serves an app under a path prefix and strips it, as a load balancer or
an ingress with a path rule does; the app is not told about the prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
from fastapi import FastAPI, Request, Response

from tests.servers import serve_in_thread

# hop-by-hop headers, and those httpx has already undone (chunking, compression)
_DROPPED = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@contextmanager
def prefix_proxy(upstream: str, prefix: str) -> Iterator[str]:
    """Serve ``upstream`` at ``<proxy><prefix>/…``; yields the proxy's URL with the prefix."""
    clients: list[httpx.AsyncClient] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # made and closed on the server's own event loop
        async with httpx.AsyncClient(base_url=upstream, timeout=30) as client:
            clients.append(client)
            yield

    async def forward(request: Request) -> Response:
        path = request.url.path.removeprefix(prefix) or "/"
        headers = [(k, v) for k, v in request.headers.items() if k != "host"]
        answer = await clients[0].request(
            request.method,
            path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _DROPPED}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    app = FastAPI(lifespan=lifespan)
    app.add_api_route(prefix + "/{path:path}", forward, methods=_METHODS)
    with serve_in_thread(app) as url:
        yield url + prefix
