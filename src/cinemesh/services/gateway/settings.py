"""The gateway's own settings (`CINEMESH_GATEWAY_*`)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_GATEWAY_", extra="ignore")

    rate_per_ip: float = 200.0
    burst_per_ip: float = 400.0
    rate_per_account: float = 100.0
    burst_per_account: float = 200.0
    # The load balancers and ingress in front of the gateway, as CIDRs (comma-separated):
    # X-Forwarded-For is believed from them only (ratelimit.py's ClientAddress).
    trusted_proxies: Annotated[list[str], NoDecode] = []
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

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def networks(cls, value: object) -> object:
        """`10.0.0.0/8, 192.168.1.7` as a list; each must be an address or a network."""
        cidrs = value.split(",") if isinstance(value, str) else value
        if not isinstance(cidrs, list):
            return value
        found = [str(cidr).strip() for cidr in cidrs if str(cidr).strip()]
        for cidr in found:
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
        return found
