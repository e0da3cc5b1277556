"""telemetry's settings, from `CINEMESH_TELEMETRY_*`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class TelemetrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_TELEMETRY_", extra="ignore")

    # the aggregates cover the beacons received in the last window_s, recomputed every refresh_s
    window_s: float = Field(600.0, ge=10, le=24 * 3600)
    refresh_s: float = Field(5.0, ge=0.1, le=300)
    # beacons older than this are deleted; known sessions a day after their last event
    retention_s: float = Field(24 * 3600.0, ge=60)
    # titles named in /metrics (the busiest first): each is a set of Prometheus series
    metric_titles: int = Field(50, ge=0, le=1000)
