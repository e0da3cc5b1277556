"""Events published at a steady rate while a service is killed with kill -9 on the way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from cinemesh.platform.events import EventBus
from tests.support.platform import LocalPlatform


async def publish_while_killing(
    platform: LocalPlatform,
    service: str,
    publish: Callable[[EventBus, int], Awaitable[None]],
    *,
    seconds: float,
    kill_after_s: float,
    per_s: float,
) -> float:
    """Call `publish(bus, n)` `per_s` times a second for `seconds`, killing `service` after
    `kill_after_s`; when it was killed (monotonic)."""
    bus = EventBus(
        platform.env["CINEMESH_NATS_URL"],
        service="tests",
        namespace=platform.env["CINEMESH_BUS_NAMESPACE"],
    )
    await bus.connect()
    started, killed_at, n = time.monotonic(), 0.0, 0
    try:
        while (now := time.monotonic()) < started + seconds:
            if not killed_at and now > started + kill_after_s:
                await asyncio.to_thread(platform.kill, service)
                killed_at = time.monotonic()
            await publish(bus, n)
            n += 1
            await asyncio.sleep(max(0.0, started + n / per_s - time.monotonic()))
    finally:
        await bus.close()
    return killed_at
