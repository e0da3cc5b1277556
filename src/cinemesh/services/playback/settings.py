"""playback's settings, from `CINEMESH_PLAYBACK_*`, and the edge signing key from `CINEMESH_EDGE_KEY`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class PlaybackSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_PLAYBACK_", extra="ignore")

    lease_s: float = Field(60.0, ge=1, le=3600)
    manifest_ttl_s: int = Field(6 * 3600, ge=60, le=7 * 24 * 3600)
    edge_urls: list[str] = []  # at scale: the public edge addresses, best first
    resume_deadline_s: float = 0.25
    # where a play starts with nothing measured on this profile and device: a low rung, whose
    # first segment loads in a fraction of a second on any home link; ABR climbs from there
    first_play_bps: int = Field(500_000, ge=10_000, le=1_000_000_000)
    # how long a start may wait for the files it sends with the session (start_files.py)
    start_files_deadline_s: float = Field(0.25, ge=0, le=5)


class EdgeKeySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_", extra="ignore")

    edge_key: str = ""
