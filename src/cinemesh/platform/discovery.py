"""Finding instances: the registry (Eureka's job) locally, Kubernetes DNS at scale; plus the
client-side balancer that picks one, with outlier ejection (Ribbon's job)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from cinemesh.platform.observability import logger

log = logger("cinemesh.discovery")

HEARTBEAT_INTERVAL_S = 2.0
LEASE_S = 6.0
CACHE_TTL_S = 2.0


@dataclass(frozen=True)
class Instance:
    service: str
    instance_id: str
    url: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class Discovery(Protocol):
    async def instances(self, service: str) -> list[Instance]: ...

    async def all_instances(self) -> dict[str, list[Instance]]: ...


class DnsDiscovery:
    """Kubernetes: one stable Service name per service; kube-proxy balances behind it."""

    def __init__(self, *, port: int = 8000, suffix: str = "") -> None:
        self.port = port
        self.suffix = suffix

    async def instances(self, service: str) -> list[Instance]:
        return [Instance(service, service, f"http://{service}{self.suffix}:{self.port}")]

    async def all_instances(self) -> dict[str, list[Instance]]:
        return {}


class RegistryDiscovery:
    """Asks the registry, caches each answer briefly, and keeps the last good list if it fails."""

    def __init__(self, registry_urls: list[str], *, auth_headers: dict[str, str]) -> None:
        self.registry_urls = registry_urls
        self.auth_headers = auth_headers
        self._cache: dict[str, tuple[float, list[Instance]]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=1.0), headers=self.auth_headers
            )
        return self._session

    async def instances(self, service: str) -> list[Instance]:
        cached = self._cache.get(service)
        if cached and time.monotonic() - cached[0] < CACHE_TTL_S:
            return cached[1]
        lock = self._locks.setdefault(service, asyncio.Lock())
        async with lock:
            cached = self._cache.get(service)
            if cached and time.monotonic() - cached[0] < CACHE_TTL_S:
                return cached[1]
            fresh = await self._fetch(f"/v1/services/{service}")
            if fresh is None:
                return cached[1] if cached else []
            found = [_instance(item) for item in fresh]
            self._cache[service] = (time.monotonic(), found)
            return found

    async def all_instances(self) -> dict[str, list[Instance]]:
        body = await self._fetch("/v1/services")
        if body is None:
            return {}
        return {name: [_instance(i) for i in items] for name, items in body.items()}

    async def _fetch(self, path: str) -> Any:
        for base in self.registry_urls:
            try:
                async with self._http().get(base + path) as resp:
                    if resp.status == 200:
                        return await resp.json()
            except (aiohttp.ClientError, TimeoutError):
                continue
        return None

    async def register_forever(self, me: Instance) -> None:
        """Register with every registry peer and keep the lease alive until cancelled."""
        body = {
            "service": me.service,
            "instance_id": me.instance_id,
            "url": me.url,
            "metadata": me.metadata,
            "lease_s": LEASE_S,
        }
        while True:
            for base in self.registry_urls:
                try:
                    async with self._http().put(
                        f"{base}/v1/instances/{me.service}/{me.instance_id}", json=body
                    ) as resp:
                        if resp.status >= 400:
                            log.warning("registry refused registration", status=resp.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    log.debug("registry unreachable", registry=base, error=str(exc))
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)

    async def deregister(self, me: Instance) -> None:
        for base in self.registry_urls:
            try:
                async with self._http().delete(
                    f"{base}/v1/instances/{me.service}/{me.instance_id}"
                ):
                    pass
            except (aiohttp.ClientError, TimeoutError):
                continue

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _instance(item: dict[str, Any]) -> Instance:
    return Instance(item["service"], item["instance_id"], item["url"], item.get("metadata", {}))


def _weight(inst: Instance) -> float:
    try:
        return max(0.0, float(inst.metadata.get("weight", 1.0)))
    except (TypeError, ValueError):
        return 1.0


@dataclass
class _InstanceStats:
    outstanding: int = 0
    consecutive_failures: int = 0
    ejected_until: float = 0.0
    ejections: int = 0


class LoadBalancer:
    """Least outstanding requests over two random choices, skipping ejected outliers."""

    def __init__(
        self,
        *,
        failures_to_eject: int = 3,
        base_ejection_s: float = 5.0,
        max_ejected_fraction: float = 0.5,
    ) -> None:
        self.failures_to_eject = failures_to_eject
        self.base_ejection_s = base_ejection_s
        self.max_ejected_fraction = max_ejected_fraction
        self._stats: dict[str, _InstanceStats] = {}

    def _of(self, inst: Instance) -> _InstanceStats:
        return self._stats.setdefault(inst.instance_id, _InstanceStats())

    def pick(self, instances: list[Instance], *, avoid: set[str] | None = None) -> Instance:
        now = time.monotonic()
        healthy = [i for i in instances if self._of(i).ejected_until <= now]
        pool = [i for i in healthy if not avoid or i.instance_id not in avoid] or healthy
        if not pool:
            pool = instances  # everything ejected: better to try than to fail outright
        if len(pool) == 1:
            return pool[0]
        weights = [_weight(i) for i in pool] if "weight" in pool[0].metadata else []
        if sum(weights) > 0:  # a canary: the registry gives each version its share
            a, b = random.choices(pool, weights=weights, k=2)
        else:
            a, b = random.sample(pool, 2)
        return a if self._of(a).outstanding <= self._of(b).outstanding else b

    def started(self, inst: Instance) -> None:
        self._of(inst).outstanding += 1

    def finished(self, inst: Instance, *, success: bool, total: int) -> None:
        stats = self._of(inst)
        stats.outstanding = max(0, stats.outstanding - 1)
        if success:
            stats.consecutive_failures = 0
            return
        stats.consecutive_failures += 1
        if stats.consecutive_failures >= self.failures_to_eject and self._may_eject(total):
            stats.ejections += 1
            stats.ejected_until = time.monotonic() + self.base_ejection_s * min(stats.ejections, 6)
            stats.consecutive_failures = 0
            log.warning("ejecting an outlier instance", instance=inst.instance_id, url=inst.url)

    def _may_eject(self, total: int) -> bool:
        now = time.monotonic()
        ejected = sum(1 for s in self._stats.values() if s.ejected_until > now)
        return total > 1 and (ejected + 1) / total <= self.max_ejected_fraction

    def ejected(self) -> set[str]:
        now = time.monotonic()
        return {key for key, s in self._stats.items() if s.ejected_until > now}
