"""playback's API payloads."""

from __future__ import annotations

from pydantic import Field

from cinemesh.contracts.rows import ROW_ID_MAX, ROW_ID_PATTERN
from cinemesh.platform.bodies import RequestBody


class StartRequest(RequestBody):
    profile_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    title_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    episode_id: str | None = Field(None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")
    session_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")  # makes retries safe
    device: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    # the home row the member pressed play from, carried to playback.started
    row: str | None = Field(None, min_length=1, max_length=ROW_ID_MAX, pattern=ROW_ID_PATTERN)


class Heartbeat(RequestBody):
    position_s: float = Field(ge=0, le=24 * 3600)
    # the player's own estimate of the link (hls.js's bandwidth estimate), bits a second
    bandwidth_bps: int | None = Field(None, ge=1_000, le=10_000_000_000)
