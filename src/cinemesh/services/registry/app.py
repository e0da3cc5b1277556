"""registry: where instances announce themselves and find each other (Eureka's job)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.registry.api import registry_router
from cinemesh.services.registry.service import LeaseTable

EVICTION_INTERVAL_S = 0.5
log = logger("cinemesh.registry")


def create_app() -> FastAPI:
    runtime = ServiceRuntime("registry")
    table = LeaseTable()
    sweeper: list[asyncio.Task[None]] = []

    async def evict_forever() -> None:
        while True:
            for lease in table.evict_expired():
                log.info(
                    "evicted an instance whose lease expired",
                    evicted_service=lease.service,
                    evicted_instance=lease.instance_id,
                )
            await asyncio.sleep(EVICTION_INTERVAL_S)

    @runtime.on_startup
    async def start_sweeper() -> None:
        sweeper.append(asyncio.create_task(evict_forever()))

    @runtime.on_shutdown
    async def stop_sweeper() -> None:
        for task in sweeper:
            task.cancel()

    return runtime.build_app(registry_router(table))
