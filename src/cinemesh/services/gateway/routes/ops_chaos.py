"""/api/v1/ops/chaos: the ops page's chaos buttons (kill, revive, slow, fail), for admins, on a
local platform only. The gateway reaches the supervisor through its state file and sets
faults on each instance's `/internal/faults`, both with the service credential. With DNS
discovery (Kubernetes) none of these routes exist."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import aiohttp
import orjson
from fastapi import APIRouter, Path
from pydantic import Field

from cinemesh.platform.bodies import RequestBody
from cinemesh.platform.deps import provided
from cinemesh.platform.errors import ApiError, not_found
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.deps import AdminMember
from cinemesh.services.gateway.links import link, links

SERVICE_PATTERN = r"^[a-z][a-z0-9-]*$"
ServicePath = Path(min_length=1, max_length=40, pattern=SERVICE_PATTERN)
CONTROL_TIMEOUT_S = 10.0
# Breaking the gateway would break the page that holds the buttons.
PROTECTED = {"gateway"}


class KillBody(RequestBody):
    service: str = Field(min_length=1, max_length=40, pattern=SERVICE_PATTERN)
    instance: int | None = Field(None, ge=0, le=100)
    hold_s: float = Field(60.0, ge=0, le=3600)


class ReviveBody(RequestBody):
    service: str = Field(min_length=1, max_length=40, pattern=SERVICE_PATTERN)


class FaultBody(RequestBody):
    latency_ms: float = Field(0, ge=0, le=60_000)
    error_rate: float = Field(0, ge=0, le=1)
    abort_rate: float = Field(0, ge=0, le=1)


class Chaos:
    """The supervisor's control API and the instances' fault switches."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.runtime = gateway.runtime

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.runtime.clients.session

    def control_url(self) -> str:
        state_file = self.runtime.data_dir / "run" / "supervisor.json"
        try:
            state = orjson.loads(state_file.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            raise not_found("chaos control (no local supervisor)") from None
        return str(state["control_url"])

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        try:
            async with self.session.request(
                method,
                self.control_url() + path,
                json=body,
                headers=self.runtime.auth_headers,
                timeout=aiohttp.ClientTimeout(total=CONTROL_TIMEOUT_S),
            ) as response:
                answer = await response.json(content_type=None)
                if response.status == 404:
                    raise not_found(f"service {body.get('service') if body else ''}".strip())
                if response.status >= 400:
                    raise ApiError(502, "SUPERVISOR_REFUSED", f"the supervisor refused: {answer}")
                return answer
        except (aiohttp.ClientError, TimeoutError):
            raise ApiError(503, "SUPERVISOR_UNAVAILABLE", "the supervisor did not answer") from None

    async def instance_urls(self, service: str) -> list[str]:
        instances = await self.runtime.discovery.instances(service)
        return [inst.url for inst in instances]

    async def faults(self, service: str, spec: dict[str, float] | None) -> list[dict[str, Any]]:
        """Set (or clear, with None) the faults of every instance of `service`."""
        urls = await self.instance_urls(service)
        if not urls:
            raise not_found(f"a running instance of {service}")
        return list(await asyncio.gather(*(self._fault(url, spec) for url in urls)))

    async def _fault(self, url: str, spec: dict[str, float] | None) -> dict[str, Any]:
        try:
            async with self.session.request(
                "PUT" if spec else "DELETE",
                url + "/internal/faults",
                json=spec,
                headers=self.runtime.auth_headers,
                timeout=aiohttp.ClientTimeout(total=CONTROL_TIMEOUT_S),
            ) as response:
                faults = await response.json(content_type=None) if response.status < 400 else None
                return {"url": url, "ok": response.status < 400, "faults": faults}
        except (aiohttp.ClientError, TimeoutError):
            return {"url": url, "ok": False, "faults": None}

    async def overview(self) -> dict[str, Any]:
        status = await self.control("GET", "/status")
        return {"enabled": True, "instances": status.get("instances", [])}


def refuse_protected(service: str) -> None:
    if service in PROTECTED:
        raise ApiError(
            422, "PROTECTED_SERVICE", f"{service} runs the ops page itself; break it from the CLI"
        )


ChaosDep = Annotated[Chaos, provided(Chaos)]
# Included by app.py unless discovery is DNS (Kubernetes): there the routes do not exist (404).
router = APIRouter(prefix="/api/v1/ops/chaos", tags=["ops"])


@router.get("")
async def overview(chaos: ChaosDep, _admin: AdminMember) -> dict[str, Any]:
    """Whether chaos is enabled here, and every instance the supervisor runs."""
    return await chaos.overview()


@router.post(
    "/kill",
    responses=links(
        200,
        {
            "Revive": link(
                "POST /api/v1/ops/chaos/revive", body={"service": "$request.body#/service"}
            )
        },
    ),
)
async def kill(body: KillBody, chaos: ChaosDep, _admin: AdminMember) -> Any:
    """Kill a service's instances (or one); the supervisor restarts them after `hold_s`."""
    refuse_protected(body.service)
    return await chaos.control("POST", "/kill", body.model_dump())


@router.post("/revive")
async def revive(body: ReviveBody, chaos: ChaosDep, _admin: AdminMember) -> Any:
    return await chaos.control("POST", "/revive", body.model_dump())


@router.put(
    "/faults/{service}",
    responses=links(
        200,
        {
            "ClearFaults": link(
                "DELETE /api/v1/ops/chaos/faults/{service}",
                {"path.service": "$request.path.service"},
            )
        },
    ),
)
async def set_faults(
    body: FaultBody, chaos: ChaosDep, _admin: AdminMember, service: str = ServicePath
) -> dict[str, Any]:
    """Added latency, an error rate or a blackhole on every instance of a service."""
    refuse_protected(service)
    return {"service": service, "instances": await chaos.faults(service, body.model_dump())}


@router.delete("/faults/{service}")
async def clear_faults(
    chaos: ChaosDep, _admin: AdminMember, service: str = ServicePath
) -> dict[str, Any]:
    return {"service": service, "instances": await chaos.faults(service, None)}
