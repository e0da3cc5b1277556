"""playback's API payloads."""

from __future__ import annotations

from pydantic import Field

from cinemesh.platform.bodies import RequestBody


class StartRequest(RequestBody):
    profile_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    title_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    episode_id: str | None = Field(None, min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")
    session_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")  # makes retries safe


class Heartbeat(RequestBody):
    position_s: float = Field(ge=0, le=24 * 3600)
