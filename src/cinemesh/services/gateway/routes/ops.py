"""/api/v1/ops: every service, its instances and their health, and the gateway tier's view of
calls to each (breaker state, request rate, error rate, latency): the Hystrix dashboard's data.
Each instance's concurrency limit, requests in flight and requests shed by priority come with
its readiness probe, and are summed per service.

Whichever gateway instance answers asks its peers (found in the registry) for their own view,
with a short deadline, and combines them, so the page does not flip between instances as the
load balancer alternates: rates add up, the error rate is weighted by requests, latency is the
slowest instance's and the breaker the worst state any instance has. Each instance's own view
stays under `calls_by_gateway`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import orjson
from fastapi import APIRouter

from cinemesh.platform.deps import provided
from cinemesh.platform.discovery import Instance
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.deps import GatewayDep

PROBE_TIMEOUT_S = 0.5
PROBE_CACHE_S = 2.0
PEER_TIMEOUT_S = 0.5
BREAKER_SEVERITY = {"closed": 0, "half_open": 1, "open": 2}


class InstanceHealth:
    """Probes `/health/ready` of each instance, at most every PROBE_CACHE_S."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._seen: dict[str, tuple[float, str]] = {}
        self._concurrency: dict[str, dict[str, Any]] = {}
        self._caches: dict[str, dict[str, Any]] = {}

    async def of(self, inst: Instance) -> str:
        cached = self._seen.get(inst.url)
        if cached and time.monotonic() - cached[0] < PROBE_CACHE_S:
            return cached[1]
        session = self.gateway.runtime.clients.session
        health, body = "unreachable", None
        try:
            async with session.get(
                inst.url + "/health/ready", timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
            ) as resp:
                health = "healthy" if resp.status == 200 else "unhealthy"
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass  # the health as far as the probe got
        concurrency = body.get("concurrency") if isinstance(body, dict) else None
        self._seen[inst.url] = (time.monotonic(), health)
        if isinstance(concurrency, dict):
            self._concurrency[inst.url] = concurrency
        cache = body.get("cache") if isinstance(body, dict) else None
        if isinstance(cache, dict):
            self._caches[inst.url] = cache
        return health

    def concurrency_of(self, inst: Instance) -> dict[str, Any] | None:
        """The instance's limit, in flight and shed by priority, as its last probe said."""
        return self._concurrency.get(inst.url)

    def cache_of(self, inst: Instance) -> dict[str, Any] | None:
        """An edge's cache (hits, misses, bytes from cache and from origin) at its last probe."""
        return self._caches.get(inst.url)


Probes = Annotated[InstanceHealth, provided(InstanceHealth)]
router = APIRouter(tags=["ops"])


@router.get("/api/v1/ops/services")
async def services(gateway: GatewayDep, probes: Probes) -> dict[str, Any]:
    """Each service, its instances with health, and the gateway's calls to it."""
    runtime = gateway.runtime
    registered = await runtime.discovery.all_instances()
    views = await gateway_views(gateway, registered.get("gateway", []))
    by_gateway = {view["id"]: view["calls"] for view in views if view["calls"] is not None}
    calls = {
        name: combined([c[name] for c in by_gateway.values() if name in c])
        for name in {name for c in by_gateway.values() for name in c}
    }
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
                        "version": inst.metadata.get("version", ""),
                        "concurrency": probes.concurrency_of(inst),
                        "cache": probes.cache_of(inst),
                    }
                    for inst in registered.get(name, [])
                ],
                "concurrency": summed_concurrency(
                    [probes.concurrency_of(inst) for inst in registered.get(name, [])]
                ),
                "cache": summed_cache([probes.cache_of(i) for i in registered.get(name, [])]),
                "healthy_instances": sum(
                    health_of[i.instance_id] == "healthy" for i in registered.get(name, [])
                ),
                "versions": versions(registered.get(name, [])),
                "calls": calls.get(name),
                "calls_by_gateway": {
                    gateway_id: view[name]
                    for gateway_id, view in by_gateway.items()
                    if name in view
                },
            }
            for name in names
        ],
        "gateways": [{"id": view["id"], "answered": view["calls"] is not None} for view in views],
        "answered_by": runtime.instance_id,
        "discovery": runtime.settings.discovery,
        "deploys": await deploys(gateway),
    }


def versions(instances: list[Instance]) -> list[dict[str, Any]]:
    """Each release running, its instances, and its share of the calls: the registry's
    weights during a canary, else its share of the instances."""
    counts: dict[str, int] = {}
    weights: dict[str, float] = {}
    for inst in instances:
        version = str(inst.metadata.get("version", ""))
        counts[version] = counts.get(version, 0) + 1
        if "weight" in inst.metadata:
            weights[version] = weights.get(version, 0.0) + float(inst.metadata["weight"])
    total_weight = sum(weights.values())
    return [
        {
            "version": version,
            "instances": count,
            "traffic_share": round(
                weights.get(version, 0.0) / total_weight
                if total_weight
                else count / len(instances),
                3,
            ),
        }
        for version, count in sorted(counts.items())
    ]


def summed_concurrency(views: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """A service's limits, requests in flight and shed counts added over its instances (None
    when no instance has a limiter)."""
    known = [view for view in views if view]
    if not known:
        return None
    shed: dict[str, int] = {}
    for view in known:
        for priority, count in dict(view.get("shed", {})).items():
            shed[priority] = shed.get(priority, 0) + int(count)
    return {
        "limit": sum(int(view.get("limit", 0)) for view in known),
        "in_flight": sum(int(view.get("in_flight", 0)) for view in known),
        "shed": shed,
    }


CACHE_COUNTS = (
    "hits",
    "misses",
    "cache_bytes_served",
    "origin_bytes_served",
    "origin_fetches",
    "origin_bytes",
    "evictions",
    "bytes",
    "max_bytes",
    "objects",
)


def summed_cache(views: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The edge tier's caches as one: counts added, hit ratio and origin offload over the sums
    (None when no instance has a cache, as with files for media)."""
    known = [view for view in views if view]
    if not known:
        return None
    total = {name: sum(int(view.get(name) or 0) for view in known) for name in CACHE_COUNTS}
    asked = total["hits"] + total["misses"]
    served = total["cache_bytes_served"] + total["origin_bytes_served"]
    return {
        **total,
        "hit_ratio": round(total["hits"] / asked, 4) if asked else None,
        "offload": round(1 - total["origin_bytes"] / served, 4) if served else None,
    }


def supervisor_url(data_dir: Path) -> str | None:
    """The local supervisor's control API, from its state file (None: not a local platform)."""
    try:
        state = orjson.loads((data_dir / "run" / "supervisor.json").read_bytes())
        return str(state["control_url"])
    except (FileNotFoundError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


async def deploys(gateway: Gateway) -> dict[str, Any]:
    """Deploys the local supervisor runs or ran (none on Kubernetes: Argo Rollouts shows them)."""
    url = supervisor_url(gateway.runtime.data_dir)
    if url is None:
        return {}
    try:
        async with gateway.runtime.clients.session.get(
            url + "/deploys", timeout=aiohttp.ClientTimeout(total=PEER_TIMEOUT_S)
        ) as response:
            return dict(await response.json()) if response.status == 200 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return {}


@router.get("/internal/ops/local", include_in_schema=False)
async def local(gateway: GatewayDep) -> dict[str, Any]:
    """This instance's own calls, for its peers (service credential only: /internal)."""
    return {"id": gateway.runtime.instance_id, "calls": gateway.runtime.clients.describe()}


async def gateway_views(gateway: Gateway, peers: list[Instance]) -> list[dict[str, Any]]:
    """This instance's calls, and each registered peer's (None when it did not answer in time)."""
    runtime = gateway.runtime
    others = [peer for peer in peers if peer.instance_id != runtime.instance_id]
    answers = await asyncio.gather(*(peer_view(gateway, peer) for peer in others))
    return [
        {"id": runtime.instance_id, "calls": runtime.clients.describe()},
        *(
            {"id": peer.instance_id, "calls": calls}
            for peer, calls in zip(others, answers, strict=True)
        ),
    ]


async def peer_view(gateway: Gateway, peer: Instance) -> dict[str, Any] | None:
    session = gateway.runtime.clients.session
    try:
        async with session.get(
            peer.url + "/internal/ops/local",
            headers=gateway.runtime.auth_headers,
            timeout=aiohttp.ClientTimeout(total=PEER_TIMEOUT_S),
        ) as resp:
            if resp.status != 200:
                return None
            body = await resp.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    calls = body.get("calls") if isinstance(body, dict) else None
    return calls if isinstance(calls, dict) else None


def combined(views: list[dict[str, Any]]) -> dict[str, Any]:
    """One dependency's calls as the gateway tier sees them (module docstring)."""
    rate = sum(float(v.get("requests_per_s", 0.0)) for v in views)
    busy = [v for v in views if v.get("requests_per_s")] or views
    return {
        "breaker": max(
            (str(v.get("breaker", "closed")) for v in views),
            key=lambda state: BREAKER_SEVERITY.get(state, 0),
        ),
        "breaker_opened_times": sum(int(v.get("breaker_opened_times", 0)) for v in views),
        "in_flight": sum(int(v.get("in_flight", 0)) for v in views),
        "ejected_instances": sorted({i for v in views for i in v.get("ejected_instances", [])}),
        "requests_per_s": round(rate, 2),
        "error_rate": round(
            sum(
                float(v.get("error_rate", 0.0)) * float(v.get("requests_per_s", 0.0)) for v in views
            )
            / rate,
            4,
        )
        if rate
        else 0.0,
        "p50_ms": max(float(v.get("p50_ms", 0.0)) for v in busy),
        "p99_ms": max(float(v.get("p99_ms", 0.0)) for v in busy),
    }
