"""telemetry's internal API (`/v1`): beacons from the gateway on a member's behalf, and the
QoE window for the ops page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from cinemesh.platform.auth import Principal
from cinemesh.platform.db import Database
from cinemesh.platform.deps import Db, Who, provided
from cinemesh.services.telemetry.qoe import QoeWindow
from cinemesh.services.telemetry.schemas import BeaconBatch, BeaconsTaken
from cinemesh.services.telemetry.service import Taken, Telemetry

TelemetryDep = Annotated[Telemetry, provided(Telemetry)]
Window = Annotated[QoeWindow, provided(QoeWindow)]
router = APIRouter(prefix="/v1")


@router.post("/beacons", status_code=202, response_model=BeaconsTaken)
async def take_beacons(
    body: BeaconBatch, who: Who, db: Db, telemetry: TelemetryDep
) -> BeaconsTaken:
    """The caller's beacons: 403 SESSION_NOT_YOURS, 404 SESSION_UNKNOWN (not heard of yet)."""
    taken = await take(db, telemetry, who=who, batch=body)
    taken.count()
    return BeaconsTaken(accepted=taken.stored, duplicates=taken.duplicates)


async def take(db: Database, telemetry: Telemetry, *, who: Principal, batch: BeaconBatch) -> Taken:
    try:
        async with db.transaction() as session:
            return await telemetry.take(session, who=who, beacons=batch.beacons)
    except IntegrityError:  # another instance stored one of them a moment ago: skip it now
        async with db.transaction() as session:
            return await telemetry.take(session, who=who, beacons=batch.beacons)


@router.get("/qoe")
async def qoe(window: Window) -> dict[str, Any]:
    """Play delay, rebuffer ratio, bitrate and error rate per title, edge and plan."""
    return window.latest
