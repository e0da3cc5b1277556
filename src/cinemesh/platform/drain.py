"""Graceful drain: how an instance leaves without failing a request (Kubernetes' SIGTERM,
a rolling deploy, a scale-down).

On SIGTERM the instance first leaves the registry and fails readiness, then keeps answering
for `settle_s` while callers' cached instance lists (discovery.CACHE_TTL_S) forget it, telling
keep-alive clients to reconnect elsewhere (`Connection: close`). Only then does uvicorn stop
accepting, finish the requests in flight, and run the shutdown steps (event handlers finish,
the outbox is flushed). SIGINT skips the settling: the whole platform is stopping anyway.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn

from cinemesh.platform.observability import logger

log = logger("cinemesh.drain")

ACCEPTED_GRACE_S = 0.25  # for a connection just accepted to send its request


class Drain:
    """Whether this instance is draining; the runtime starts it, the middleware reads it."""

    def __init__(self) -> None:
        self.active = False


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain before its own graceful shutdown on SIGTERM."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        begin_drain: Callable[[], Awaitable[None]] | None,
        settle_s: float,
    ) -> None:
        super().__init__(config)
        self.begin_drain = begin_drain
        self.settle_s = settle_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task[None] | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets=sockets)

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        """uvicorn's shutdown closes every connection without a request under way as idle,
        and that includes one accepted a moment ago whose request has not been read yet: its
        caller, who did nothing wrong, sees the connection closed without an answer (a rolling
        deploy's tests counted one in ~3,000). So a draining instance first stops accepting,
        gives the connections it just took ACCEPTED_GRACE_S to deliver their requests, and only
        then lets uvicorn close the idle ones and finish the rest."""
        if self._draining is not None:
            for server in self.servers:
                server.close()
            await asyncio.sleep(ACCEPTED_GRACE_S)
        await super().shutdown(sockets=sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        drainable = sig == signal.SIGTERM and self.begin_drain is not None and self.started
        if not drainable or self._draining is not None or self._loop is None:
            super().handle_exit(sig, frame)
            return
        self._loop.call_soon_threadsafe(self._start_drain, sig)

    def _start_drain(self, sig: int) -> None:
        self._draining = asyncio.ensure_future(self._drain_then_exit(sig))

    async def _drain_then_exit(self, sig: int) -> None:
        assert self.begin_drain is not None
        try:
            await asyncio.wait_for(self.begin_drain(), timeout=self.settle_s + 2.0)
        except Exception as exc:
            log.warning("drain step failed", error=str(exc) or type(exc).__name__)
        log.info("draining: out of the registry, settling", settle_s=self.settle_s)
        await asyncio.sleep(self.settle_s)
        super().handle_exit(sig, None)
