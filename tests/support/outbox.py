"""What a service's transactional outbox holds, read straight from its database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cinemesh.platform.events import Event, EventBus
from tests.support.backends import Backend


async def _published(url: str) -> list[tuple[str, bytes]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT type, body FROM platform_outbox WHERE published_at IS NOT NULL")
            )
            return [(str(r[0]), bytes(r[1])) for r in rows]
    finally:
        await engine.dispose()


def published_events(
    backend: Backend,
    data_dir: Path,
    service: str,
    *,
    want: str,
    mentioning: str,
    timeout_s: float = 15,
) -> list[str]:
    """Types of the published events whose body mentions `mentioning`, once `want` is among them."""
    deadline = time.monotonic() + timeout_s
    found: list[str] = []
    while time.monotonic() < deadline:
        rows = asyncio.run(_published(backend.database_url(service, data_dir)))
        found = [kind for kind, body in rows if mentioning.encode() in body]
        if want in found:
            return found
        time.sleep(0.3)
    return found


async def events_in_stream(bus: EventBus, event_type: str, *, timeout_s: float = 15) -> list[Event]:
    """Every event of `event_type` the stream holds, in order: the whole stream replayed by a
    broadcast consumer of the caller's bus, until nothing is left to deliver."""
    found: list[Event] = []

    async def keep(event: Event) -> None:
        found.append(event)

    await bus.consume(event_type, keep, delivery="broadcast")
    for _ in range(int(timeout_s / 0.1)):
        if not await bus.broadcast_pending():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)  # the last message received is handled
    return found
