"""telemetry's API payloads (the beacons themselves are a published schema, in
`cinemesh.contracts.telemetry`, which the gateway checks too)."""

from __future__ import annotations

from pydantic import BaseModel

from cinemesh.contracts.telemetry import BeaconBatch

__all__ = ["BeaconBatch", "BeaconsTaken"]


class BeaconsTaken(BaseModel):
    accepted: int
    duplicates: int
