"""catalog's settings, from `CINEMESH_CATALOG_*`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_CATALOG_", extra="ignore")
