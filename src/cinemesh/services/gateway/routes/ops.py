"""/api/v1/ops: every service, its instances and their health, and the gateway's view of
calls to each (breaker state, request rate, error rate, latency): the Hystrix dashboard's data."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from fastapi import APIRouter

from cinemesh.platform.discovery import Instance
from cinemesh.services.gateway.core import Gateway

PROBE_TIMEOUT_S = 0.5
PROBE_CACHE_S = 2.0


class InstanceHealth:
    """Probes `/health/ready` of each instance, at most every PROBE_CACHE_S."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._seen: dict[str, tuple[float, str]] = {}

    async def of(self, inst: Instance) -> str:
        cached = self._seen.get(inst.url)
        if cached and time.monotonic() - cached[0] < PROBE_CACHE_S:
            return cached[1]
        session = self.gateway.runtime.clients.session
        try:
            async with session.get(
                inst.url + "/health/ready", timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
            ) as resp:
                health = "healthy" if resp.status == 200 else "unhealthy"
        except (aiohttp.ClientError, TimeoutError):
            health = "unreachable"
        self._seen[inst.url] = (time.monotonic(), health)
        return health


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/api/v1/ops", tags=["ops"])
    probes = InstanceHealth(gateway)

    @api.get("/services")
    async def services() -> dict[str, Any]:
        """Each service, its instances with health, and the gateway's calls to it."""
        runtime = gateway.runtime
        registered = await runtime.discovery.all_instances()
        calls = runtime.clients.describe()
        names = sorted(set(registered) | set(calls))
        instances = [inst for name in names for inst in registered.get(name, [])]
        healths = await asyncio.gather(*(probes.of(inst) for inst in instances))
        health_of = {inst.instance_id: h for inst, h in zip(instances, healths, strict=True)}
        return {
            "services": [
                {
                    "name": name,
                    "instances": [
                        {
                            "id": inst.instance_id,
                            "url": inst.url,
                            "health": health_of[inst.instance_id],
                            "pid": inst.metadata.get("pid"),
                        }
                        for inst in registered.get(name, [])
                    ],
                    "healthy_instances": sum(
                        health_of[i.instance_id] == "healthy" for i in registered.get(name, [])
                    ),
                    "calls": calls.get(name),
                }
                for name in names
            ],
            "discovery": runtime.settings.discovery,
        }

    return api
