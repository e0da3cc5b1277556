"""edge's settings: the key media URLs are signed with, from `CINEMESH_EDGE_KEY`, the variable
playback signs them with (unset, both use the key in the data folder: `load_edge_key`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings


class EdgeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_", extra="ignore")

    edge_key: str = ""
