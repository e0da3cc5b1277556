"""edge's settings: the key media URLs are signed with, from `CINEMESH_EDGE_KEY`, the variable
playback signs them with (unset, both use the key in the data folder: `load_edge_key`); and,
when the media store is S3, this instance's cache of the origin (`CINEMESH_EDGE_CACHE_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cinemesh.platform.settings import ServiceSettings

GIB = 1024**3


class EdgeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_", extra="ignore")

    edge_key: str = ""
    # the most bytes the cache keeps on disk, and where (default: <data_dir>/edge-cache/<id>)
    edge_cache_bytes: int = Field(2 * GIB, ge=1024**2)
    edge_cache_dir: Path | None = None
