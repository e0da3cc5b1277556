"""The registry's sweeper: while the instance runs, leases that expired leave the table."""

from __future__ import annotations

import asyncio

from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.registry.service import LeaseTable

EVICTION_INTERVAL_S = 0.5
log = logger("cinemesh.registry")


async def evict_forever(table: LeaseTable) -> None:
    while True:
        for lease in table.evict_expired():
            log.info(
                "evicted an instance whose lease expired",
                evicted_service=lease.service,
                evicted_instance=lease.instance_id,
            )
        await asyncio.sleep(EVICTION_INTERVAL_S)


def evict_expired_leases(runtime: ServiceRuntime, table: LeaseTable) -> None:
    """Sweep the table from startup to shutdown."""
    sweeper: list[asyncio.Task[None]] = []

    async def start_sweeper() -> None:
        sweeper.append(asyncio.create_task(evict_forever(table)))

    async def stop_sweeper() -> None:
        for task in sweeper:
            task.cancel()

    runtime.on_startup(start_sweeper)
    runtime.on_shutdown(stop_sweeper)
