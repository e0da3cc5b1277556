"""profiles' settings, from `CINEMESH_PROFILES_*`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class ProfilesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_PROFILES_", extra="ignore")
