"""identity's settings, from `CINEMESH_IDENTITY_*`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_IDENTITY_", extra="ignore")

    signing_key_pem: str = Field(default="", repr=False)
    access_ttl_s: int = Field(default=15 * 60, ge=30, le=3600)
    attempts_per_email: int = Field(default=5, ge=1)
    email_window_s: int = Field(default=15 * 60, ge=1)
    attempts_per_address: int = Field(default=30, ge=1)
    address_window_s: int = Field(default=10 * 60, ge=1)
