"""The gateway's own settings (`CINEMESH_GATEWAY_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_GATEWAY_", extra="ignore")

    rate_per_ip: float = 200.0
    burst_per_ip: float = 400.0
    rate_per_account: float = 100.0
    burst_per_account: float = 200.0
    trust_forwarded_for: bool = False
    home_deadline_ms: int = 300
    dependency_deadline_ms: int = 200
    # How long a profile's whole home page may be reused under load (0: build every page).
    home_page_fresh_s: float = 1.0
    # How long what history, profiles and the recommender answered for a profile is kept
    # without a notice that it changed (0: ask them for every page), and how recently the
    # service must have answered this instance for it to be used (kept_parts.py).
    kept_reads_s: float = Field(300.0, ge=0)
    answered_within_s: float = Field(0.5, ge=0)
    fallback_ttl_s: float = 24 * 3600.0
    max_upload_bytes: int = 2 * 1024**3
