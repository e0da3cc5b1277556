"""Stand-ins for the services a client under test calls: an aiohttp app answering every path
with one handler, on a port of its own, and a discovery that names only it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from cinemesh.platform.discovery import Instance

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(handle: Handler) -> AsyncIterator[str]:
    """`handle` answering every method and path on 127.0.0.1; yields its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class OneAddress:
    """Discovery that answers one instance at `url` for any service."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def instances(self, service: str) -> list[Instance]:
        return [Instance(service, "i0", self.url)]

    async def all_instances(self) -> dict[str, list[Instance]]:
        return {}
