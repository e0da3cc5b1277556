"""Registry API: register/renew, deregister, list. Writes need the service credential (the
chassis checks it on every request to a non-public service)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from cinemesh.platform.deps import provided
from cinemesh.platform.errors import not_found
from cinemesh.services.registry.schemas import Registration, VersionWeights
from cinemesh.services.registry.service import LeaseTable

Leases = Annotated[LeaseTable, provided(LeaseTable)]
router = APIRouter(prefix="/v1")


@router.put("/instances/{service}/{instance_id}")
async def register(
    service: str, instance_id: str, body: Registration, table: Leases
) -> dict[str, Any]:
    created = table.renew(
        service=service,
        instance_id=instance_id,
        url=body.url,
        metadata=body.metadata,
        lease_s=body.lease_s,
    )
    return {"registered": created, "lease_s": body.lease_s}


@router.delete("/instances/{service}/{instance_id}", status_code=204)
async def deregister(service: str, instance_id: str, table: Leases) -> None:
    if not table.remove(service=service, instance_id=instance_id):
        raise not_found("instance")


@router.get("/services")
async def services(table: Leases) -> dict[str, list[dict[str, Any]]]:
    return table.services()


@router.get("/services/{service}")
async def instances(service: str, table: Leases) -> list[dict[str, Any]]:
    return table.listing(service)


@router.put("/weights/{service}")
async def set_weights(service: str, body: VersionWeights, table: Leases) -> dict[str, Any]:
    """Steer calls to `service` by version (a canary's share); `{}` ends the steering."""
    table.set_weights(service, body.weights)
    return {"service": service, "weights": table.weights(service)}


@router.get("/weights/{service}")
async def weights(service: str, table: Leases) -> dict[str, Any]:
    return {"service": service, "weights": table.weights(service)}
