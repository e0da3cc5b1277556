"""history's settings, from `CINEMESH_HISTORY_*`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class HistorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_HISTORY_", extra="ignore")
