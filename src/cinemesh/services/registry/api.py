"""Registry API: register/renew, deregister, list. Writes need the service credential (the
chassis checks it on every request to a non-public service)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cinemesh.platform.errors import not_found
from cinemesh.services.registry.service import LeaseTable

NAME = r"^[a-z][a-z0-9-]{0,62}$"


class Registration(BaseModel):
    service: str = Field(pattern=NAME)
    instance_id: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^https?://", max_length=500)
    metadata: dict[str, Any] = {}
    lease_s: float = Field(6.0, gt=0, le=300)


def registry_router(table: LeaseTable) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.put("/instances/{service}/{instance_id}")
    async def register(service: str, instance_id: str, body: Registration) -> dict[str, Any]:
        created = table.renew(
            service=service,
            instance_id=instance_id,
            url=body.url,
            metadata=body.metadata,
            lease_s=body.lease_s,
        )
        return {"registered": created, "lease_s": body.lease_s}

    @router.delete("/instances/{service}/{instance_id}", status_code=204)
    async def deregister(service: str, instance_id: str) -> None:
        if not table.remove(service=service, instance_id=instance_id):
            raise not_found("instance")

    @router.get("/services")
    async def services() -> dict[str, list[dict[str, Any]]]:
        return {
            name: [lease.view() for lease in leases] for name, leases in table.services().items()
        }

    @router.get("/services/{service}")
    async def instances(service: str) -> list[dict[str, Any]]:
        return [lease.view() for lease in table.of(service)]

    return router
