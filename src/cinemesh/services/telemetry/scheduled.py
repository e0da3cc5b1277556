"""What telemetry does on a timer: recompute the QoE window every few seconds, and forget
beacons past retention about once a minute. Every instance runs both; both are idempotent."""

from __future__ import annotations

import asyncio
import time

from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.telemetry.qoe import QoeMetrics, QoeWindow
from cinemesh.services.telemetry.service import Telemetry
from cinemesh.services.telemetry.settings import TelemetrySettings

log = logger("cinemesh.telemetry")
PRUNE_EVERY_S = 60.0


def schedule(
    runtime: ServiceRuntime,
    telemetry: Telemetry,
    window: QoeWindow,
    settings: TelemetrySettings,
) -> None:
    metrics = QoeMetrics(window, max_titles=settings.metric_titles)
    tasks: list[asyncio.Task[None]] = []

    async def keep_fresh() -> None:
        pruned_at = 0.0
        while True:
            try:
                if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                    async with runtime.database.transaction() as session:
                        await telemetry.prune(
                            session, retention_ms=int(settings.retention_s * 1000)
                        )
                    pruned_at = time.monotonic()
                await window.refresh()
            except Exception as exc:  # the database is away: keep the last figures, try again
                log.warning(
                    "the QoE window was not refreshed", error=str(exc) or type(exc).__name__
                )
            await asyncio.sleep(settings.refresh_s)

    async def start() -> None:
        metrics.register()
        tasks.append(asyncio.create_task(keep_fresh(), name="qoe-window"))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        metrics.unregister()

    runtime.on_startup(start)
    runtime.on_shutdown(stop)
